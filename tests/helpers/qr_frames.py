"""Pictures of result codes' QR codes as a camera or a phone would take them, and a camera that plays recorded
frames through a real QVideoSink (the stand-in for hardware the test machines do not have)."""

from __future__ import annotations

import random
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QTransform
from PySide6.QtMultimedia import QVideoFrame, QVideoSink

from player.ui.console.qr_camera import Camera
from player.ui.qr import paint_qr, qr_image

FRAME_SIZE = (640, 480)
"""A webcam's usual picture."""


def camera_frame(
    text: str | None,
    *,
    module_pixels: int = 4,
    angle: float = 0.0,
    noise: int = 0,
    busy: bool = False,
    seed: int = 1,
) -> QImage:
    """A 640×480 frame showing the QR code of `text` (None: no QR code) turned by `angle` degrees, over a plain
    or a `busy` background (desk, papers, writing), with `noise` random specks on top."""
    width, height = FRAME_SIZE
    rng = random.Random(seed)
    frame = QImage(width, height, QImage.Format.Format_RGB32)
    frame.fill(QColor("#6d6a64"))
    painter = QPainter(frame)
    try:
        if busy:
            for _ in range(40):
                painter.fillRect(
                    QRectF(
                        rng.uniform(-50, width), rng.uniform(-50, height), rng.uniform(20, 220), rng.uniform(10, 160)
                    ),
                    QColor(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
                )
            painter.setPen(QColor("#202020"))
            painter.setFont(QFont("Sans", 11))
            for line in range(12):
                painter.drawText(QPointF(rng.uniform(0, 300), 30 + 38 * line), "Section 2 of 3: Short answers 1 2 3")
        if text is not None:
            symbol = qr_image(text, module_pixels=module_pixels).convertToFormat(QImage.Format.Format_ARGB32)
            turned = (
                symbol.transformed(QTransform().rotate(angle), mode=Qt.TransformationMode.SmoothTransformation)
                if angle
                else symbol
            )
            painter.drawImage(
                QPointF((width - turned.width()) / 2 + rng.uniform(-30, 30), (height - turned.height()) / 2), turned
            )
        for _ in range(noise):
            shade = rng.randrange(256)
            painter.fillRect(QRectF(rng.uniform(0, width), rng.uniform(0, height), 2, 2), QColor(shade, shade, shade))
    finally:
        painter.end()
    return frame


def page_of(texts: list[str], *, cell: int = 300, columns: int = 3) -> QImage:
    """A scanned page holding the QR code of each of `texts`, left to right and top to bottom, with captions."""
    rows = (len(texts) + columns - 1) // columns
    page = QImage(cell * columns + 80, cell * rows + 120, QImage.Format.Format_RGB32)
    page.fill(QColor("#fbfaf6"))
    painter = QPainter(page)
    try:
        painter.setPen(QColor("black"))
        painter.drawText(QPointF(40, 40), "Results slip: hand this page to the exams office")
        for n, text in enumerate(texts):
            left, top = 40 + cell * (n % columns), 60 + cell * (n // columns)
            paint_qr(painter, QRectF(left + 10, top + 10, cell - 20, cell - 20), text)
    finally:
        painter.end()
    return page


def saved(image: QImage, path: Path) -> Path:
    assert image.save(str(path)), f"could not save {path}"
    return path


class RecordedCamera:
    """A camera that shows `frames` over and over, one new frame each time the reader looks (so every recorded
    frame is read, in order). The frames go through a real QVideoSink, as a real camera's do."""

    def __init__(self, frames: list[QImage], *, name: str = "Recorded camera") -> None:
        self.name = name
        self.frames = frames
        self.sink = QVideoSink()
        self.shown = 0
        """Frames put in the sink so far."""
        self.running = False
        self.fault = ""
        """Set by a test: the sentence failure() gives, as a camera that stopped working would."""

    def camera(self) -> Camera:
        return Camera(self.name, lambda: self)

    def start(self) -> None:
        self.running = True
        self._show_next()

    def stop(self) -> None:
        self.running = False

    def frame(self) -> QVideoFrame:
        current = self.sink.videoFrame()
        if self.running:
            self._show_next()  # the camera's next picture, there by the reader's next look
        return current

    def failure(self) -> str:
        return self.fault

    def _show_next(self) -> None:
        self.sink.setVideoFrame(QVideoFrame(self.frames[self.shown % len(self.frames)]))
        self.shown += 1
