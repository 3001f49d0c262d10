"""The end of the sitting: says where the answers are, then hands the computer back to an empty screen."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from player.ui.screens.common import button, centred_column, label

SAVED_HERE = "Your answers are saved on this computer and will be sent automatically."
SENT = "All your answers have been sent."


class FinishedScreen(QWidget):
    done = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = label("You have finished the test", name="title")
        self.delivery = label(SAVED_HERE, name="subtitle")
        self.hint = label("Choose Finished so the next student can use this computer.")
        self.finish_button = button("&Finished", primary=True)
        self.finish_button.clicked.connect(self.done)
        layout = centred_column(self)
        layout.addStretch(1)
        for widget in (self.heading, self.delivery, self.hint, self.finish_button):
            layout.addWidget(widget)
        layout.addStretch(2)

    def set_delivery_state(self, *, sent: bool) -> None:
        """The seam for the uploader: True once the server holds every answer of this sitting."""
        self.delivery.setText(SENT if sent else SAVED_HERE)
        self.delivery.setAccessibleName(self.delivery.text())
