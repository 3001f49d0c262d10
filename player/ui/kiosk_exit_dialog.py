"""Kiosk mode's exit on the machine itself: the one-time code the console shows for this computer, or a staff
member's own sign-in; either is checked by the server (player/kiosk/exit_calls.py) before the window may close."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QFormLayout, QLineEdit, QVBoxLayout, QWidget

from player.kiosk.exit_calls import exit_as_staff, exit_with_code
from player.ui.widgets import button, label, set_message
from sync.error_catalogue import Problem, problem

if TYPE_CHECKING:
    from player.ui.tasks import TaskRunner
    from sync.client import InvigilClient
    from sync.kiosk_protocol import ExitAllowed

log = logging.getLogger(__name__)

TITLE = "Leave kiosk mode (staff)"
EXPLAIN = (
    "For staff only. Type the exit code the console shows for this computer (Room view: choose the student at this "
    "computer, then Exit code), or sign in here with your own staff account. The student's answers stay saved."
)


def exit_problem(exc: Exception) -> Problem:
    """The refusal's own sentence and number (wrong or expired code, too many tries, no server), else "failed"."""
    from sync.client import ClientError

    if isinstance(exc, ClientError):
        return exc.problem
    return problem("kiosk.exit_failed", str(exc) or type(exc).__name__)


class KioskExitDialog(QDialog):
    """Emits `allowed(ExitAllowed)` once the server accepted the code or the staff sign-in; a refusal is shown as
    the server says it (wrong code, expired, too many tries, not this school's, wrong password)."""

    allowed = Signal(object)

    def __init__(
        self,
        parent: QWidget,
        *,
        machine_id: str,
        connect: Callable[[], InvigilClient],
        tasks: TaskRunner,
    ) -> None:
        super().__init__(parent)
        self._machine_id = machine_id
        self._connect = connect
        self._tasks = tasks
        self._busy = False
        self.setWindowTitle(TITLE)
        self.setAccessibleName(TITLE)
        self.setModal(True)
        self.setMinimumWidth(560)
        self.heading = label(TITLE, name="subtitle")
        self.explain = label(EXPLAIN, accessible="What this is")
        self.code_edit = QLineEdit()
        self.code_edit.setAccessibleName("Exit code")
        self.code_edit.setPlaceholderText("8 digits, e.g. 4821 0937")
        self.code_edit.setMaxLength(20)
        self.code_button = button("Exit with this &code", primary=True)
        self.username_edit = QLineEdit()
        self.username_edit.setAccessibleName("Staff username")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setAccessibleName("Staff password")
        self.sign_in_button = button("Sign in and e&xit")
        self.cancel_button = button("Cancel")
        self.message = label(name="error", accessible="No message")
        self.message.hide()

        codes = QFormLayout()
        self._row(codes, "Exit &code", self.code_edit)
        staff = QFormLayout()
        self._row(staff, "&Username", self.username_edit)
        self._row(staff, "&Password", self.password_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.explain)
        layout.addLayout(codes)
        layout.addWidget(self.code_button)
        layout.addWidget(label("Or sign in as staff on this computer:", accessible="Or sign in as staff"))
        layout.addLayout(staff)
        layout.addWidget(self.sign_in_button)
        layout.addWidget(self.message)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignRight)
        self.code_button.clicked.connect(self.submit_code)
        self.code_edit.returnPressed.connect(self.submit_code)
        self.sign_in_button.clicked.connect(self.submit_sign_in)
        self.password_edit.returnPressed.connect(self.submit_sign_in)
        self.username_edit.returnPressed.connect(self.password_edit.setFocus)
        self.cancel_button.clicked.connect(self.reject)
        self.code_edit.setFocus()

    @staticmethod
    def _row(form: QFormLayout, text: str, field: QWidget) -> None:
        caption = label(text, accessible=text.replace("&", ""))
        caption.setBuddy(field)
        form.addRow(caption, field)

    def submit_code(self) -> None:
        typed = self.code_edit.text().strip()
        if not typed:
            set_message(self.message, "Type the exit code the console shows for this computer.")
            self.code_edit.setFocus()
            return
        machine_id, connect = self._machine_id, self._connect

        def work() -> ExitAllowed:
            with connect() as client:
                return exit_with_code(client, machine_id, typed)

        self._send(work, clear=self.code_edit)

    def submit_sign_in(self) -> None:
        username = self.username_edit.text().strip()
        password = self.password_edit.text()
        if not username or not password:
            set_message(self.message, f"Enter {'your username' if not username else 'your password'}, then Sign in.")
            (self.username_edit if not username else self.password_edit).setFocus()
            return
        machine_id, connect = self._machine_id, self._connect

        def work() -> ExitAllowed:
            with connect() as client:
                return exit_as_staff(client, username, password, machine_id)

        self._send(work, clear=self.password_edit)

    def _send(self, work: Callable[[], ExitAllowed], *, clear: QLineEdit) -> None:
        if self._busy:
            return
        self._busy = True
        for widget in (self.code_button, self.sign_in_button):
            widget.setEnabled(False)
        set_message(self.message, "Checking with the server…")

        def done(reply: ExitAllowed) -> None:
            self._settle(clear)
            log.info("Kiosk exit allowed by the server (%s, %s)", reply.by, reply.staff)
            self.allowed.emit(reply)
            self.accept()

        def failed(exc: Exception) -> None:
            self._settle(clear)
            # The client's errors are sentences to act on: wrong or expired code, too many tries, wrong password.
            set_message(self.message, exit_problem(exc))
            log.info("Kiosk exit refused: %s", exc)
            clear.setFocus()

        self._tasks.run(work, on_done=done, on_error=failed)

    def _settle(self, clear: QLineEdit) -> None:
        self._busy = False
        clear.clear()
        for widget in (self.code_button, self.sign_in_button):
            widget.setEnabled(True)
