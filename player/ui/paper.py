"""Printed pages shared by the access-code slips and the results slip: fonts, A4 set-up, PDFs written whole, the
print dialog and the sentences about pages and printers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QMarginsF
from PySide6.QtGui import QFont, QFontDatabase, QPagedPaintDevice, QPageLayout, QPageSize, QPdfWriter
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QWidget

ConfirmPrint = Callable[[QPrinter, QWidget], bool]
"""Shows the print dialog for `printer` (parent) and says whether to print; tests pass their own."""


def paper_font(points: float, *, bold: bool = False, italic: bool = False, mono: bool = False) -> QFont:
    """A font for paper: the system's, or its fixed-width one for codes (so groups line up)."""
    chosen = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont) if mono else QFont()
    if mono:
        chosen.setStyleHint(QFont.StyleHint.Monospace)
    chosen.setPointSizeF(points)
    chosen.setBold(bold)
    chosen.setItalic(italic)
    return chosen


def set_a4(device: QPagedPaintDevice, *, margin_mm: float) -> None:
    """Portrait A4 with the same margin all round, on a PDF writer or a printer."""
    device.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(margin_mm, margin_mm, margin_mm, margin_mm),
            QPageLayout.Unit.Millimeter,
        )
    )


def write_pdf(path: Path, *, title: str, margin_mm: float, render: Callable[[QPagedPaintDevice], int]) -> int:
    """An A4 PDF drawn by `render` (which returns the page count) written to `path`; OSError when it cannot be.

    Drawn in memory first, so a folder that cannot be written to comes back as the system's own reason (Qt's
    writer would only say it failed) and never leaves half a PDF."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(title)
    writer.setCreator("Invigil")
    set_a4(writer, margin_mm=margin_mm)
    pages = render(writer)
    del writer  # the PDF is complete once the painter has ended; the buffer holds it
    path.write_bytes(bytes(buffer.data().data()))
    return pages


def print_dialog(title: str) -> ConfirmPrint:
    """The system's print dialog, titled `title`, as a ConfirmPrint."""

    def ask(printer: QPrinter, parent: QWidget) -> bool:
        dialog = QPrintDialog(printer, parent)
        dialog.setWindowTitle(title)
        return dialog.exec() == QDialog.DialogCode.Accepted

    return ask


def printed_to(printer: QPrinter) -> str:
    """Where a print went, for the sentence that says so."""
    # "Print to file" in the dialog sets a file name; a real printer leaves it empty.
    return printer.outputFileName() or printer.printerName() or "the printer"


def pages_text(count: int) -> str:
    return "1 page" if count == 1 else f"{count} pages"
