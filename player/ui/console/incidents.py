"""The sitting's incident log: record a power cut, illness, fire alarm or network problem, and export it as CSV."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError
from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from player.ui.console.dates import cell, date_time_edit, local_time
from player.ui.console.server_calls import call_server, error_sentence
from player.ui.console.sitting_tab import CsvExportTab
from player.ui.console.sittings import SittingContext
from player.ui.widgets import ChooseSavePath, ask_save_path, button, caption, label
from sync import staff_protocol as sp
from sync.error_catalogue import Problem, problem

log = logging.getLogger(__name__)

KIND_LABELS: dict[str, str] = {
    "power_cut": "Power cut",
    "illness": "Illness",
    "fire_alarm": "Fire alarm",
    "network": "Network",
    "other": "Other",
}
CSV_HEADER = ("Time", "Kind", "Students affected", "Note", "Recorded by", "Recorded at")


def incident_rows(incidents: Sequence[sp.IncidentOut]) -> list[tuple[object, ...]]:
    """The log as table rows in CSV_HEADER's order, oldest first (the order things happened)."""
    ordered = sorted(incidents, key=lambda i: (i.occurred_at, i.recorded_at))
    return [
        (
            i.occurred_at,
            KIND_LABELS.get(i.kind, i.kind),
            "; ".join(i.students) or "Whole room",
            i.note,
            i.recorded_by,
            i.recorded_at,
        )
        for i in ordered
    ]


class IncidentsView(CsvExportTab):
    """A form to record an incident above the sitting's log; "Export CSV..." writes the log as the server has it."""

    incidents_shown = Signal(int)  # how many incidents the table now lists
    added = Signal(object)  # IncidentOut

    def __init__(
        self,
        context: SittingContext,
        *,
        choose_save_path: ChooseSavePath = ask_save_path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(context, choose_save_path=choose_save_path, parent=parent)

        self.kind_box = QComboBox()
        self.kind_box.setAccessibleName("Kind of incident")
        for kind in sp.INCIDENT_KINDS:
            self.kind_box.addItem(KIND_LABELS.get(kind, kind), kind)
        self.time_edit = date_time_edit("When it happened")
        self.students = QListWidget()
        self.students.setAccessibleName("Students affected (none ticked: the whole room)")
        self.note_edit = QPlainTextEdit()
        self.note_edit.setAccessibleName("Note")
        self.note_edit.setTabChangesFocus(True)
        # A few lines of note, so the log below stays in view; the picker beside the form is as tall as the form.
        self.note_edit.setMaximumHeight(72)
        self.add_button = button("&Add incident", primary=True)
        self.add_button.clicked.connect(self.add_incident)
        self.table = QTableWidget(0, len(CSV_HEADER))
        self.table.setAccessibleName("Incident log")
        self.table.setHorizontalHeaderLabels(list(CSV_HEADER))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        # One line per incident, so several stay in view; the whole note is in the cell's tooltip.
        self.table.setWordWrap(False)
        self.table.setMinimumHeight(150)
        self.export_button = button("&Export CSV...", accessible="Export the incident log as CSV")
        self.export_button.clicked.connect(self.export_csv)

        form = QFormLayout()
        form.addRow(caption("Kind o&f incident", self.kind_box), self.kind_box)  # Alt+K is the console's Lock
        form.addRow(caption("&When", self.time_edit), self.time_edit)
        form.addRow(caption("&Note", self.note_edit), self.note_edit)
        form.addRow("", self.add_button)
        form.setAlignment(self.add_button, Qt.AlignmentFlag.AlignLeft)
        # The students beside the form rather than in it: a list squeezed into a form row showed two of them.
        picker = QVBoxLayout()
        picker.addWidget(caption("&Students affected", self.students))
        picker.addWidget(self.students, 1)
        picker.addWidget(label("None ticked: the whole room."))
        top = QHBoxLayout()
        top.addLayout(form, 3)
        top.addLayout(picker, 2)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.error)
        layout.addWidget(label("Incident log", name="heading"))
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.reset_time()
        self.refresh()

    def reset_time(self) -> None:
        now = self._context.clock().replace(second=0, microsecond=0)
        # From the epoch: the editor then shows this computer's local time, whatever zone the clock reports in.
        self.time_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(now.timestamp())))

    # ---- loading ----

    def refresh(self) -> None:
        """Reload the students and the log from the server."""
        token, sitting_id = self._context.token, self._context.sitting_id
        call_server(
            self._context,
            lambda c: (c.room(token, sitting_id), c.incidents(token, sitting_id)),
            owner=self,
            on_done=self._show,
            on_error=lambda exc: self._fail(error_sentence(exc, doing="load the incident log")),
        )

    def _show(self, loaded: tuple[sp.RoomView, list[sp.IncidentOut]]) -> None:
        room, incidents = loaded
        ticked = set(self.ticked_allocations())
        self.students.clear()
        for student in sorted(room.students, key=lambda s: s.student_name.casefold()):
            item = QListWidgetItem(f"{student.student_name} ({student.unique_id})")
            item.setData(Qt.ItemDataRole.UserRole, student.allocation_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = student.allocation_id in ticked
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.students.addItem(item)
        self._fill_table(incidents)

    def _fill_table(self, incidents: Sequence[sp.IncidentOut]) -> None:
        rows = incident_rows(incidents)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(cell(value))
                item.setToolTip(item.text())
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.incidents_shown.emit(len(rows))

    def ticked_allocations(self) -> list[str]:
        items = [self.students.item(r) for r in range(self.students.count())]
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.checkState() == Qt.CheckState.Checked]

    def tick_student(self, name: str) -> None:
        for r in range(self.students.count()):
            item = self.students.item(r)
            if item.text().startswith(name):
                item.setCheckState(Qt.CheckState.Checked)
                return
        raise LookupError(f"no student called {name} in this sitting")

    # ---- adding ----

    def add_incident(self) -> None:
        occurred = self.time_edit.dateTime().toPython()
        assert isinstance(occurred, datetime)
        try:
            incident = sp.IncidentIn(
                kind=self.kind_box.currentData(),
                occurred_at=occurred.astimezone(),  # the edit shows local time; send it with its offset
                allocation_ids=self.ticked_allocations(),
                note=self.note_edit.toPlainText(),
            )
        except ValidationError as exc:
            self._fail(_incident_problem(exc))
            return
        token, sitting_id = self._context.token, self._context.sitting_id
        self.add_button.setEnabled(False)
        self._say("Recording the incident...")
        call_server(
            self._context,
            lambda c: (c.add_incident(token, sitting_id, incident), c.incidents(token, sitting_id)),
            owner=self,
            on_done=self._added,
            on_error=self._add_failed,
        )

    def _added(self, done: tuple[sp.IncidentOut, list[sp.IncidentOut]]) -> None:
        incident, incidents = done
        self.add_button.setEnabled(True)
        self.note_edit.clear()
        for r in range(self.students.count()):
            self.students.item(r).setCheckState(Qt.CheckState.Unchecked)
        self._fill_table(incidents)
        who = ", ".join(incident.students) or "the whole room"
        self._say(
            f"Recorded: {KIND_LABELS.get(incident.kind, incident.kind)} at {local_time(incident.occurred_at)}, {who}."
        )
        self.added.emit(incident)

    def _add_failed(self, exc: Exception) -> None:
        self.add_button.setEnabled(True)
        self._fail(error_sentence(exc, doing="record the incident"))

    # ---- exporting ----

    def export_csv(self) -> None:
        token, sitting_id = self._context.token, self._context.sitting_id
        self._export_csv(
            self.export_button,
            file_name="incidents.csv",
            # Fresh from the server, so the file holds what other invigilators recorded too.
            table=lambda c: (CSV_HEADER, incident_rows(c.incidents(token, sitting_id))),
            log_action="export_incidents",
            saved=lambda done: f"Saved {done.rows} incidents to {done.path}.",
            doing="export the incident log",
        )


def _incident_problem(exc: ValidationError) -> Problem:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    if field == "note":
        return problem(
            "console.incident_invalid",
            'Write a note saying what happened (needed for "Other", at most 4000 characters), then add it again.',
        )
    return problem("console.incident_invalid", f"The incident's {field} is not valid: {first['msg']}.")
