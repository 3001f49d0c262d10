"""doctor's real Qt edges: the audio outputs, the test tone played by the player's own QtAudioPlayer, and the
primary screen. Each needs a Qt application, which `invigil doctor` (player/cli.py) or the running app provides."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtMultimedia import QMediaDevices

from player.audio.devices import QtOutputDevices
from player.audio.qt import QtAudioPlayer
from player.doctor.edge_types import ScreenInfo

log = logging.getLogger(__name__)

TONE_VOLUME = 0.5


def _require_app(kind: type[QCoreApplication]) -> None:
    if not isinstance(QCoreApplication.instance(), kind):
        raise RuntimeError(f"this check needs a {kind.__name__}, and none was created (a bug in the caller)")


def audio_outputs() -> list[str]:
    _require_app(QCoreApplication)
    return [device.description() for device in QMediaDevices.audioOutputs()]


class QtTonePlayer:
    """Plays one file through QtAudioPlayer (the FFmpeg backend students hear recordings through) and waits, in a
    local event loop, for its end or its failure."""

    def play_tone(self, path: Path, *, timeout_seconds: float) -> str | None:
        _require_app(QCoreApplication)
        player = QtAudioPlayer(QtOutputDevices())
        player.set_volume(TONE_VOLUME)
        outcome: list[str | None] = []
        loop = QEventLoop()

        def finished() -> None:
            outcome.append(None)
            loop.quit()

        def failed(message: str) -> None:
            outcome.append(message)
            loop.quit()

        # Connected for the player's whole life and never disconnected in a slot: disconnecting while FFmpeg's
        # thread ends the play can deadlock (see tests/player/audio/test_qt_audio_player.py's _heard).
        player.finished.connect(finished)
        player.failed.connect(failed)
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)
        try:
            player.play(path)  # a missing device fails at once, inside play()
            if not outcome:
                timer.start(int(timeout_seconds * 1000))
                loop.exec()
        finally:
            timer.stop()
            player.close()
        if not outcome:
            return f"the tone did not finish within {timeout_seconds:g} seconds (the audio stack seems stuck)"
        return outcome[0]


def primary_screen() -> ScreenInfo | None:
    _require_app(QGuiApplication)
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return None
    size = screen.size()
    return ScreenInfo(
        width=size.width(), height=size.height(), platform=QGuiApplication.platformName(), name=screen.name()
    )
