"""The first screen: the student types the access code from their slip; an error shows its catalogue number
under it, and the footer the app's version (both small, for IT and support calls)."""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QWidget

from player.ui.widgets import button, centred_column, label, message_number, set_message
from sync import accesscode
from sync.error_catalogue import Problem, number_for
from sync.version import VERSION

log = logging.getLogger(__name__)


class AccessCodeScreen(QWidget):
    """Emits `submitted` with the canonical code; a code that cannot be real never leaves this screen."""

    submitted = Signal(str)
    status_changed = Signal(str)  # each busy message as it is shown (login, then download progress)
    staff_requested = Signal()
    """The "Staff sign in" link: the app's owner opens the console; this screen knows nothing of it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = label("Type your access code", name="title")
        self.hint = label(f"It is on your slip: {accesscode.CODE_LENGTH} letters and digits, like ABCD-1234.")
        self.code_edit = QLineEdit()
        self.code_edit.setAccessibleName("Access code")
        self.code_edit.setPlaceholderText("ABCD-1234")
        self.code_edit.setMaxLength(40)
        self.code_edit.returnPressed.connect(self._submit)
        self.start_button = button("Start", primary=True)
        self.start_button.clicked.connect(self._submit)
        self.status = label(name="status")
        self.error = label(name="error")
        set_message(self.status, "")
        set_message(self.error, "")
        self.staff_link = button("Staff sign in", accessible="Staff sign in")
        self.staff_link.setObjectName("link")
        self.staff_link.setFlat(True)
        self.staff_link.clicked.connect(self.staff_requested)
        layout = centred_column(self)
        layout.addStretch(1)
        for widget in (self.heading, self.hint, self.code_edit, self.start_button, self.status, self.error):
            layout.addWidget(widget)
        layout.addStretch(2)
        # The version, for IT and support calls (which player is this?); quiet, it is not for the student.
        self.version = label(f"Invigil {VERSION}", name="version", accessible=f"Invigil version {VERSION}", wrap=False)
        link_row = QHBoxLayout()
        link_row.addWidget(self.version)
        link_row.addStretch(1)
        link_row.addWidget(self.staff_link)
        layout.addLayout(link_row)
        self.setTabOrder(self.code_edit, self.start_button)
        self.setTabOrder(self.start_button, self.staff_link)

    def _submit(self) -> None:
        if not self.code_edit.isEnabled():
            return
        try:
            code = accesscode.normalize(self.code_edit.text())
        except accesscode.AccessCodeFormatError as exc:
            # Caught here, before any network call: the student can fix a typo at once. The number is the server's
            # for the same refusal: it is the same cause.
            self.show_error(Problem(str(exc), number_for("api.malformed_code")))
            return
        set_message(self.error, "")
        self.submitted.emit(code)

    def show_error(self, problem: Problem) -> None:
        """`problem`'s sentence, its number small under it."""
        self.set_busy("")
        if not isinstance(problem, Problem):  # pragma: no cover - a caller not yet numbered still shows its words
            log.error("Unnumbered error shown on the access-code screen: %s", problem)
            problem = Problem(str(problem))
        set_message(self.error, problem)
        self.code_edit.setFocus()
        self.code_edit.selectAll()

    def set_busy(self, message: str) -> None:
        """While a login is running: the box is locked and `message` says what is happening."""
        busy = bool(message)
        self.code_edit.setEnabled(not busy)
        self.start_button.setEnabled(not busy)
        set_message(self.status, message)
        self.status_changed.emit(message)
        if busy:
            set_message(self.error, "")

    def error_text(self) -> str:
        return self.error.text() if self.error.isVisible() or self.error.text() else ""

    def error_number(self) -> str:
        """The number shown under the error ("" when none is)."""
        return message_number(self.error) if self.error_text() else ""

    def reset(self) -> None:
        """Back to an empty box: nothing of the previous student remains."""
        self.code_edit.clear()
        self.set_busy("")
        set_message(self.error, "")
        self.code_edit.setFocus()
