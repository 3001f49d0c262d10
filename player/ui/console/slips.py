"""Access-code slips: one per student (name, code, sitting, window), eight to an A4 page with cut lines; PDF or print."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QPagedPaintDevice,
    QPainter,
    QPen,
    QShowEvent,
)
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QVBoxLayout, QWidget

from player.ui.console.server_calls import call_server, error_sentence, note_in_log
from player.ui.console.sitting_tab import SittingTab, file_stem
from player.ui.console.sittings import SittingContext
from player.ui.paper import ConfirmPrint, pages_text, paper_font, print_dialog, printed_to, set_a4, write_pdf
from player.ui.widgets import ChooseSavePath, ask_save_path, button, label
from sync import accesscode
from sync import staff_protocol as sp
from sync.error_catalogue import Problem, number_for, problem
from sync.protocol import LogDetailValue

log = logging.getLogger(__name__)

COLUMNS, ROWS = 2, 4
PER_PAGE = COLUMNS * ROWS
MARGIN_MM = 10.0
PADDING_MM = 5.0
INSTRUCTION = "Type this code on the test computer"


class SlipsError(Exception):
    """The slips could not be drawn (the PDF file or printer would not open)."""


@dataclass(frozen=True)
class Slip:
    student_name: str
    unique_id: str
    code: str
    """As printed: XXXX-XXXX."""
    sitting_name: str
    window: str


def window_text(start: datetime, end: datetime) -> str:
    """The sitting's window in this computer's time zone: "Mon 1 Mar 2027, 08:55 to 17:00"."""
    start, end = start.astimezone(), end.astimezone()

    def day(d: datetime) -> str:
        return f"{d:%a} {d.day} {d:%b %Y}"

    if start.date() == end.date():
        return f"{day(start)}, {start:%H:%M} to {end:%H:%M}"
    return f"{day(start)} {start:%H:%M} to {day(end)} {end:%H:%M}"


def make_slips(sitting: sp.SittingOut, codes: Sequence[sp.CodeSlipOut]) -> list[Slip]:
    """One slip per student, in name order so they are easy to hand out."""
    window = window_text(sitting.window_start, sitting.window_end)
    return [
        Slip(c.student_name, c.unique_id, accesscode.display(c.code), sitting.name, window)
        for c in sorted(codes, key=lambda c: (c.student_name.casefold(), c.unique_id))
    ]


def render_slips(device: QPagedPaintDevice, slips: Sequence[Slip]) -> int:
    """Draw the slips onto a PDF writer or printer already set up for A4; returns the number of pages."""
    if not slips:
        raise SlipsError("This sitting has no students, so there are no slips to print. Add students first.")
    painter = QPainter()
    if not painter.begin(device):
        raise SlipsError("The PDF file or printer could not be opened for drawing. Check it is not open elsewhere.")
    try:
        width, height = device.width(), device.height()
        cell_w, cell_h = width / COLUMNS, height / ROWS
        pad = PADDING_MM * device.logicalDpiX() / 25.4
        pages = 0
        for index, slip in enumerate(slips):
            if index % PER_PAGE == 0:
                if index:
                    device.newPage()
                pages += 1
                _cut_lines(painter, width, height, on_page=min(PER_PAGE, len(slips) - index))
            spot = index % PER_PAGE
            cell = QRectF((spot % COLUMNS) * cell_w, (spot // COLUMNS) * cell_h, cell_w, cell_h)
            _draw_slip(painter, cell.adjusted(pad, pad, -pad, -pad), slip)
    finally:
        painter.end()
    return pages


def _cut_lines(painter: QPainter, width: float, height: float, *, on_page: int) -> None:
    pen = QPen(QColor("#888888"))
    pen.setStyle(Qt.PenStyle.DashLine)
    pen.setWidthF(max(1.0, painter.device().logicalDpiX() / 300))
    painter.setPen(pen)
    rows_used = (on_page + COLUMNS - 1) // COLUMNS
    cell_w, cell_h = width / COLUMNS, height / ROWS
    for row in range(rows_used + 1):
        painter.drawLine(0, round(row * cell_h), round(width), round(row * cell_h))
    for col in range(COLUMNS + 1):
        painter.drawLine(round(col * cell_w), 0, round(col * cell_w), round(rows_used * cell_h))


def _draw_slip(painter: QPainter, area: QRectF, slip: Slip) -> None:
    lines = [
        (slip.student_name, paper_font(14, bold=True)),
        (slip.unique_id, paper_font(9)),
        ("Access code", paper_font(9)),
        (slip.code, paper_font(24, bold=True, mono=True)),
        (slip.sitting_name, paper_font(11)),
        (slip.window, paper_font(10)),
        (INSTRUCTION, paper_font(10, italic=True)),
    ]
    painter.setPen(QColor("black"))
    flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap)
    top = area.top()
    for text, font in lines:
        painter.setFont(font)
        box = QRectF(area.left(), top, area.width(), area.bottom() - top)
        used = painter.boundingRect(box, flags, text)
        painter.drawText(box, flags, text)
        top += used.height() + font.pointSizeF() * painter.device().logicalDpiY() / 72 * 0.25


def write_slips_pdf(path: Path, slips: Sequence[Slip], *, title: str = "Access-code slips") -> int:
    """The slips as an A4 PDF; returns the number of pages (OSError when the file cannot be written)."""
    return write_pdf(path, title=title, margin_mm=MARGIN_MM, render=lambda writer: render_slips(writer, slips))


ask_print = print_dialog("Print access-code slips")


@dataclass(frozen=True)
class _Loaded:
    sitting: sp.SittingOut
    codes: list[sp.CodeSlipOut]


class SlipsView(SittingTab):
    """Lists whose slips will print; "Save PDF..." and "Print..." make one slip per student."""

    loaded = Signal(int)  # number of slips ready
    done = Signal(str)  # what was made, as told to the invigilator

    def __init__(
        self,
        context: SittingContext,
        *,
        choose_save_path: ChooseSavePath = ask_save_path,
        confirm_print: ConfirmPrint = ask_print,
        fetch_now: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        """`fetch_now=False` waits until the view is first shown: fetching the codes is itself logged on the
        server ("Fetched the access codes"), so the console does it only when someone opens the slips."""
        super().__init__(context, parent)
        self._fetched = False
        self._choose_save_path = choose_save_path
        self._confirm_print = confirm_print
        self.slips: list[Slip] = []

        self.heading = label(f"Access-code slips: {context.sitting_name}", name="subtitle")
        self.students = QListWidget()
        self.students.setAccessibleName("Students who get a slip")
        self.save_button = button("&Save PDF...", accessible="Save the slips as a PDF", primary=True)
        self.save_button.clicked.connect(self.save_pdf)
        self.print_button = button("&Print...", accessible="Print the slips")
        self.print_button.clicked.connect(self.print_slips)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.print_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(label("Keep printed slips safe: a code lets anyone start that student's test."))
        layout.addWidget(self.students, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.error)
        self._set_ready(False)
        if fetch_now:
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._fetched:
            self.refresh()

    def refresh(self) -> None:
        self._fetched = True
        token, sitting_id = self._context.token, self._context.sitting_id
        self._say("Fetching the codes...")
        call_server(
            self._context,
            lambda c: _Loaded(c.sitting(token, sitting_id), c.codes(token, sitting_id)),
            owner=self,
            on_done=self._show,
            on_error=lambda exc: self._fail(error_sentence(exc, doing="fetch the access codes")),
        )

    def _show(self, loaded: _Loaded) -> None:
        self.slips = make_slips(loaded.sitting, loaded.codes)
        self.students.clear()
        # Names only on screen: the codes stay on paper, away from anyone looking over a shoulder.
        self.students.addItems([f"{s.student_name} ({s.unique_id})" for s in self.slips])
        self._set_ready(bool(self.slips))
        self._say(f"{len(self.slips)} slips ready." if self.slips else "This sitting has no students yet.")
        self.loaded.emit(len(self.slips))

    def save_pdf(self) -> None:
        path = self._choose_save_path(self, f"{file_stem(self._context.sitting_name)} slips.pdf")
        if path is None:
            return
        try:
            pages = write_slips_pdf(path, self.slips, title=f"Access-code slips: {self._context.sitting_name}")
        except (SlipsError, OSError) as exc:
            self._fail(
                problem("console.slips_failed", str(exc))
                if isinstance(exc, SlipsError)
                else error_sentence(exc, doing="save the slips")
            )
            return
        detail: dict[str, LogDetailValue] = {"to": "pdf", "file": path.name, "slips": len(self.slips), "pages": pages}
        self._finish(f"Saved {len(self.slips)} slips ({pages_text(pages)}) to {path}.", detail)

    def print_slips(self) -> None:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setDocName(f"Access-code slips: {self._context.sitting_name}")
        set_a4(printer, margin_mm=MARGIN_MM)
        if not self._confirm_print(printer, self):
            return
        try:
            pages = render_slips(printer, self.slips)
        except SlipsError as exc:
            self._fail(problem("console.slips_failed", str(exc)))
            return
        where = printed_to(printer)
        detail: dict[str, LogDetailValue] = {
            "to": "printer",
            "printer": where,
            "slips": len(self.slips),
            "pages": pages,
        }
        self._finish(f"Sent {len(self.slips)} slips ({pages_text(pages)}) to {where}.", detail)

    def _finish(self, text: str, detail: dict[str, LogDetailValue]) -> None:
        """Say what was made, then note it in the sitting's log; `done` once the log has it (or said why not)."""
        self._say(text)
        context = self._context

        def logged(why: str | Problem) -> None:
            # `why`: "" once logged, else why not (note_in_log's sentence, or the failed call's problem).
            reason = why.text if isinstance(why, Problem) else why
            final = f"{text} {reason}" if reason else text
            if reason:
                number = why.number if isinstance(why, Problem) else number_for("console.not_logged")
                self._fail(Problem(final, number))
            self.done.emit(final)

        call_server(
            context,
            lambda c: note_in_log(c, context, "print_slips", detail),
            owner=self,
            on_done=logged,
            on_error=lambda exc: logged(error_sentence(exc, doing="note the slips in the sitting's log")),
        )

    def _set_ready(self, ready: bool) -> None:
        self.save_button.setEnabled(ready)
        self.print_button.setEnabled(ready)
