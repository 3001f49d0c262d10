"""Results slips: a printable A4 page (or pages) per result code, with who and what it is, the code as text and its
QR code(s), for the finished screen and the console alike; as a PDF or on a printer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPagedPaintDevice, QPainter

from player.ui.paper import paper_font, print_dialog, write_pdf
from player.ui.qr import paint_qr
from sync.resultcode_qr import TooLargeForQr, qr_texts

if TYPE_CHECKING:
    from player.unsent_results import UnsentResult

log = logging.getLogger(__name__)

HEADING = "Invigil results slip"
INSTRUCTION = "Scan in the Invigil console's Result codes tab, or type the code there."
TOO_LARGE = (
    "This result code is too long for QR codes: type it in the console's Result codes tab, or open the result code "
    "file saved from this computer there."
)
MARGIN_MM = 15.0
QR_MM = 52.0
"""A printed QR code's side: a version-10 code gets modules of 0.8 mm, which a phone or webcam reads from a desk."""
QR_GAP_MM = 10.0


class ResultSlipError(Exception):
    """The slip could not be drawn (the printer would not open); the message says what to do."""


@dataclass(frozen=True)
class ResultSlip:
    """One result code as printed: who, which test and section, when it was made, and the code."""

    student_name: str
    assessment: str
    """The test's title from the delivery form ("" when unknown)."""
    section: str
    """ "Section 2 of 3: Short answers" (player.unsent_results.section_label)."""
    made_at: datetime | None
    code: str

    @classmethod
    def of(cls, result: UnsentResult, code: str) -> ResultSlip:
        """The slip of an unsent result whose code (UnsentResult.code) is `code`."""
        return cls(result.student_name, result.assessment_title, result.section, result.made_at, code)


def made_text(when: datetime) -> str:
    """ "Mon 1 Mar 2027, 10:42" in this computer's time zone."""
    local = when.astimezone()
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"


class _Page:
    """Draws top to bottom, starting a new page when the next block does not fit (the slip's continuation header
    first, so a loose page still says whose it is)."""

    def __init__(self, painter: QPainter, device: QPagedPaintDevice) -> None:
        self.painter = painter
        self.device = device
        self.width = float(device.width())
        self.height = float(device.height())
        self.mm = device.logicalDpiY() / 25.4
        self.top = 0.0
        self.pages = 1
        self.continued = ""

    def new_page(self) -> None:
        self.device.newPage()
        self.pages += 1
        self.top = 0.0
        if self.continued:
            self.text(self.continued, paper_font(9, italic=True))

    def fits(self, height: float) -> None:
        if self.top > 0 and self.top + height > self.height:
            self.new_page()

    def text(self, text: str, font: QFont, *, after: float = 0.3) -> None:
        """A paragraph, wrapped to the page width; `after` is the space below it, in lines of its font."""
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap)
        self.painter.setFont(font)
        box = QRectF(0, 0, self.width, self.height)
        needed = self.painter.boundingRect(box, flags, text).height()
        self.fits(needed)
        self.painter.setFont(font)  # the continuation header may have changed it
        self.painter.drawText(QRectF(0, self.top, self.width, needed), flags, text)
        self.top += needed + after * font.pointSizeF() * self.device.logicalDpiY() / 72

    def space(self, millimetres: float) -> None:
        self.top += millimetres * self.mm

    def qr_codes(self, texts: Sequence[str]) -> None:
        """The QR codes in rows, each under its "Part n of N" when there are several."""
        side, gap = QR_MM * self.mm, QR_GAP_MM * self.mm
        columns = max(1, int((self.width + gap) // (side + gap)))
        caption = paper_font(11, bold=True)
        caption_height = 1.8 * caption.pointSizeF() * self.device.logicalDpiY() / 72 if len(texts) > 1 else 0.0
        for start in range(0, len(texts), columns):
            self.fits(caption_height + side)
            for column, text in enumerate(texts[start : start + columns]):
                left = column * (side + gap)
                if caption_height:
                    self.painter.setFont(caption)
                    number = start + column + 1
                    self.painter.drawText(
                        QRectF(left, self.top, side, caption_height),
                        int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter),
                        f"Part {number} of {len(texts)}",
                    )
                paint_qr(self.painter, QRectF(left, self.top + caption_height, side, side), text)
            self.top += caption_height + side + gap / 2


def _draw_slip(page: _Page, slip: ResultSlip) -> None:
    page.continued = ""
    page.text(HEADING, paper_font(11))
    page.text(slip.student_name, paper_font(18, bold=True), after=0.2)
    for line in (slip.assessment, slip.section):
        if line:
            page.text(line, paper_font(13), after=0.1)
    if slip.made_at is not None:
        page.text(f"Result made {made_text(slip.made_at)}", paper_font(11))
    page.text(INSTRUCTION, paper_font(11, italic=True), after=0.8)
    page.continued = f"{slip.student_name}, {slip.section}: results slip, continued"
    try:
        texts = qr_texts(slip.code)
    except TooLargeForQr:
        page.text(TOO_LARGE, paper_font(11, bold=True), after=0.8)
    else:
        if len(texts) > 1:
            page.text(
                f"This code takes {len(texts)} QR codes: scan each part, in any order, until the console says the "
                "code is complete.",
                paper_font(11),
            )
        page.qr_codes(texts)
    page.text("The result code, to type if it cannot be scanned:", paper_font(11, bold=True), after=0.2)
    mono = paper_font(12, mono=True)
    # Line by line, so a long code runs on to the next page between lines, never through one.
    for line in slip.code.splitlines():
        page.text(line, mono, after=0.15)


def render_result_slips(device: QPagedPaintDevice, slips: Sequence[ResultSlip]) -> int:
    """Draw each slip, from a new page, onto a PDF writer or printer already set up for A4; returns the number of
    pages."""
    if not slips:
        raise ResultSlipError("There is no result code to put on a slip.")
    painter = QPainter()
    if not painter.begin(device):
        raise ResultSlipError("The printer could not be opened for drawing. Check it is switched on, or save a PDF.")
    try:
        painter.setPen(QColor("black"))
        page = _Page(painter, device)
        for index, slip in enumerate(slips):
            if index:
                page.continued = ""
                page.new_page()
            _draw_slip(page, slip)
    finally:
        painter.end()
    return page.pages


def write_result_slips_pdf(path: Path, slips: Sequence[ResultSlip]) -> int:
    """The slips as an A4 PDF at `path`; returns the number of pages. OSError when the file cannot be written."""
    students = ", ".join(dict.fromkeys(s.student_name for s in slips))
    return write_pdf(
        path,
        title=f"Results slip: {students}",
        margin_mm=MARGIN_MM,
        render=lambda writer: render_result_slips(writer, slips),
    )


ask_print = print_dialog("Print the results slip")
