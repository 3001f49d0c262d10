"""The live room: every student of one sitting, refreshed every 2 s off the GUI thread, with the actions."""

from __future__ import annotations

import logging

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QPushButton, QVBoxLayout, QWidget

from player.ui.console.actions import ActionKind, ActionRequest, ReasonDialog, RoomSection, perform
from player.ui.console.problems import problem_of
from player.ui.console.room_text import (
    describe_alerts,
    describe_answered,
    describe_arrangements,
    describe_counts,
    describe_last_seen,
    describe_machine_in_full,
    describe_state,
    describe_unsent,
    format_seconds,
)
from player.ui.console.server_calls import call_server
from player.ui.console.sittings import SittingContext
from player.ui.console.tables import choice_table, row_texts, update_row
from player.ui.widgets import button, label, set_message
from sync import staff_protocol as sp
from sync.client import ClientError
from sync.error_catalogue import Problem, problem

log = logging.getLogger(__name__)

ALERT_COLOUR = QColor("#8a1010")  # the error colour of player/ui/style.py

COLUMNS = ("Student", "State", "Answered", "Time left", "Arrangements", "Alerts", "Last seen", "Unsent")
REFRESH_MS = 2000
STUDENT_ACTIONS: tuple[tuple[ActionKind, str], ...] = (
    ("pause", "&Pause student"),
    ("resume", "R&esume student"),
    ("add_time", "&Add time"),
    ("end_section", "E&nd section"),
    ("release", "Re&lease code…"),
)
SPOKEN: dict[ActionKind, str] = {
    "release": "Release code to another machine",
    "resume_room": "Resume whole room",
    "add_time_room": "Add time to whole room",
    "end_section_room": "End section for whole room",
}
"""What the shorter labels stand for: read out by screen readers and shown as the button's tooltip."""
ROOM_ACTIONS: tuple[tuple[ActionKind, str], ...] = (
    ("pause_room", "Pause &whole room"),
    ("resume_room", "Resume roo&m"),
    ("add_time_room", "Add &time to room"),
    ("end_section_room", "End section &for room"),
)


def sections_in(students: list[sp.RoomStudent]) -> list[RoomSection]:
    """The sections students are working in now, the fullest first (what "End section for whole room" offers)."""
    found: dict[str, RoomSection] = {}
    for s in students:
        if s.state in ("in_progress", "paused") and s.section_id is not None:
            held = found.get(s.section_id)
            title = s.section_title or s.section_id
            found[s.section_id] = RoomSection(s.section_id, title, (held.students if held else 0) + 1)
    return sorted(found.values(), key=lambda section: -section.students)


def room_not_updated(exc: Exception) -> Problem:
    """Why the room view is out of date, numbered: the network's or the server's own number when it is one of
    theirs (INV-2001 no connection...), which says more to IT than a number for "the room" would."""
    if isinstance(exc, ClientError):
        return exc.problem.framed("Could not update the room (showing the last view): ")
    log.error("The room view could not be updated", exc_info=exc)
    return problem(
        "console.room_not_updated",
        f"Could not update the room (showing the last view): {type(exc).__name__}. The details are in the log file.",
    )


class RoomPanel(QWidget):
    """Shows the room and refreshes it with a QTimer that never stacks: a tick while a refresh is still on its
    way is skipped. Emits `acted(sentence)` after each action so the log can refresh."""

    acted = Signal(str)

    def __init__(self, context: SittingContext, *, refresh_ms: int = REFRESH_MS) -> None:
        super().__init__()
        self._context = context
        self._in_flight = False
        self._again = False
        """A refresh was asked for while one was on its way (after an action): it follows as soon as that lands."""
        self._active = False
        self._view: sp.RoomView | None = None
        self.refreshes = 0
        """Finished refreshes (successful or not), for tests that wait for a few of them."""
        self.dialog: ReasonDialog | None = None

        self.counts = label("Loading the room…", name="subtitle", accessible="Counts")
        self.status = label(accessible="Room status")
        self.table = choice_table(COLUMNS, accessible="Students in the room")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # The columns of sentences (state, alerts, unsent results) share what is left and wrap, so every column
        # fits without scrolling sideways and no state is cut short, even at 1024 pixels. What a machine says of
        # itself has no column of its own (there is no room for one): a problem is an alert, and the line under the
        # table says it all (version, readiness, times the window was left) for the chosen student.
        for wide in ("State", "Alerts", "Unsent"):
            header.setSectionResizeMode(COLUMNS.index(wide), QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.machine = label(accessible="No student chosen")
        self.table.itemSelectionChanged.connect(self._show_machine)
        self.message = label(accessible="No message")
        self.message.hide()

        self.buttons: dict[ActionKind, QPushButton] = {}
        # One row for the chosen student, one for everyone; rows of their own (not one grid), so a long button does
        # not widen a column of the other row, and both fit a 1024-pixel screen.
        rows: list[QHBoxLayout] = []
        for specs in (STUDENT_ACTIONS, ROOM_ACTIONS):
            row = QHBoxLayout()
            for kind, text in specs:
                widget = button(text, accessible=SPOKEN.get(kind, ""))
                widget.setToolTip(SPOKEN.get(kind, ""))
                widget.clicked.connect(lambda _checked=False, k=kind: self.begin_action(k))
                self.buttons[kind] = widget
                row.addWidget(widget)
            row.addStretch(1)
            rows.append(row)

        layout = QVBoxLayout(self)
        layout.addWidget(self.counts)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.machine)
        layout.addWidget(self.message)
        for row in rows:
            layout.addLayout(row)

        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.refresh)

    # ---- refreshing ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._active = True
        self.refresh()
        self.timer.start()

    def stop(self) -> None:
        self._active = False
        self.timer.stop()

    def refresh(self) -> None:
        if not self._active:
            return
        if self._in_flight:
            # Skip this tick rather than pile up requests; one more follows the one on its way, so what it
            # carries (an action just taken) is shown without waiting for the next tick.
            self._again = True
            return
        self._in_flight = True
        token, sitting_id = self._context.token, self._context.sitting_id
        call_server(
            self._context,
            lambda c: c.room(token, sitting_id),
            owner=self,
            on_done=self._show,
            on_error=self._refresh_failed,
        )

    def _landed(self) -> None:
        self._in_flight = False
        self.refreshes += 1
        if self._again and self._active:
            self._again = False
            self.refresh()

    def _show(self, view: sp.RoomView) -> None:
        self._landed()
        if not self._active:
            return
        self._view = view
        alerts = sum(1 for student in view.students if describe_alerts(student))
        counts = describe_counts(view.counts, alerts=alerts)
        self.counts.setText(counts)
        self.counts.setAccessibleName(f"Counts: {counts}")
        # set_message, so the number a failed refresh showed goes once the room is up to date again.
        set_message(self.status, f"{view.sitting_name} — {view.assessment_title}. Updated {view.server_time:%H:%M:%S}.")
        selected = self.selected_student()
        keep = selected.allocation_id if selected is not None else None
        self.table.setRowCount(len(view.students))
        for row, student in enumerate(view.students):
            cells = (
                student.student_name,
                describe_state(student),
                describe_answered(student),
                format_seconds(student.remaining_seconds),
                describe_arrangements(student),
                describe_alerts(student),
                describe_last_seen(student, server_time=view.server_time),
                describe_unsent(student),
            )
            update_row(self.table, row, cells, tooltips=True)
            self._mark_alert(row, bool(cells[COLUMNS.index("Alerts")]))
            if student.allocation_id == keep:
                self.table.setCurrentCell(row, 0)
        if keep is None and view.students and self.table.currentRow() < 0:
            self.table.setCurrentCell(0, 0)
        self._show_machine()

    def _show_machine(self) -> None:
        """The chosen student's machine in full under the table: version, the whole readiness summary, the times
        the test window was left (a cell shows only the first problem)."""
        student = self.selected_student()
        text = describe_machine_in_full(student) if student is not None else ""
        if self.machine.text() != text:
            self.machine.setText(text)
            self.machine.setAccessibleName(f"Machine: {text}" if text else "No student chosen")

    def _mark_alert(self, row: int, alert: bool) -> None:
        """An alert stands out (bold, in the error colour) so it is seen across the room at a glance."""
        item = self.table.item(row, COLUMNS.index("Alerts"))
        if item is None:
            return
        font = item.font()
        if font.bold() != alert:
            font.setBold(alert)
            item.setFont(font)
            item.setForeground(ALERT_COLOUR if alert else self.table.palette().text())

    def _refresh_failed(self, exc: Exception) -> None:
        self._landed()
        if self._active:
            # Keep showing the last good view; say it may be out of date and why.
            set_message(self.status, room_not_updated(exc))

    # ---- reading the table --------------------------------------------------------------------------

    def students(self) -> list[sp.RoomStudent]:
        return list(self._view.students) if self._view is not None else []

    def row_texts(self, student_name: str) -> tuple[str, ...]:
        """The cells shown for one student, as a person reads them."""
        for row in range(self.table.rowCount()):
            first = self.table.item(row, 0)
            if first is not None and first.text() == student_name:
                return row_texts(self.table, row)
        raise LookupError(f"{student_name} is not in the room view")

    def select_student(self, student_name: str) -> None:
        for row, student in enumerate(self.students()):
            if student.student_name == student_name:
                self.table.setCurrentCell(row, 0)
                return
        raise LookupError(f"{student_name} is not in the room view")

    def selected_student(self) -> sp.RoomStudent | None:
        row = self.table.currentRow()
        students = self.students()
        return students[row] if 0 <= row < len(students) else None

    # ---- actions ------------------------------------------------------------------------------------

    def begin_action(self, kind: ActionKind) -> ReasonDialog | None:
        """Open the reason dialog for `kind` (non-blocking); the action runs when it is accepted."""
        student = None
        sections: list[RoomSection] = []
        if kind == "end_section_room":
            sections = sections_in(self.students())
            if not sections:
                set_message(self.message, "No student is working in a section now, so there is no section to end.")
                return None
        elif kind not in dict(ROOM_ACTIONS):
            student = self.selected_student()
            if student is None:
                set_message(self.message, "Choose a student in the table first (arrow keys), then the action.")
                self.table.setFocus()
                return None
        dialog = ReasonDialog(
            kind,
            student_name=student.student_name if student else "",
            allocation_id=student.allocation_id if student else None,
            section_title=(student.section_title or student.section_id or "") if student else "",
            sections=sections,
            parent=self,
        )
        dialog.accepted.connect(lambda: self._run(dialog.request()))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _run(self, request: ActionRequest) -> None:
        context = self._context
        set_message(self.message, "Sending…")

        def done(sentence: str) -> None:
            set_message(self.message, sentence)
            self.acted.emit(sentence)
            self.refresh()

        call_server(
            context,
            lambda c: perform(c, context.token, request, sitting_id=context.sitting_id),
            owner=self,
            on_done=done,
            on_error=lambda exc: set_message(self.message, problem_of(exc)),
        )
