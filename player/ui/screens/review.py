"""Before ending a section: which questions are unanswered or flagged, and a final, confirmed end."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from player.session_events import ReviewEntry
from player.ui.widgets import button, label, set_message

_INDEX = Qt.ItemDataRole.UserRole


def describe(entry: ReviewEntry) -> str:
    parts = ["answered" if entry.answered else "NOT ANSWERED"]
    if entry.flagged:
        parts.append("flagged for review")
    return f"Question {entry.number}: {', '.join(parts)}"


class ReviewScreen(QWidget):
    go_to = Signal(int)  # 0-based index within the section
    back = Signal()
    end_confirmed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = label("Check your answers", name="title")
        self.summary = label(name="subtitle")
        self.entries = QListWidget()
        self.entries.setAccessibleName("Questions in this section; press Enter to go to one")
        self.entries.itemActivated.connect(self._activated)
        self.back_button = button("&Back to the questions")
        self.end_button = button("&End section", primary=True)
        self.confirm_text = label(name="banner")
        self.confirm_button = button("Yes, end the section", primary=True)
        self.cancel_button = button("No, go back")
        self.back_button.clicked.connect(self.back)
        self.end_button.clicked.connect(lambda: self._ask(True))
        self.cancel_button.clicked.connect(lambda: self._ask(False))
        self.confirm_button.clicked.connect(self.end_confirmed)
        row = QHBoxLayout()
        row.addWidget(self.back_button)
        row.addStretch(1)
        row.addWidget(self.end_button)
        confirm_row = QHBoxLayout()
        confirm_row.addWidget(self.confirm_button)
        confirm_row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        for widget in (self.heading, self.summary, self.entries):
            layout.addWidget(widget)
        layout.addLayout(row)
        layout.addWidget(self.confirm_text)
        layout.addLayout(confirm_row)
        self._last = False

    def show_entries(self, entries: list[ReviewEntry], *, last_section: bool) -> None:
        self._last = last_section
        self.entries.clear()
        for index, entry in enumerate(entries):
            row = QListWidgetItem(describe(entry))
            row.setData(_INDEX, index)
            self.entries.addItem(row)
        unanswered = sum(not e.answered for e in entries)
        flagged = sum(e.flagged for e in entries)
        summary = f"{unanswered} not answered, {flagged} flagged, out of {len(entries)} questions."
        self.summary.setText(summary)
        self.summary.setAccessibleName(summary)
        self.end_button.setText("&End the test" if last_section else "&End section")
        self.end_button.setAccessibleName(self.end_button.text().replace("&", ""))
        self._ask(False)
        self.entries.setCurrentRow(0)
        self.entries.setFocus()

    def _ask(self, asking: bool) -> None:
        what = "the test" if self._last else "this section"
        set_message(
            self.confirm_text,
            f"Ending {what} is final: you cannot come back to change your answers. End {what} now?" if asking else "",
        )
        self.confirm_button.setText("Yes, end the test" if self._last else "Yes, end the section")
        self.confirm_button.setAccessibleName(self.confirm_button.text())
        self.confirm_button.setVisible(asking)
        self.cancel_button.setVisible(asking)
        self.end_button.setEnabled(not asking)
        if asking:
            self.cancel_button.setFocus()  # the safe choice is the one Enter or Space would take

    def _activated(self, row: QListWidgetItem) -> None:
        self.go_to.emit(int(row.data(_INDEX)))
