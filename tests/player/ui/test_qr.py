"""QR codes drawn by the player come back from zxing-cpp as the same text, drawn alone or inside a larger picture."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from player.ui.qr import paint_qr, qr_image, qr_matrix, read_qr_texts
from sync.resultcode_qr import qr_texts

CODE = "\n".join("-".join(f"3{n:02d}ABC" for n in range(line * 5, line * 5 + 5)) for line in range(30))


def test_each_qr_image_of_a_long_code_reads_back_as_its_text(qapp: QApplication) -> None:
    texts = qr_texts(CODE)
    assert len(texts) == 4

    assert [read_qr_texts(qr_image(text)) for text in texts] == [[text] for text in texts]


def test_a_qr_code_painted_small_on_a_coloured_page_is_found(qapp: QApplication) -> None:
    text = qr_texts(CODE)[0]
    page = QImage(900, 700, QImage.Format.Format_RGB888)
    page.fill(QColor("#e8eef6"))
    painter = QPainter(page)
    try:
        paint_qr(painter, QRectF(520, 320, 300, 300), text)
    finally:
        painter.end()

    assert read_qr_texts(page) == [text]


def test_an_image_with_no_qr_code_gives_nothing(qapp: QApplication) -> None:
    blank = QImage(200, 200, QImage.Format.Format_RGB32)
    blank.fill(QColor("white"))

    assert read_qr_texts(blank) == []
    assert read_qr_texts(QImage()) == []


def test_a_single_code_fits_a_webcam_sized_symbol() -> None:
    # Version 10 (57 modules) at most: larger symbols need a steadier hand and a closer camera.
    (text,) = qr_texts(CODE[:298])

    assert len(qr_matrix(text)) <= 57


def test_text_outside_the_alphanumeric_set_is_refused() -> None:
    with pytest.raises(ValueError, match="alphanumeric"):
        qr_matrix("lower case is not alphanumeric")
