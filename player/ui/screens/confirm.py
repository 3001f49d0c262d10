"""'Is this you?': the student checks the name, test and date before anything starts."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from player.ui.widgets import button, centred_column, label


class ConfirmScreen(QWidget):
    confirmed = Signal()
    rejected = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = label("Is this you?", name="title")
        self.student = label(name="subtitle", accessible="Student name")
        self.assessment = label(accessible="Test")
        self.when = label(accessible="Date")
        self.yes_button = button("&Yes, this is me", primary=True)
        self.no_button = button("&No, this is not me")
        self.yes_button.clicked.connect(self.confirmed)
        self.no_button.clicked.connect(self.rejected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.yes_button)
        buttons.addWidget(self.no_button)
        layout = centred_column(self)
        layout.addStretch(1)
        for widget in (self.heading, self.student, self.assessment, self.when):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        layout.addStretch(2)
        self.setTabOrder(self.yes_button, self.no_button)

    def show_student(self, *, student: str, assessment: str, sitting: str, today: datetime) -> None:
        self.student.setText(student)
        self.student.setAccessibleName(f"Student name: {student}")
        self.assessment.setText(f"{assessment} ({sitting})")
        self.assessment.setAccessibleName(f"Test: {assessment}, {sitting}")
        day = f"{today:%A} {today.day} {today:%B %Y}"
        self.when.setText(day)
        self.when.setAccessibleName(f"Date: {day}")
        self.yes_button.setFocus()

    def clear(self) -> None:
        for widget in (self.student, self.assessment, self.when):
            widget.clear()
