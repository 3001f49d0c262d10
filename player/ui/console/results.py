"""The sitting's results: per student status, section scores, total and manual entries; exported as CSV."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from player.csv_export import cell_text
from player.ui.console.server_calls import call_server, error_sentence
from player.ui.console.sitting_tab import CsvExportTab, CsvTable
from player.ui.console.sittings import SittingContext
from player.ui.widgets import ChooseSavePath, ask_save_path, button, label
from sync import staff_protocol as sp
from sync.client import InvigilClient

log = logging.getLogger(__name__)

STATE_LABELS: dict[str, str] = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "paused": "In progress (paused)",
    "finished_sent": "Finished: sent",
    "finished_waiting": "Finished: results waiting on that machine",
    "marked": "Marked",
    "released": "Released to another machine",
}
RESULT_LABELS: dict[str, str] = {
    "received": "Received",
    "marking": "Being marked",
    "marked": "Marked",
    "marking_failed": "Marking failed",
}


@dataclass(frozen=True)
class Sitting:
    """What the results view is made from: the room (every allocated student) and the results received."""

    room: sp.RoomView
    results: list[sp.ResultOut]
    manual: dict[str, sp.ManualEntryOut]
    """Manual entries of students who have no result yet (results carry their own), by allocation id."""


@dataclass(frozen=True)
class ResultsTable:
    header: tuple[str, ...]
    rows: list[tuple[object, ...]]
    scored: int
    """How many students have at least one section score."""
    to_mark: int = 0
    """Answers still waiting for a person's mark (Mark by hand tab)."""


def fetch_sitting(client: InvigilClient, token: str, sitting_id: str) -> Sitting:
    room = client.room(token, sitting_id)
    results = client.sitting_results(token, sitting_id)
    with_result = {r.allocation_id for r in results}
    # Dictation may be marked on paper before (or without) a typed result, so ask for those students' entries too.
    manual = {
        s.allocation_id: client.manual(token, s.allocation_id)
        for s in room.students
        if s.allocation_id not in with_result
    }
    return Sitting(room, results, manual)


def results_table(sitting: Sitting) -> ResultsTable:
    """One row per student, by name; section columns in the order the results list them. Used by view and CSV."""
    by_allocation: dict[str, list[sp.ResultOut]] = {}
    for result in sorted(sitting.results, key=lambda r: r.received_at):
        by_allocation.setdefault(result.allocation_id, []).append(result)
    sections: dict[str, sp.SectionScore] = {}
    for result in sitting.results:
        for score in result.section_scores:
            sections.setdefault(score.section_id, score)
    total_max = sum(s.max_score for s in sections.values())
    header = (
        "Student",
        "ID",
        "Status",
        *(f"{s.title} (out of {s.max_score:g})" for s in sections.values()),
        f"Total (out of {total_max:g})" if sections else "Total",
        "Marked by hand",
        "Typed dictation",
        "Written dictation",
        "Comments",
        "Evidence files",
    )
    students: dict[str, tuple[str, str, str]] = {
        s.allocation_id: (s.student_name, s.unique_id, s.state) for s in sitting.room.students
    }
    for allocation_id, results in by_allocation.items():
        # A student moved out of the sitting after handing in keeps their row.
        students.setdefault(allocation_id, (results[-1].student_name, results[-1].unique_id, ""))
    rows: list[tuple[object, ...]] = []
    to_mark = 0
    for allocation_id, (name, unique_id, state) in sorted(
        students.items(), key=lambda kv: (kv[1][0].casefold(), kv[1][1])
    ):
        results = by_allocation.get(allocation_id, [])
        latest: dict[str, sp.SectionScore] = {}
        for result in results:  # oldest first, so a later result for a section replaces an earlier one
            latest.update((s.section_id, s) for s in result.section_scores)
        manual = results[-1].manual if results and results[-1].manual else sitting.manual.get(allocation_id)
        scores = [latest[sid].score if sid in latest else None for sid in sections]
        needed = sum(s.hand_marks_needed for s in latest.values())
        done = sum(s.hand_marks_done for s in latest.values())
        to_mark += needed - done
        rows.append(
            (
                name,
                unique_id,
                _status(state, results, hand_marking_left=needed > done),
                *scores,
                round(sum(s.score for s in latest.values()), 2) if latest else None,
                _hand_marked(needed, done),
                manual.typed_dictation if manual else None,
                manual.written_dictation if manual else None,
                manual.comments if manual else None,
                "; ".join(e.filename for e in manual.evidence) if manual else None,
            )
        )
    scored = sum(1 for a in students if any(r.section_scores for r in by_allocation.get(a, [])))
    return ResultsTable(header, rows, scored=scored, to_mark=to_mark)


def _text(item: QTableWidgetItem | None) -> str:
    return "" if item is None else item.text()


SITTING_STATES = frozenset({"in_progress", "paused", "finished_waiting", "released"})
"""Room states of a student who is still sitting (or whose last results are still on their machine): whatever
sections were received and marked, the student is not "Marked" yet."""


def _status(state: str, results: list[sp.ResultOut], *, hand_marking_left: bool) -> str:
    if state in SITTING_STATES or not results:
        return STATE_LABELS.get(state, state)
    latest = results[-1]
    if latest.status != "marked":
        text = RESULT_LABELS.get(latest.status, latest.status)
        return f"{text}: {latest.error}" if latest.error else text
    return "Needs marking by hand" if hand_marking_left else "Marked"


def _hand_marked(needed: int, done: int) -> str:
    """'x of y marked by hand' until every answer that needs a person is marked; then says it is done."""
    if not needed:
        return ""
    return f"Done: {needed} marked by hand" if done >= needed else f"{done} of {needed} marked by hand"


class ResultsView(CsvExportTab):
    """The results table; "Refresh" reloads it, "Export CSV..." writes what the server holds now."""

    shown = Signal(int)  # rows now in the table

    def __init__(
        self,
        context: SittingContext,
        *,
        choose_save_path: ChooseSavePath = ask_save_path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(context, choose_save_path=choose_save_path, parent=parent)
        self.table = QTableWidget(0, 0)
        self.table.setAccessibleName("Results")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(False)  # the row order is the export's order
        self.table.verticalHeader().setVisible(False)
        # Alt+F: Alt+R is the sitting's Room tab.
        self.refresh_button = button("Re&fresh", accessible="Refresh the results")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = button("&Export CSV...", accessible="Export the results as CSV", primary=True)
        self.export_button.clicked.connect(self.export_csv)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addWidget(label(f"Results: {context.sitting_name}", name="subtitle"))
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.error)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        # The room moves on while the tab is hidden: what is shown is what the server holds now.
        super().showEvent(event)
        if self.refresh_button.isEnabled():
            self.refresh()

    def refresh(self) -> None:
        token, sitting_id = self._context.token, self._context.sitting_id
        self.refresh_button.setEnabled(False)
        call_server(
            self._context,
            lambda c: results_table(fetch_sitting(c, token, sitting_id)),
            owner=self,
            on_done=self._show,
            on_error=self._refresh_failed,
        )

    def _show(self, table: ResultsTable) -> None:
        self.refresh_button.setEnabled(True)
        self.table.clear()
        self.table.setColumnCount(len(table.header))
        self.table.setHorizontalHeaderLabels(list(table.header))
        self.table.setRowCount(len(table.rows))
        for r, row in enumerate(table.rows):
            for c, value in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(cell_text(value)))
        self.table.resizeColumnsToContents()
        left = (
            f" {table.to_mark} {'answer' if table.to_mark == 1 else 'answers'} still to mark by hand."
            if table.to_mark
            else ""
        )
        self._say(f"{len(table.rows)} students; {table.scored} with scores.{left}")
        self.shown.emit(len(table.rows))

    def _refresh_failed(self, exc: Exception) -> None:
        self.refresh_button.setEnabled(True)
        self._fail(error_sentence(exc, doing="load the results"))

    def cell(self, student: str, column: str) -> str:
        """The text shown for one student (by name) in one column (by header, "(out of ...)" optional)."""
        headers = [_text(self.table.horizontalHeaderItem(c)) for c in range(self.table.columnCount())]
        matches = [c for c, h in enumerate(headers) if h == column or h.startswith(f"{column} (")]
        if not matches:
            raise LookupError(f"no column {column!r}; the columns are {headers}")
        for r in range(self.table.rowCount()):
            if _text(self.table.item(r, 0)) == student:
                return _text(self.table.item(r, matches[0]))
        raise LookupError(f"no row for {student!r}")

    def export_csv(self) -> None:
        token, sitting_id = self._context.token, self._context.sitting_id

        def table(c: InvigilClient) -> CsvTable:
            made = results_table(fetch_sitting(c, token, sitting_id))
            return made.header, made.rows

        self._export_csv(
            self.export_button,
            file_name="results.csv",
            table=table,
            log_action="export_results",
            saved=lambda done: f"Saved results for {done.rows} students to {done.path}.",
            doing="export the results",
        )
