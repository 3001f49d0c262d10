"""Staff-only: the results saved on this computer that the server has not confirmed, as result codes to carry."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QVBoxLayout, QWidget

from player.ui.console.dates import local_time
from player.ui.console.tables import choice_table, table_texts, update_row
from player.ui.paper import ConfirmPrint, pages_text, printed_to, set_a4
from player.ui.result_code_files import saved_sentence, write_code_files
from player.ui.result_slip import (
    MARGIN_MM,
    ResultSlip,
    ResultSlipError,
    ask_print,
    render_result_slips,
    write_result_slips_pdf,
)
from player.ui.widgets import ChooseSavePath, ask_save_path, button, label, set_message
from player.unsent_results import NoResultCode, UnsentResult
from sync.error_catalogue import Problem, problem

log = logging.getLogger(__name__)

COLUMNS = ("Student", "Section", "Waiting since", "Status")
HINT = (
    "These results are saved on this computer, but the server has not confirmed them yet. They keep being sent "
    "by themselves. If this computer cannot reach the server, copy a result code (or save it to a file on a USB "
    'stick, or print its results slip with QR codes) and submit it under "Result codes" on a computer that can.'
)
NOTHING_WAITING = "No results are waiting on this computer: the server has confirmed everything from here."


LocalResults = Callable[[], list[UnsentResult]]
"""Reads this computer's unsent results (player.unsent_results); called on the GUI thread (the journal's
connection lives there)."""


class UnsentResultsView(QWidget):
    """The staff-only list of this computer's unsent results, with "Copy result code", "Save ... to a file" (the
    text and its QR code images) and the results slip (PDF or printed)."""

    message_shown = Signal(str)

    def __init__(
        self,
        local_results: LocalResults,
        *,
        send_now: Callable[[], None] | None = None,
        choose_save_path: ChooseSavePath = ask_save_path,
        confirm_print: ConfirmPrint = ask_print,
        refresh_ms: int = 2000,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._read = local_results
        self._send_now = send_now
        self._choose_save_path = choose_save_path
        self._confirm_print = confirm_print
        self.results: list[UnsentResult] = []

        self.heading = label("Results waiting on this computer", name="subtitle")
        self.hint = label(HINT)
        self.table = choice_table(COLUMNS, accessible="Results waiting on this computer")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.empty = label(NOTHING_WAITING, name="saved")
        self.copy_button = button("Cop&y result code", accessible="Copy result code", primary=True)
        self.save_button = button("Save result code to a &file…", accessible="Save result code to a file")
        self.slip_button = button("Save results sli&p (PDF)…", accessible="Save results slip as a PDF")
        self.print_button = button("P&rint results slip…", accessible="Print results slip")
        self.send_button = button("Send &now", accessible="Send now")
        self.send_button.setToolTip("Try the server again now, including results it refused before")
        self.send_button.setVisible(send_now is not None)
        self.refresh_button = button("Refres&h", accessible="Refresh the list")
        self.message = label(name="status")
        set_message(self.message, "")
        row = QHBoxLayout()
        for widget in (self.copy_button, self.save_button, self.send_button):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.refresh_button)
        slip_row = QHBoxLayout()
        for widget in (self.slip_button, self.print_button):
            slip_row.addWidget(widget)
        slip_row.addStretch(1)
        layout = QVBoxLayout(self)
        for text in (self.heading, self.hint, self.empty):
            layout.addWidget(text)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addLayout(slip_row)
        layout.addWidget(self.message)

        self.copy_button.clicked.connect(self.copy_code)
        self.save_button.clicked.connect(self.save_code)
        self.slip_button.clicked.connect(self.save_slip)
        self.print_button.clicked.connect(self.print_slip)
        self.send_button.clicked.connect(self.send_now)
        self.refresh_button.clicked.connect(self.refresh)
        # The uploader may send them meanwhile: the list follows without anyone pressing Refresh.
        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    # ---- the list -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        try:
            results = sorted(self._read(), key=lambda r: r.waiting_since)
        except Exception as exc:  # a journal this version cannot read must not take the console down
            log.error("Could not read this computer's unsent results", exc_info=exc)
            self._say(
                problem(
                    "console.journal_unreadable",
                    f"Could not read the results saved on this computer: {exc} Tell IT: the details are in the "
                    "player log.",
                )
            )
            return
        keep = self.selected()
        self.results = results
        self.table.setRowCount(len(results))
        for row, result in enumerate(results):
            since = local_time(result.waiting_since)
            cells = (result.student_name, result.section, since, result.status())
            update_row(self.table, row, cells)
            if keep is not None and result.key == keep.key:
                self.table.setCurrentCell(row, 0)
        if results and self.selected() is None:
            self.table.setCurrentCell(0, 0)
        self.table.setVisible(bool(results))
        self.empty.setVisible(not results)
        for widget in (self.copy_button, self.save_button, self.slip_button, self.print_button):
            widget.setEnabled(bool(results))

    def selected(self) -> UnsentResult | None:
        row = self.table.currentRow()
        return self.results[row] if 0 <= row < len(self.results) else None

    def select(self, student_name: str) -> None:
        for row, result in enumerate(self.results):
            if result.student_name == student_name:
                self.table.setCurrentCell(row, 0)
                return
        raise LookupError(f"no unsent result of {student_name} on this computer")

    def rows(self) -> list[tuple[str, ...]]:
        return table_texts(self.table)

    # ---- copying, saving, sending -------------------------------------------------------------------

    def _chosen_code(self) -> tuple[UnsentResult, str] | None:
        result = self.selected()
        if result is None:
            self._say("Choose a result in the list first (arrow keys).")
            return None
        try:
            return result, result.code()
        except NoResultCode as exc:
            self._say(problem("result.no_code", str(exc)))
            return None

    def copy_code(self) -> None:
        chosen = self._chosen_code()
        if chosen is None:
            return
        result, code = chosen
        QGuiApplication.clipboard().setText(code)
        log.info("Staff copied the result code of an unsent result (%s)", result.key)
        self._say(
            f"The result code of {result.student_name}, {result.section}, is on the clipboard. "
            'Paste it under "Result codes" on a computer that reaches the server.'
        )

    def save_code(self) -> None:
        chosen = self._chosen_code()
        if chosen is None:
            return
        result, code = chosen
        path = self._choose_save_path(self, result.file_name())
        if path is None:
            return
        try:
            saved = write_code_files(path, code)
        except OSError as exc:
            self._say(
                problem(
                    "result.save_failed",
                    f"The result code could not be saved to {path} ({exc.strerror or exc}). "
                    "Choose another place, such as a USB stick, or copy it instead.",
                )
            )
            return
        log.info("Staff saved the result code of an unsent result (%s) to %s", result.key, path)
        self._say(saved_sentence(f"The result code of {result.student_name}, {result.section},", saved))

    def save_slip(self) -> None:
        chosen = self._chosen_code()
        if chosen is None:
            return
        result, code = chosen
        path = self._choose_save_path(self, result.slip_file_name())
        if path is None:
            return
        try:
            pages = write_result_slips_pdf(path, [ResultSlip.of(result, code)])
        except (OSError, ResultSlipError) as exc:
            reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
            self._say(
                problem(
                    "result.save_failed",
                    f"The results slip could not be saved to {path} ({reason}). "
                    "Choose another place, such as a USB stick, or save the result code to a file instead.",
                )
            )
            return
        log.info("Staff saved the results slip of an unsent result (%s) to %s", result.key, path)
        self._say(
            f"The results slip of {result.student_name}, {result.section} ({pages_text(pages)}), is saved in {path}."
        )

    def print_slip(self) -> None:
        chosen = self._chosen_code()
        if chosen is None:
            return
        result, code = chosen
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setDocName(f"Results slip: {result.student_name}, {result.section}")
        set_a4(printer, margin_mm=MARGIN_MM)
        if not self._confirm_print(printer, self):
            return
        try:
            pages = render_result_slips(printer, [ResultSlip.of(result, code)])
        except ResultSlipError as exc:
            self._say(problem("result.save_failed", str(exc)))
            return
        where = printed_to(printer)
        log.info("Staff printed the results slip of an unsent result (%s) to %s", result.key, where)
        self._say(
            f"The results slip of {result.student_name}, {result.section} ({pages_text(pages)}), went to {where}."
        )

    def send_now(self) -> None:
        if self._send_now is None:
            return
        self._send_now()
        self._say("Sending now. The list shows what is still waiting.")
        self.refresh()

    def _say(self, text: str | Problem) -> None:
        set_message(self.message, text)
        self.message_shown.emit(text.text if isinstance(text, Problem) else text)
