"""What the console's views share: server calls tied to a view's life, failures in words, tables, a tab's base."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QAbstractItemView, QFileDialog, QPushButton, QTableWidget, QTableWidgetItem, QWidget

from player.csv_export import write_csv
from player.ui.console.sittings import SittingContext, guarded
from player.ui.screens.common import label, set_message, show_outcome
from sync.client import ClientError, InvigilClient
from sync.protocol import LogDetailValue, SittingLogAction

log = logging.getLogger(__name__)

T = TypeVar("T")

ChooseSavePath = Callable[[QWidget, str], Path | None]
"""Asks where to save (parent, suggested file name) -> the path, or None when cancelled; tests pass their own."""

CsvTable = tuple[Sequence[str], Iterable[Sequence[object]]]
"""A CSV file's header and rows, as player.csv_export.write_csv takes them."""


@dataclass(frozen=True)
class Exported:
    """A CSV export that reached the disk."""

    path: Path
    rows: int
    log_problem: str = ""
    """Why the export is not in the sitting's log ("" when it is); the file was written either way."""

    def sentence(self, done: str) -> str:
        """`done` ("Saved 3 incidents to x.csv."), plus the log problem when there is one."""
        return f"{done} {self.log_problem}" if self.log_problem else done


def file_stem(name: str) -> str:
    """A sitting name made safe to suggest as a file name (Windows refuses these characters)."""
    return "".join("_" if ch in '<>:"/\\|?*' else ch for ch in name).strip() or "sitting"


def call_server(
    context: SittingContext,
    work: Callable[[InvigilClient], T],
    *,
    on_done: Callable[[T], None],
    on_error: Callable[[Exception], None],
    owner: QObject,
) -> None:
    """Run `work` with its own client on a worker thread (a client's session is not thread-safe).

    The callbacks are skipped once `owner` is deleted (the sitting was closed or the console locked while
    the request was out): they would touch widgets that are gone."""

    def run() -> T:
        with context.client_factory() as client:
            return work(client)

    context.tasks.run(run, on_done=guarded(owner, on_done), on_error=guarded(owner, on_error))


def note_in_log(
    client: InvigilClient, context: SittingContext, action: SittingLogAction, detail: dict[str, LogDetailValue]
) -> str:
    """Put an export or print in the sitting's log (on the worker thread that did it).

    Returns "" once logged, else a sentence saying it is not in the log and why: the file or the printout was
    made either way, and the invigilator should know the log misses it rather than see the export "fail"."""
    try:
        client.log_event(context.token, context.sitting_id, action, detail)
    except ClientError as exc:
        log.warning("%s of sitting %s not logged: %s", action, context.sitting_id, exc)
        return f"It could not be noted in the sitting's log: {exc}"
    return ""


def error_sentence(exc: Exception, *, doing: str) -> str:
    """What to tell the invigilator: the server's or client's own sentence, else a plain one naming the task."""
    if isinstance(exc, ClientError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"Could not {doing}{where}: {exc.strerror or exc}. Check the folder exists and you may write there."
    log.error("unexpected failure while trying to %s", doing, exc_info=exc)
    return f"Could not {doing}: an unexpected error ({type(exc).__name__}). The details are in the log file."


def local_time(when: datetime | None) -> str:
    return "" if when is None else when.astimezone().strftime("%d %b %Y %H:%M")


def ask_save_path(parent: QWidget, suggested: str) -> Path | None:
    kinds = {".pdf": "PDF files (*.pdf)", ".txt": "Result codes (*.txt)"}
    kind = kinds.get(Path(suggested).suffix, "CSV files (*.csv)")
    name, _ = QFileDialog.getSaveFileName(parent, "Save as", suggested, kind)
    return Path(name) if name else None


# ---- tables ------------------------------------------------------------------------------------------


def choice_table(columns: Sequence[str], *, accessible: str) -> QTableWidget:
    """A read-only table to pick one whole row from (arrow keys); Tab leaves it for the buttons."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setAccessibleName(accessible)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setTabKeyNavigation(False)
    return table


def update_row(table: QTableWidget, row: int, texts: Sequence[str], *, tooltips: bool = False) -> None:
    """Show `texts` in `row`, setting only the cells whose text changed (the tables refresh every few seconds).

    `tooltips` repeats each new text in its cell's tooltip: the whole text, when the column is too narrow."""
    for column, text in enumerate(texts):
        item = table.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            table.setItem(row, column, item)
        if item.text() != text:
            item.setText(text)
            if tooltips:
                item.setToolTip(text)


def row_texts(table: QTableWidget, row: int) -> tuple[str, ...]:
    """The cells of one row as a person reads them ("" where a cell is empty)."""
    return tuple((item.text() if (item := table.item(row, c)) is not None else "") for c in range(table.columnCount()))


def table_texts(table: QTableWidget) -> list[tuple[str, ...]]:
    """Every row as shown, for tests and screen readers' sake."""
    return [row_texts(table, r) for r in range(table.rowCount())]


# ---- a sitting's tabs --------------------------------------------------------------------------------


class SittingTab(QWidget):
    """A tab of an open sitting (results, manual entries, incidents, slips): its context, and its latest outcome
    in one of two labels, `message` (plain) or `error`; each outcome is also emitted as `message_shown`."""

    message_shown = Signal(str)

    def __init__(self, context: SittingContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.message = label(name="status")
        self.error = label(name="error")
        set_message(self.message, "")
        set_message(self.error, "")

    def _say(self, text: str) -> None:
        show_outcome(message=self.message, error=self.error, text=text, failed=False)
        self.message_shown.emit(text)

    def _fail(self, text: str) -> None:
        show_outcome(message=self.message, error=self.error, text=text, failed=True)
        self.message_shown.emit(text)


class CsvExportTab(SittingTab):
    """A sitting tab with "Export CSV...": the file holds what the server has at that moment, and the export is
    noted in the sitting's log (or the invigilator is told why not; the file is written either way)."""

    exported = Signal(object)  # Exported

    def __init__(
        self, context: SittingContext, *, choose_save_path: ChooseSavePath, parent: QWidget | None = None
    ) -> None:
        super().__init__(context, parent)
        self._choose_save_path = choose_save_path

    def _export_csv(
        self,
        export_button: QPushButton,
        *,
        file_name: str,
        table: Callable[[InvigilClient], CsvTable],
        log_action: SittingLogAction,
        saved: Callable[[Exported], str],
        doing: str,
    ) -> None:
        """Ask where to save "<sitting> `file_name`", then on a worker thread fetch `table`, write it and log it.

        `saved(done)` is the sentence once written ("Saved 3 incidents to ..."); `doing` names the task in a
        failure ("export the incident log"). `export_button` is disabled while the export is under way."""
        path = self._choose_save_path(self, f"{file_stem(self._context.sitting_name)} {file_name}")
        if path is None:
            return
        export_button.setEnabled(False)
        self._say(f"Exporting to {path.name}...")
        context = self._context

        def work(c: InvigilClient) -> Exported:
            header, rows = table(c)
            written = write_csv(path, header, rows)
            problem = note_in_log(c, context, log_action, {"file": path.name, "rows": written})
            return Exported(path, written, problem)

        def done(export: Exported) -> None:
            export_button.setEnabled(True)
            self._say(export.sentence(saved(export)))
            self.exported.emit(export)

        def failed(exc: Exception) -> None:
            export_button.setEnabled(True)
            self._fail(error_sentence(exc, doing=doing))

        call_server(context, work, owner=self, on_done=done, on_error=failed)
