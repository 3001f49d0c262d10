"""The live room: every student of one sitting, refreshed every 2 s off the GUI thread, with the actions."""

from __future__ import annotations

import logging
from datetime import datetime

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QHeaderView, QPushButton, QVBoxLayout, QWidget

from player.ui.console.actions import ActionKind, ActionRequest, ReasonDialog, perform
from player.ui.console.server_calls import call_server
from player.ui.console.sittings import SittingContext
from player.ui.console.tables import choice_table, row_texts, update_row
from player.ui.widgets import button, label, set_message
from sync import staff_protocol as sp

log = logging.getLogger(__name__)

COLUMNS = ("Student", "State", "Time left", "Last seen", "Unsent results")
REFRESH_MS = 2000


def format_seconds(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    whole = max(0, seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe_state(student: sp.RoomStudent) -> str:
    """The state as an invigilator says it: not started / on <machine>, section, item / paused / finished..."""
    machine = student.machine_id or "an unknown machine"
    if student.state == "not_started":
        return "Not started"
    if student.state == "released":
        return "Released: waiting to log in on another machine"
    if student.state == "finished_sent":
        return "Finished: results sent"
    if student.state == "finished_waiting":
        return f"Finished: results waiting on {machine}"
    if student.state == "marked":
        return "Finished: marked"
    where = f"On {machine}"
    if student.section_title or student.section_id:
        where += f", in {student.section_title or student.section_id}"
    if student.item_index is not None:
        where += f", item {student.item_index}" + (f" of {student.item_count}" if student.item_count else "")
    return f"Paused — {where[0].lower()}{where[1:]}" if student.state == "paused" or student.paused else where


def describe_last_seen(student: sp.RoomStudent, *, server_time: datetime) -> str:
    if student.last_seen_at is None:
        return "Never" if student.state == "not_started" else "Offline: no heartbeat yet"
    ago = max(0, int((server_time - student.last_seen_at).total_seconds()))
    when = f"{ago} s ago" if ago < 120 else f"{ago // 60} min ago"
    open_attempt = student.state in ("in_progress", "paused", "finished_waiting")
    return when if student.online or not open_attempt else f"Offline: last seen {when}"


def describe_unsent(student: sp.RoomStudent) -> str:
    if student.outbox_depth <= 0:
        return "None"
    return f"{student.outbox_depth} waiting on {student.machine_id or 'that machine'}"


def describe_counts(counts: sp.RoomCounts) -> str:
    return (
        f"In progress {counts.in_progress} · Paused {counts.paused} · Finished {counts.finished} · "
        f"Offline {counts.offline} · Waiting to send {counts.waiting_to_send} · Not started {counts.not_started}"
    )


class RoomPanel(QWidget):
    """Shows the room and refreshes it with a QTimer that never stacks: a tick while a refresh is still on its
    way is skipped. Emits `acted(sentence)` after each action so the log can refresh."""

    acted = Signal(str)

    def __init__(self, context: SittingContext, *, refresh_ms: int = REFRESH_MS) -> None:
        super().__init__()
        self._context = context
        self._in_flight = False
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
        # The state takes what is left (it is the longest text), so every column fits without scrolling sideways.
        header.setSectionResizeMode(COLUMNS.index("State"), QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.message = label(accessible="No message")
        self.message.hide()

        self.buttons: dict[ActionKind, QPushButton] = {}
        grid = QGridLayout()
        specs: tuple[tuple[ActionKind, str], ...] = (
            ("pause", "&Pause student"),
            ("resume", "R&esume student"),
            ("add_time", "&Add time"),
            ("end_section", "E&nd section"),
            ("release", "Re&lease code to another machine"),
            ("pause_room", "Pause &whole room"),
            ("resume_room", "Resume whole roo&m"),
        )
        for index, (kind, text) in enumerate(specs):
            widget = button(text)
            widget.clicked.connect(lambda _checked=False, k=kind: self.begin_action(k))
            self.buttons[kind] = widget
            # Row, column, rows, columns: the long "Release code..." spans two, so the grid fits a 1024-pixel screen.
            place = {"release": (1, 0, 1, 2), "pause_room": (1, 2, 1, 1), "resume_room": (1, 3, 1, 1)}
            grid.addWidget(widget, *place.get(kind, (0, index, 1, 1)))

        layout = QVBoxLayout(self)
        layout.addWidget(self.counts)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(grid)

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
        if self._in_flight or not self._active:
            return  # the previous refresh is still on its way: skip this tick rather than pile up requests
        self._in_flight = True
        token, sitting_id = self._context.token, self._context.sitting_id
        call_server(
            self._context,
            lambda c: c.room(token, sitting_id),
            owner=self,
            on_done=self._show,
            on_error=self._refresh_failed,
        )

    def _show(self, view: sp.RoomView) -> None:
        self._in_flight = False
        self.refreshes += 1
        if not self._active:
            return
        self._view = view
        self.counts.setText(describe_counts(view.counts))
        self.counts.setAccessibleName(f"Counts: {describe_counts(view.counts)}")
        self.status.setText(f"{view.sitting_name} — {view.assessment_title}. Updated {view.server_time:%H:%M:%S}.")
        selected = self.selected_student()
        keep = selected.allocation_id if selected is not None else None
        self.table.setRowCount(len(view.students))
        for row, student in enumerate(view.students):
            cells = (
                student.student_name,
                describe_state(student),
                format_seconds(student.remaining_seconds),
                describe_last_seen(student, server_time=view.server_time),
                describe_unsent(student),
            )
            update_row(self.table, row, cells, tooltips=True)
            if student.allocation_id == keep:
                self.table.setCurrentCell(row, 0)
        if keep is None and view.students and self.table.currentRow() < 0:
            self.table.setCurrentCell(0, 0)

    def _refresh_failed(self, exc: Exception) -> None:
        self._in_flight = False
        self.refreshes += 1
        if self._active:
            # Keep showing the last good view; say it may be out of date and why.
            self.status.setText(f"Could not update the room (showing the last view): {exc}")

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
        if kind not in ("pause_room", "resume_room"):
            student = self.selected_student()
            if student is None:
                set_message(self.message, "Choose a student in the table first (arrow keys), then the action.")
                self.table.setFocus()
                return None
        dialog = ReasonDialog(
            kind,
            student_name=student.student_name if student else "",
            allocation_id=student.allocation_id if student else None,
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
            on_error=lambda exc: set_message(self.message, str(exc)),
        )
