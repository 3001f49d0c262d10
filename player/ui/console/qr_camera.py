"""The QR reader's cameras: a real one (QCamera into a QVideoSink, polled) and the interface a test camera fills."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from PySide6.QtMultimedia import QCamera, QCameraDevice, QMediaCaptureSession, QMediaDevices, QVideoFrame, QVideoSink

from player.audio.qt_threads import settle_notify_lookups


class FrameSource(Protocol):
    """Where camera frames come from: the newest one is asked for, on the GUI thread, when the reader wants it."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def frame(self) -> QVideoFrame:
        """The newest frame (an invalid one before the first)."""
        ...

    def failure(self) -> str:
        """What went wrong with the camera, as a sentence for staff; "" while it works."""
        ...


@dataclass(frozen=True)
class Camera:
    name: str
    open: Callable[[], FrameSource]


ListCameras = Callable[[], list[Camera]]


class CameraFeed:
    """A real camera: QCamera into a QVideoSink, whose newest frame the reader polls.

    Nothing of ours is connected to the sink's or the camera's signals: the FFmpeg backend emits them on its own
    threads, and a Python slot run there can deadlock with the GUI thread over the GIL. Made from Python, the
    objects are PySide wrappers even though we do not subclass them, and a Qt thread connecting to or disconnecting
    from one would ask Python for an override (the audio deadlock of issue 18, on QAudioOutput); settling those
    lookups here, as the audio player does, keeps that off the GIL too. (No camera on the build machine: this is
    defence in depth, not a fix of a seen hang; see player/audio/qt_threads.py.)"""

    def __init__(self, device: QCameraDevice) -> None:
        self._name = device.description()
        self._camera = QCamera(device)
        self._session = QMediaCaptureSession()
        self._sink = QVideoSink()
        settle_notify_lookups(self._camera, self._session, self._sink)  # before any Qt thread can ask
        self._session.setCamera(self._camera)
        self._session.setVideoSink(self._sink)

    def start(self) -> None:
        self._camera.start()

    def stop(self) -> None:
        self._camera.stop()

    def frame(self) -> QVideoFrame:
        return self._sink.videoFrame()

    def failure(self) -> str:
        # Polled rather than taken from errorOccurred, for the reason in the class docstring.
        if self._camera.error() == QCamera.Error.NoError:
            return ""
        return (
            f"The camera{f' ({self._name})' if self._name else ''} does not work: "
            f"{self._camera.errorString().rstrip('.') or 'it reported an error'}. "
            "Check it is plugged in and not in use by another program, then press Scan QR code again, or open a "
            "photo of the QR code instead."
        )


def system_cameras() -> list[Camera]:
    return [Camera(device.description(), partial(CameraFeed, device)) for device in QMediaDevices.videoInputs()]
