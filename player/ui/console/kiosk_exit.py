"""The console's "Kiosk exit" tab: a one-time exit code for the computer a student of this sitting is at, to be
typed on that computer (its "Staff" button, or Ctrl+Alt+Shift+E) so it can leave kiosk mode (docs/kiosk.md).

The server makes the code (sync/server/kiosk_exit.py): for this school's computers only, once, for 15 minutes; a
newer code for the same computer replaces the older. The code is shown here once and never stored by the console."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from player.kiosk.exit_calls import request_exit_code
from player.ui.console.dates import local_time
from player.ui.console.problems import problem_of
from player.ui.console.server_calls import call_server
from player.ui.console.sittings import SittingContext
from player.ui.console.tables import choice_table, update_row
from player.ui.widgets import button, label, set_message
from sync import staff_protocol as sp
from sync.kiosk_protocol import ExitCodeOut

log = logging.getLogger(__name__)

TAB_TITLE = "Kiosk e&xit"
"""The tab's title (Alt+X): no clash with Room, Log or the room's buttons."""
COLUMNS = ("Student", "Computer", "Machine id")
EXPLAIN = (
    "A computer in kiosk mode can only be left by staff. Choose the student at that computer and make an exit code, "
    "then type the code on that computer (its Staff button, or Ctrl+Alt+Shift+E). Or sign in there with your own "
    "staff account. A code works once, on that computer only."
)


def machine_label(student: sp.RoomStudent) -> str:
    return student.machine_name or student.machine_id or ""


class KioskExitView(QWidget):
    """The students of the sitting who are at a computer, and the exit code made for the one chosen."""

    def __init__(self, context: SittingContext) -> None:
        super().__init__()
        self._context = context
        self._students: list[sp.RoomStudent] = []
        self.loads = 0
        """Finished loads of the list (for tests that wait for one)."""
        self.heading = label("Let a computer leave kiosk mode", name="subtitle")
        self.explain = label(EXPLAIN, accessible="What this is")
        self.table = choice_table(COLUMNS, accessible="Students at a computer")
        self.table.verticalHeader().setVisible(False)
        self.refresh_button = button("Refresh the list")
        self.make_button = button("Make an exit code for this computer", primary=True)
        self.code = label(name="title", accessible="No exit code yet")
        self.code.hide()
        self.valid = label(accessible="Where and until when the code works")
        self.valid.hide()
        self.message = label(accessible="No message")
        self.message.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.make_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.explain)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        for widget in (self.code, self.valid, self.message):
            layout.addWidget(widget)
        self.refresh_button.clicked.connect(self.refresh)
        self.make_button.clicked.connect(self.make_code)
        self.refresh()

    def refresh(self) -> None:
        context = self._context
        call_server(
            context,
            lambda c: c.room(context.token, context.sitting_id),
            owner=self,
            on_done=self._show,
            on_error=self._failed,
        )

    def _show(self, view: sp.RoomView) -> None:
        self.loads += 1
        self._students = [s for s in view.students if s.machine_id]
        self.table.setRowCount(len(self._students))
        for row, student in enumerate(self._students):
            update_row(self.table, row, (student.student_name, machine_label(student), student.machine_id or ""))
        if not self._students:
            set_message(self.message, "No student of this sitting has signed in on a computer yet.")

    def _failed(self, exc: Exception) -> None:
        self.loads += 1
        set_message(self.message, problem_of(exc))

    def select_student(self, student_name: str) -> None:
        for row, student in enumerate(self._students):
            if student.student_name == student_name:
                self.table.setCurrentCell(row, 0)
                return
        raise LookupError(f"{student_name} is not at a computer in this list")

    def make_code(self) -> None:
        row = self.table.currentRow()
        if not 0 <= row < len(self._students):
            set_message(self.message, "Choose the student at that computer in the list first, then make the code.")
            self.table.setFocus()
            return
        student = self._students[row]
        machine_id = student.machine_id or ""
        token = self._context.token
        set_message(self.message, "Asking the server for a code…")
        self.make_button.setEnabled(False)
        call_server(
            self._context,
            lambda c: request_exit_code(c, token, machine_id),
            owner=self,
            on_done=lambda issued: self._made(student, issued),
            on_error=self._refused,
        )

    def _made(self, student: sp.RoomStudent, issued: ExitCodeOut) -> None:
        self.make_button.setEnabled(True)
        set_message(self.message, "")
        where = issued.machine_name or machine_label(student)
        self.code.setText(issued.code)
        self.code.setAccessibleName(f"Exit code {issued.code}")
        self.code.show()
        self.valid.setText(
            f"For {where} ({student.student_name}'s computer) only, once, until {local_time(issued.expires_at)}. "
            "A newer code for that computer replaces this one."
        )
        self.valid.show()
        log.info("Exit code made for machine %r (valid until %s)", issued.machine_id, issued.expires_at.isoformat())

    def _refused(self, exc: Exception) -> None:
        self.make_button.setEnabled(True)
        self.code.hide()
        self.valid.hide()
        set_message(self.message, problem_of(exc))
