"""The sitting's log: every staff action, export and print with who, when, why and what, newest first."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from player.ui.console.actions import REASON_LABELS
from player.ui.console.dates import local_time
from player.ui.console.problems import problem_of
from player.ui.console.server_calls import call_server
from player.ui.console.sittings import SittingContext
from player.ui.console.tables import table_texts
from player.ui.widgets import button, label, set_message
from sync import staff_protocol as sp

log = logging.getLogger(__name__)

COLUMNS = ("When", "Who", "Action", "Student", "Reason", "Details")

ACTION_LABELS: dict[str, str] = {
    "pause": "Paused",
    "resume": "Resumed",
    "add_time": "Added time",
    "end_section": "Ended the section",
    "release_code": "Released the code to another machine",
    "submit_result_code": "Submitted a result code",
    "export_results": "Exported the results",
    "export_incidents": "Exported the incident log",
    "print_slips": "Printed access-code slips",
    "add_incident": "Recorded an incident",
    "save_manual": "Saved dictation entries",
    "hand_mark": "Marked by hand",
    "upload_evidence": "Uploaded evidence",
    "list_codes": "Fetched the access codes",
    "create_sitting": "Created the sitting",
    "edit_sitting": "Changed the sitting",
    "close_sitting": "Closed the sitting",
    "play_given_back": "A recording's play was given back",
}

PLAY_CUT_BY: dict[str, str] = {
    "paused": "stopped by a pause",
    "audio_device": "the speakers or headphones stopped working",
    "audio_damaged": "the recording could not be played",
    "player_stopped": "the test player stopped (a crash, a power cut or the window closed)",
}
"""Why a play was cut short and given back (sync.protocol.GivenBackReason), for the log's Details."""


def describe_action(action: str) -> str:
    """The server's action names ("add_time", "submit_result_code") as words."""
    return ACTION_LABELS.get(action) or action.replace("_", " ").capitalize()


def describe_reason(entry: sp.LogEntry) -> str:
    kind = REASON_LABELS.get(entry.reason_kind or "", entry.reason_kind or "")
    kind = kind.removesuffix(" (say what)")
    parts = [p for p in (kind, entry.reason or "") if p]
    return ": ".join(parts)


def _count(value: object, one: str, many: str) -> str:
    return f"{value} {one if value == 1 else many}"


def _points(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def describe_detail(entry: sp.LogEntry) -> str:
    """The facts worth reading in the entry's detail (how much time, which file, new or repeated code...)."""
    d = entry.detail
    action = entry.action
    parts: list[str] = []
    if d.get("whole_room"):
        parts.append("whole room")
    if action == "add_time" and isinstance(seconds := d.get("seconds"), int):
        parts.append(f"+{_count(seconds // 60, 'minute', 'minutes')}")
    if action == "end_section" and d.get("section_title"):
        parts.append(str(d["section_title"]))
    if action == "release_code" and d.get("previous_machine"):
        parts.append(f"was on {d['previous_machine']}")
    if action == "submit_result_code":
        parts.append("already received: nothing changed" if d.get("duplicate") else "new results stored")
    if action in ("export_results", "export_incidents") and "rows" in d:
        parts.append(f"{_count(d['rows'], 'row', 'rows')} to {d.get('file', 'a file')}")
    if action == "print_slips":
        where = d.get("file") if d.get("to") == "pdf" else d.get("printer")
        made = "saved as PDF" if d.get("to") == "pdf" else "printed"
        parts.append(f"{_count(d.get('slips', '?'), 'slip', 'slips')} {made}" + (f": {where}" if where else ""))
    if action == "add_incident":
        parts += [str(d[k]).replace("_", " ") for k in ("kind", "note") if d.get(k)]
    if action == "left_the_test_window" and isinstance(times := d.get("count"), int):
        parts.append(f"{_count(times, 'time', 'times')} so far" + (f", on {d['machine']}" if d.get("machine") else ""))
    if action == "play_given_back":
        cause = str(d.get("cause", ""))
        parts.append(f"item {d.get('item_id', '?')}: {PLAY_CUT_BY.get(cause, cause.replace('_', ' '))}")
    if action == "hand_mark":
        parts.append(f"{d.get('item_id')}: {_points(d.get('score'))} of {_points(d.get('max_score'))}")
        if d.get("previous_score") is not None:
            parts.append(f"was {_points(d['previous_score'])} ({d.get('previous_marker')})")
    if action == "upload_evidence" and d.get("filename"):
        parts.append(str(d["filename"]))
    return "; ".join(parts)


class SittingLogView(QWidget):
    def __init__(self, context: SittingContext) -> None:
        super().__init__()
        self._context = context
        self._loading = False
        self._again = False
        self.entries: list[sp.LogEntry] = []
        self.loads = 0
        self.heading = label("Sitting log", name="subtitle")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setAccessibleName("Sitting log, newest first")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setTabKeyNavigation(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Reason and details share what is left and wrap onto more lines, so every column stays in view.
        for column in ("Reason", "Details"):
            header.setSectionResizeMode(COLUMNS.index(column), QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        self.message = label(name="error", accessible="No message")
        self.message.hide()
        self.reload_button = button("Reload &log")
        self.reload_button.clicked.connect(self.reload)
        layout = QVBoxLayout(self)
        for widget in (self.heading, self.table, self.message):
            layout.addWidget(widget)
        layout.addWidget(self.reload_button, alignment=Qt.AlignmentFlag.AlignLeft)

    def reload(self) -> None:
        if self._loading:
            # An action finished while the log was on its way: fetch once more afterwards so it shows.
            self._again = True
            return
        self._loading = True
        self._again = False
        context = self._context
        call_server(
            context,
            lambda c: c.sitting_log(context.token, context.sitting_id),
            owner=self,
            on_done=self._show,
            on_error=self._failed,
        )

    def _show(self, entries: list[sp.LogEntry]) -> None:
        self._loading = False
        self.loads += 1
        if self._again:
            self.reload()
        set_message(self.message, "")
        self.entries = list(reversed(entries))
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            cells = (
                local_time(entry.at),
                entry.actor,
                describe_action(entry.action),
                entry.student_name or "—",
                describe_reason(entry),
                describe_detail(entry),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()

    def _failed(self, exc: Exception) -> None:
        self._loading = False
        self.loads += 1
        if self._again:
            self.reload()
        set_message(
            self.message, problem_of(exc).framed("Could not load the log: ", " Choose Reload log to try again.")
        )

    def rows(self) -> list[tuple[str, ...]]:
        """Every row as shown, for tests and screen readers' sake."""
        return table_texts(self.table)
