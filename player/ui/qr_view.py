"""A result code's QR code(s) on screen, for a phone or webcam at arm's length: one part at a time with "Part 1 of
3" and Previous/Next part, or the sentence saying why there is no QR code."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QWidget

from player.ui.widgets import button, label, set_message
from sync.error_catalogue import Problem, problem

SIDE = 325
"""The symbol's box in pixels: a version-10 code (65 modules with its quiet zone) at 5 pixels a module."""
MIN_SIDE = 260
"""The least it gets: 4 pixels a module for a version-10 code."""


class QrSymbol(QWidget):
    """One QR code, drawn as large as its box allows with a whole number of pixels per module (crisp edges are
    what a camera locks on to)."""

    def __init__(self, side: int = SIDE, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # As wide as `side`; as tall as the window allows down to 4 pixels a module for a version-10 code (which a
        # webcam at arm's length still reads), so a message under the buttons never pushes Finished off screen.
        self.setFixedWidth(side)
        self.setMinimumHeight(MIN_SIDE)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self._side = side
        self._text = ""
        self._modules = 0

    def sizeHint(self) -> QSize:
        return QSize(self._side, self._side)

    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        # Imported here: segno and zxing-cpp are loaded when a code is first shown, not when the screen is built.
        from player.ui.qr import QUIET_ZONE, qr_matrix

        self._text = text
        self._modules = len(qr_matrix(text)) + 2 * QUIET_ZONE if text else 0
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self._text:
            return
        from player.ui.qr import paint_qr

        box = min(self.width(), self.height())
        per_module = box // self._modules
        side = per_module * self._modules if per_module >= 1 else box
        area = QRectF((self.width() - side) // 2, (self.height() - side) // 2, side, side)
        painter = QPainter(self)
        try:
            paint_qr(painter, area, self._text)
        finally:
            painter.end()


class QrCodeParts:
    """The QR code(s) of one result code: a single symbol, or numbered parts shown one at a time (a camera reads
    them one after the other, in any order), or why there are none. Its widgets are laid out by the screen: the
    symbol (with `problem` in its place) where there is room, the `steps` row under the code's text."""

    def __init__(self, side: int = SIDE) -> None:
        self._texts: list[str] = []
        self._index = 0
        self._subject = ""
        self.symbol = QrSymbol(side)
        self.part = label(name="qrPart")
        self.previous_button = button("&Previous part", accessible="Previous part of the QR code")
        self.previous_button.clicked.connect(self.previous_part)
        self.next_button = button("&Next part", accessible="Next part of the QR code")
        self.next_button.clicked.connect(self.next_part)
        self.problem = label()
        self.problem.setMaximumWidth(side)
        self.steps = QHBoxLayout()
        self.steps.setContentsMargins(0, 0, 0, 0)
        self.steps.addWidget(self.part, 1)
        self.steps.addWidget(self.previous_button)
        self.steps.addWidget(self.next_button)
        self.show_code("")

    def show_code(self, code: str, *, subject: str = "the result code") -> None:
        """Show `code`'s QR code(s) from the first part ("" shows nothing); `subject` names it for a screen
        reader ("the result code for Section 1 of 3: Multiple choice")."""
        from sync.resultcode_qr import TooLargeForQr, qr_texts

        self._subject = subject
        too_long: Problem | None = None
        try:
            self._texts = qr_texts(code) if code else []
        except TooLargeForQr as exc:
            self._texts, too_long = [], problem("result.too_long_for_qr", str(exc))
        set_message(self.problem, too_long or "")
        several = len(self._texts) > 1
        for widget in (self.part, self.previous_button, self.next_button):
            widget.setVisible(several)
        self.symbol.setVisible(bool(self._texts))
        self.show_part(0)

    def texts(self) -> list[str]:
        """The text of every QR code of the code shown, in part order."""
        return list(self._texts)

    def part_index(self) -> int:
        return self._index

    def show_part(self, index: int) -> None:
        """Show part `index` (from 0; wraps around, so Next after the last part starts again)."""
        count = len(self._texts)
        self._index = index % count if count else 0
        self.symbol.set_text(self._texts[self._index] if count else "")
        if count > 1:
            part = f"Part {self._index + 1} of {count}"
            self.part.setText(part)
            self.part.setAccessibleName(f"QR code {part.lower()}")
            self.symbol.setAccessibleName(f"QR code of {self._subject}, {part.lower()}")
        else:
            self.symbol.setAccessibleName(f"QR code of {self._subject}" if count else "No QR code")

    def next_part(self) -> None:
        self.show_part(self._index + 1)

    def previous_part(self) -> None:
        self.show_part(self._index - 1)
