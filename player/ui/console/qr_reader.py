"""The console's QR code reader: result codes read from a camera, a photo or screenshot file, or a pasted picture.

The texts found go through sync.resultcode_qr's PartCollector (parts joined in any order); each complete code is
handed on with `code_read`, for the "Result codes" tab to submit exactly like a typed one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QHideEvent, QImage, QImageReader, QPixmap
from PySide6.QtMultimedia import QVideoFrame
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from player.ui.console.qr_camera import FrameSource, ListCameras, system_cameras
from player.ui.console.sittings import guarded
from player.ui.qr import read_qr_texts
from player.ui.tasks import TaskRunner
from player.ui.widgets import button, label, set_message
from sync.error_catalogue import Problem, number_for, problem
from sync.resultcode_qr import PartCollector, TooLargeForQr, qr_texts

log = logging.getLogger(__name__)

POLL_MS = 250
"""How often the newest camera frame is looked at: four reads a second find a QR code held still at once, and
leave the GUI thread free (decoding runs on a worker)."""
MAX_IMAGE_BYTES = 40 * 1024 * 1024
"""A phone photo is a few MB, a screenshot less; a bigger file is not a picture of a QR code."""
MAX_IMAGE_PIXELS = 80_000_000
"""Checked from the file's header before decoding, so a small file claiming a vast picture is refused at once."""
PREVIEW_SIZE = (320, 240)
NO_CAMERA = (
    "No camera found on this computer: open a photo or screenshot of the QR code instead (Open image of QR "
    "code…), or copy a screenshot and press Paste image."
)
IMAGE_FILTER = "Pictures (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"
_CODE_TEXT = re.compile(r"[0-9A-Z -]+")
"""What a whole code's QR text holds (sync.resultcode_qr puts codes in alphanumeric mode, line breaks as spaces)."""

ChooseImage = Callable[[QWidget], Path | None]
"""Asks for a picture to read (parent) -> the path, or None when cancelled; tests pass their own."""


def ask_open_qr_image(parent: QWidget) -> Path | None:
    name, _ = QFileDialog.getOpenFileName(parent, "Open a photo or screenshot of the QR code", "", IMAGE_FILTER)
    return Path(name) if name else None


def read_image_file(path: Path) -> QImage:
    """The picture in `path`; ValueError with a sentence naming the file when it cannot be one (runs on a worker)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist any more. Choose the picture again.") from None
    except OSError as exc:
        raise ValueError(f"{path.name} cannot be read ({exc.strerror}).") from None
    if size > MAX_IMAGE_BYTES:
        raise ValueError(
            f"{path.name} is {size / 1024 / 1024:.0f} MB: too big for a photo of a QR code (at most "
            f"{MAX_IMAGE_BYTES // 1024 // 1024} MB). Open a smaller photo, or a screenshot of just the QR code."
        )
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)  # phone photos say their orientation in EXIF
    dimensions = reader.size()
    if dimensions.isValid() and dimensions.width() * dimensions.height() > MAX_IMAGE_PIXELS:
        raise ValueError(
            f"{path.name} says it is {dimensions.width():,} × {dimensions.height():,} pixels: too big to be a photo "
            "of a QR code. Open a smaller photo, or a screenshot of just the QR code."
        )
    image = reader.read()
    if image.isNull():
        raise ValueError(
            f"{path.name} cannot be opened as a picture ({reader.errorString()}). Open a PNG or JPEG photo or "
            "screenshot of the QR code."
        )
    return image


def _texts_of(code: str) -> set[str]:
    """Every QR text that carries `code` (the whole code, or each of its parts), so none of them is read again."""
    try:
        return set(qr_texts(code))
    except TooLargeForQr:
        return set()


def _set_of(text: str) -> str:
    """The set a part belongs to ("PART 2 OF 3 SET K7QX:..." -> "K7QX"); a whole code is its own set."""
    head, _, _ = text.partition(":")
    return head.rsplit(" ", 1)[-1] if head.strip().upper().startswith("PART") else text


class QrReaderPanel(QWidget):
    """Scan with a camera, open a picture, or paste one; complete codes come out of `code_read` once each."""

    code_read = Signal(str)

    def __init__(
        self,
        *,
        tasks: TaskRunner,
        cameras: ListCameras = system_cameras,
        choose_image: ChooseImage = ask_open_qr_image,
        poll_ms: int = POLL_MS,
    ) -> None:
        super().__init__()
        self._tasks = tasks
        self._cameras = cameras
        self._choose_image = choose_image
        self._collector = PartCollector()
        self._handled: set[str] = set()
        self._feed: FrameSource | None = None
        self._last_frame: QVideoFrame | None = None
        self._decoding_frame = False
        # Mnemonics clear of the tab's other buttons (Submit, Open saved file, Clear), the tabs and the header.
        self.scan_button = button("Sca&n QR code", accessible="Scan QR code")
        self.camera_choice = QComboBox()
        self.camera_choice.setAccessibleName("Camera")
        self.camera_choice.hide()
        self.open_image_button = button("Open &image of QR code…", accessible="Open image of QR code")
        self.paste_button = button("&Paste image", accessible="Paste image")
        self.preview = QLabel()
        self.preview.setAccessibleName("Camera picture")
        self.preview.setFixedSize(*PREVIEW_SIZE)
        self.preview.hide()
        self.status = label(accessible="No message")
        self.status.hide()
        row = QHBoxLayout()
        for widget in (self.scan_button, self.camera_choice, self.open_image_button, self.paste_button):
            row.addWidget(widget)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.preview)
        layout.addWidget(self.status)
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self._poll)
        self.scan_button.clicked.connect(self.toggle_camera)
        self.open_image_button.clicked.connect(self.choose_image)
        self.paste_button.clicked.connect(self.paste_image)

    # ---- the camera ------------------------------------------------------------------------------------

    @property
    def camera_on(self) -> bool:
        return self._feed is not None

    def toggle_camera(self) -> None:
        if self._feed is not None:
            self.stop_camera()
            self._say("Camera off.", error=False)
        else:
            self.start_camera()

    def start_camera(self) -> None:
        cameras = self._cameras()
        if not cameras:
            self._say(problem("console.no_camera", NO_CAMERA), error=True)
            self.open_image_button.setFocus()
            return
        names = [camera.name or f"Camera {n}" for n, camera in enumerate(cameras, start=1)]
        chosen = self.camera_choice.currentText()
        self.camera_choice.clear()
        self.camera_choice.addItems(names)
        if chosen in names:
            self.camera_choice.setCurrentIndex(names.index(chosen))
        self.camera_choice.setVisible(len(cameras) > 1)
        camera = cameras[max(self.camera_choice.currentIndex(), 0)]
        feed = camera.open()
        self._feed = feed
        self._last_frame = None
        feed.start()
        self.timer.start()
        self.preview.clear()
        self.preview.show()
        self.scan_button.setText("S&top camera")
        self.scan_button.setAccessibleName("Stop camera")
        self._say(
            f"Camera on ({names[cameras.index(camera)]}): hold the QR code up to it, about a hand's width away, "
            "until its code is read. Read each part of a long code in turn, in any order.",
            error=False,
        )
        log.info("QR reader: camera %r started", camera.name)

    def stop_camera(self) -> None:
        """Stop the camera and let it go (leaving the tab, Stop, a console that closes or locks)."""
        feed, self._feed = self._feed, None
        self.timer.stop()
        self._last_frame = None
        self.preview.hide()
        self.scan_button.setText("Sca&n QR code")
        self.scan_button.setAccessibleName("Scan QR code")
        if feed is not None:
            feed.stop()
            log.info("QR reader: camera stopped")

    def hideEvent(self, event: QHideEvent) -> None:
        # Another tab, sign-out, lock or close: nobody is looking, so the camera goes off (and its light with it).
        self.stop_camera()
        super().hideEvent(event)

    def _poll(self) -> None:
        feed = self._feed
        if feed is None:
            return
        failure = feed.failure()
        if failure:
            self.stop_camera()
            self._say(problem("console.camera_failed", failure), error=True)
            return
        if self._decoding_frame:
            return  # the frame before is still being read; a newer one is taken when that is done
        frame = feed.frame()
        if not frame.isValid() or (self._last_frame is not None and frame == self._last_frame):
            return
        self._last_frame = frame
        image = frame.toImage()
        if image.isNull():
            return
        width, height = PREVIEW_SIZE
        self.preview.setPixmap(
            QPixmap.fromImage(image).scaled(
                width, height, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )
        self._decoding_frame = True

        def read(texts: list[str]) -> None:
            self._decoding_frame = False
            self._take(texts, where=None)

        def failed(exc: Exception) -> None:
            self._decoding_frame = False
            log.warning("QR reader: a camera frame could not be read: %s", exc)

        self._tasks.run(partial(read_qr_texts, image), on_done=guarded(self, read), on_error=guarded(self, failed))

    # ---- pictures --------------------------------------------------------------------------------------

    def choose_image(self) -> None:
        path = self._choose_image(self)
        if path is not None:
            self.load_image(path)

    def load_image(self, path: Path) -> None:
        self._say(f"Reading {path.name}…", error=False)

        def work() -> list[str]:
            return read_qr_texts(read_image_file(path))

        self._tasks.run(
            work,
            on_done=guarded(self, lambda texts: self._take(texts, where=path.name)),
            on_error=guarded(self, lambda exc: self._say(problem("console.qr_unreadable", str(exc)), error=True)),
        )

    def paste_image(self) -> None:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self._say(
                problem(
                    "console.input_needed",
                    "The clipboard holds no picture. Take a screenshot of the QR code (or copy a photo of it), then "
                    "press Paste image again.",
                ),
                error=True,
            )
            return
        self._say("Reading the pasted picture…", error=False)
        self._tasks.run(
            partial(read_qr_texts, image),
            on_done=guarded(self, lambda texts: self._take(texts, where="the pasted picture")),
            on_error=guarded(self, lambda exc: self._say(problem("console.qr_unreadable", str(exc)), error=True)),
        )

    # ---- what was read ---------------------------------------------------------------------------------

    def forget(self) -> None:
        """Clear: partial sets are dropped, and codes already read may be read (and submitted) again."""
        self._collector.clear()
        self._handled.clear()
        self._say("", error=False)

    def _take(self, texts: list[str], *, where: str | None) -> None:
        """The texts of the QR codes found in one picture (`where`: its name) or one camera frame (None)."""
        if not texts:
            if where is not None:
                self._say(
                    problem(
                        "console.qr_unreadable",
                        f"No QR code found in {where}. Make sure the whole QR code is in the picture, sharp and not "
                        "cut off, or type the code instead.",
                    ),
                    error=True,
                )
            return
        messages: dict[str, str] = {}  # by set: the newest progress of each code's parts says it all
        refusals: list[str] = []
        codes: list[str] = []
        for text in texts:
            if text in self._handled:
                continue  # a camera sees the same code frame after frame: it was submitted the first time
            if not text.strip().upper().startswith("PART") and not _CODE_TEXT.fullmatch(text.strip()):
                refusals.append(
                    f"This QR code is not a result code (it holds {text.strip()[:40]!r}). Read the QR code shown on "
                    "the player's finished screen or printed on the results slip."
                )
                continue
            found = self._collector.add(text)
            if found.refused:
                refusals.append(found.message)
            elif found.message:
                messages[_set_of(text)] = found.message
            if found.code is not None:
                self._handled |= _texts_of(found.code) | {text}
                codes.append(found.code)
        shown = [m for m in refusals + list(messages.values()) if m]
        if shown:
            number = number_for("console.qr_unreadable") if refusals else None
            self._say(Problem(" ".join(dict.fromkeys(shown)), number), error=bool(refusals))
        elif not codes and where is not None:
            self._say(
                f"The QR code in {where} was read before and its code submitted. Press Clear to read it again.",
                error=False,
            )
        elif codes:
            self._say("QR code read.", error=False)
        for code in codes:
            self.code_read.emit(code)

    def _say(self, text: str | Problem, *, error: bool) -> None:
        self.status.setObjectName("error" if error else "saved")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        set_message(self.status, text)
