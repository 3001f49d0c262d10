"""A section's start: its title, instructions and time, and a Start button."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from player.durations import duration_in_words
from player.ui.widgets import button, centred_column, label, set_message


class InstructionsScreen(QWidget):
    start = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice = label(name="banner")
        self.heading = label(name="title")
        self.body = label(accessible="Instructions")
        self.time = label()
        self.start_button = button("&Start this section", primary=True)
        self.start_button.clicked.connect(self.start)
        layout = centred_column(self)
        layout.addStretch(1)
        for widget in (self.notice, self.heading, self.body, self.time, self.start_button):
            layout.addWidget(widget)
        layout.addStretch(2)
        set_message(self.notice, "")

    def show_section(
        self, *, number: int, count: int, title: str, instructions: str, seconds: float, notice: str = ""
    ) -> None:
        set_message(self.notice, notice)
        self.heading.setText(f"Section {number} of {count}: {title}")
        self.heading.setAccessibleName(self.heading.text())
        self.body.setText(instructions)
        self.body.setAccessibleName(f"Instructions: {instructions}")
        self.time.setText(
            f"You have {duration_in_words(seconds)} for this section. The clock starts when you choose Start."
        )
        self.time.setAccessibleName(self.time.text())
        self.start_button.setFocus()
