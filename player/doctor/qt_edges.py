"""doctor's real Qt edges: the audio outputs, the test tone played by the player's own QtAudioPlayer, and the
primary screen. Each needs a Qt application, which `invigil doctor` (player/cli.py) or the running app provides.

They may be called from any thread (the staff console runs doctor on its task runner): QMediaDevices, QScreen and
the audio player belong to the GUI thread, so off it each call is handed to the GUI thread and waited for."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QCoreApplication, QEventLoop, QThread, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtMultimedia import QMediaDevices

from player.audio.devices import QtOutputDevices
from player.audio.qt import QtAudioPlayer
from player.doctor.edge_types import ScreenInfo

log = logging.getLogger(__name__)

T = TypeVar("T")

TONE_VOLUME = 0.5
GUI_THREAD_WAIT_SECONDS = 15.0
"""How long a worker waits for the GUI thread to answer (it answers in milliseconds unless it is stuck)."""


def _app(kind: type[QCoreApplication]) -> QCoreApplication:
    app = QCoreApplication.instance()
    if not isinstance(app, kind):
        raise RuntimeError(f"this check needs a {kind.__name__}, and none was created (a bug in the caller)")
    return app


def _on_gui_thread(app: QCoreApplication) -> bool:
    return QThread.currentThread() == app.thread()


def on_gui_thread(fn: Callable[[], T], *, kind: type[QCoreApplication] = QCoreApplication) -> T:
    """fn() on the GUI thread: at once when called there, else posted there and waited for."""
    app = _app(kind)
    if _on_gui_thread(app):
        return fn()
    done = threading.Event()
    result: list[T] = []
    failure: list[BaseException] = []

    def call() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # handed back to the waiting thread, raised there
            failure.append(exc)
        finally:
            done.set()

    QTimer.singleShot(0, app, call)
    if not done.wait(GUI_THREAD_WAIT_SECONDS):
        raise TimeoutError(f"the app's GUI thread did not answer within {GUI_THREAD_WAIT_SECONDS:g} seconds")
    if failure:
        raise failure[0]
    return result[0]


def audio_outputs() -> list[str]:
    return on_gui_thread(lambda: [device.description() for device in QMediaDevices.audioOutputs()])


def primary_screen() -> ScreenInfo | None:
    def read() -> ScreenInfo | None:
        screen = QGuiApplication.primaryScreen()
        if screen is None:
            return None
        size = screen.size()
        return ScreenInfo(
            width=size.width(), height=size.height(), platform=QGuiApplication.platformName(), name=screen.name()
        )

    return on_gui_thread(read, kind=QGuiApplication)


class QtTonePlayer:
    """Plays one file through QtAudioPlayer (the FFmpeg backend students hear recordings through) on the GUI thread,
    and waits for its end or its failure: in a local event loop when called on the GUI thread (the CLI), else
    blocking the calling worker while the GUI thread plays."""

    def play_tone(self, path: Path, *, timeout_seconds: float) -> str | None:
        app = _app(QCoreApplication)
        done = threading.Event()
        outcome: list[str | None] = []
        loop = QEventLoop() if _on_gui_thread(app) else None

        def finish(result: str | None) -> None:
            if not outcome:
                outcome.append(result)
                done.set()
                if loop is not None:
                    loop.quit()

        def start() -> None:
            # Everything Qt here is made on the GUI thread and owned by the app, so a worker's garbage collection
            # never deletes it; it is deleted on the GUI thread once the tone has ended.
            devices = QMediaDevices(app)
            player = QtAudioPlayer(QtOutputDevices(devices), parent=app)
            player.set_volume(TONE_VOLUME)

            def end(result: str | None) -> None:
                if outcome:
                    return
                player.close()
                player.deleteLater()
                devices.deleteLater()
                finish(result)

            # Connected for the player's whole life and never disconnected in a slot: disconnecting while FFmpeg's
            # thread ends the play can deadlock (see tests/player/audio/test_qt_audio_player.py's _heard).
            player.finished.connect(lambda: end(None))
            player.failed.connect(end)
            late = f"the tone did not finish within {timeout_seconds:g} seconds (the audio stack seems stuck)"
            QTimer.singleShot(int(timeout_seconds * 1000), player, lambda: end(late))
            player.play(path)  # a missing device fails at once, inside play()

        if loop is not None:
            start()
            if not done.is_set():
                loop.exec()
        else:
            QTimer.singleShot(0, app, start)
            if not done.wait(timeout_seconds + GUI_THREAD_WAIT_SECONDS):
                return "the app's GUI thread did not play the tone (it seems busy or stuck)"
        return outcome[0]
