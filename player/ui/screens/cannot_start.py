"""What the window shows when the player cannot start (a bad config, a data folder it cannot write, a damaged
journal): the reason with its catalogue number, where the log is, and Quit. Started from a desktop entry or at
log-in, the window is the only place anyone sees it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QWidget

from player.ui.widgets import button, centred_column, label, message_number, set_message
from sync.error_catalogue import Problem

TITLE = "Invigil cannot start"
QUIT = "Quit"
NO_LOG = "It could not be written to a log file on this computer."
WHAT_TO_DO = 'Tell IT: they can run "invigil doctor" on this computer to check its settings and folders.'


def log_note(log_file: Path | None) -> str:
    return f"This message is also in the log file: {log_file}" if log_file is not None else NO_LOG


class CannotStartScreen(QWidget):
    """The reason (its number small under it, as every error shows one), the log file's path, and a Quit button
    (`quit_button`, which the app connects to closing the window)."""

    def __init__(self, problem: Problem, *, log_file: Path | None, parent: QWidget | None = None) -> None:
        from PySide6.QtCore import Qt  # after the first paint: start-up got this far

        super().__init__(parent)
        self.setAccessibleName(TITLE)
        self.heading = label(TITLE, name="title")
        self.reason = label(name="error")
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_file = label(log_note(log_file))
        self.log_file.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.what_to_do = label(WHAT_TO_DO)
        self.quit_button = button(QUIT, primary=True, accessible="Quit Invigil")
        layout = centred_column(self)
        layout.addStretch(1)
        for widget in (self.heading, self.reason, self.log_file, self.what_to_do):
            layout.addWidget(widget)
        set_message(self.reason, problem)  # once in the layout: its number goes just under it, small and grey
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.quit_button)
        layout.addLayout(row)
        layout.addStretch(2)

    def reason_text(self) -> str:
        return self.reason.text()

    def reason_number(self) -> str:
        """The number shown under the reason, as a person reads it off the screen."""
        return message_number(self.reason)
