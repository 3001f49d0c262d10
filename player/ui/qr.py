"""QR codes as images: drawing a result code's QR codes (segno) and reading QR codes in an image (zxing-cpp).

The text in each QR code comes from sync.resultcode_qr (one code, or numbered parts); this module only turns text
into pixels and pixels into text, so the finished screen, the saved image, the results slip and the console's
reader all agree on both.
"""

from __future__ import annotations

import segno
import zxingcpp
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

QUIET_ZONE = 4
"""Light modules around the code, as the QR specification asks: without them readers miss the finder patterns."""
ERROR_CORRECTION = "m"
"""Level M (15% of the code can be lost) at least; segno raises it when that costs no extra size."""


def qr_matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """The dark (True) and light modules of the QR code for `text`, without the quiet zone.

    Result-code text is put in alphanumeric mode: 0-9, A-Z, space and `$%*+-./:` only (ValueError otherwise)."""
    symbol = segno.make_qr(text, error=ERROR_CORRECTION, mode="alphanumeric", boost_error=True)
    return tuple(tuple(bool(module) for module in row) for row in symbol.matrix)


def paint_qr(painter: QPainter, area: QRectF, text: str) -> None:
    """Draw the QR code for `text`, with its quiet zone, as the largest square centred in `area`."""
    matrix = qr_matrix(text)
    modules = len(matrix) + 2 * QUIET_ZONE
    side = min(area.width(), area.height())
    size = side / modules
    left = area.left() + (area.width() - side) / 2
    top = area.top() + (area.height() - side) / 2
    painter.save()
    painter.fillRect(QRectF(left, top, side, side), QColor("white"))
    dark = QColor("black")
    for y, row in enumerate(matrix):
        for x, on in enumerate(row):
            if on:
                # A hair wider than a module, so no seams show between neighbours when scaled.
                cell = QRectF(left + (x + QUIET_ZONE) * size, top + (y + QUIET_ZONE) * size, size + 0.3, size + 0.3)
                painter.fillRect(cell, dark)
    painter.restore()


def qr_image(text: str, *, module_pixels: int = 6) -> QImage:
    """The QR code for `text` as a black-on-white image, `module_pixels` pixels to a module, quiet zone included."""
    matrix = qr_matrix(text)
    side = (len(matrix) + 2 * QUIET_ZONE) * module_pixels
    image = QImage(side, side, QImage.Format.Format_Grayscale8)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        for y, row in enumerate(matrix):
            for x, on in enumerate(row):
                if on:
                    painter.fillRect(
                        (x + QUIET_ZONE) * module_pixels,
                        (y + QUIET_ZONE) * module_pixels,
                        module_pixels,
                        module_pixels,
                        QColor("black"),
                    )
    finally:
        painter.end()
    return image


def read_qr_texts(image: QImage) -> list[str]:
    """The text of every QR code zxing-cpp finds in `image` (a photo, a screenshot, a camera frame), in the order
    found; [] when there is none."""
    if image.isNull():
        return []
    if image.format() not in (QImage.Format.Format_Grayscale8, QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32):
        image = image.convertToFormat(QImage.Format.Format_RGB32)
    # The format set is made per call: one kept in a module global can outlive nanobind's teardown at exit,
    # which then prints a "leaked" warning (seen in some test runs).
    return [
        found.text
        for found in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
        if found.valid
    ]
