"""The base of an open sitting's tabs (results, manual entries, incidents, slips): one outcome line, and
"Export CSV..." fetched fresh and noted in the sitting's log; the file names they suggest."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QPushButton, QWidget

from player.csv_export import write_csv
from player.ui.console.server_calls import call_server, error_sentence, note_in_log
from player.ui.console.sittings import SittingContext
from player.ui.widgets import ChooseSavePath, label, set_message, show_outcome
from sync.client import InvigilClient
from sync.error_catalogue import Problem
from sync.protocol import SittingLogAction

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

    def _fail(self, problem: Problem) -> None:
        show_outcome(message=self.message, error=self.error, text=problem, failed=True)
        self.message_shown.emit(problem.text)


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
