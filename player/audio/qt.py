"""The QtMultimedia audio player: plays a recording, reports start/progress/end, refuses to play unheard."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer

from player.audio.interface import AudioError, OutputDevices, PlaybackListener, check_volume
from player.audio.qt_threads import call_without_gil, settle_notify_lookups

log = logging.getLogger(__name__)

_Status = QMediaPlayer.MediaStatus
_State = QMediaPlayer.PlaybackState


class QtAudioPlayer(QObject):
    """An AudioPlayer on QMediaPlayer (FFmpeg backend).

    Each play() is followed by `started`, `progress`..., then exactly one of `finished` or `failed`
    (stop() ends a play with neither). Problems found before anything starts (no output device, a missing
    file) are reported synchronously, from inside play(). The same events go to an optional listener.

    QtMultimedia plays silently and without any error when the computer has no audio output, so the
    injected OutputDevices is checked before every play and watched while playing.
    """

    started = Signal()
    progress = Signal(int, int)  # position_ms, duration_ms
    finished = Signal()
    failed = Signal(str)  # the readable message; the listener gets the full AudioError

    @property
    def devices(self) -> OutputDevices:
        """The sound outputs this player plays to (the invigilator's room hears when there are none)."""
        return self._devices

    def __init__(self, devices: OutputDevices, *, playback_rate: float = 1.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._devices = devices
        self._listener: PlaybackListener | None = None
        self._player = QMediaPlayer(self)
        # Parented to the player: an unparented QAudioOutput can crash when Python collects it.
        self._output = QAudioOutput(self._player)
        settle_notify_lookups(self._player, self._output)
        self._player.setAudioOutput(self._output)
        self._player.setPlaybackRate(playback_rate)
        self._path: Path | None = None
        # True from play() until finished/failed/stop: Qt keeps emitting after a stop (position 0,
        # state changes), and those must not reach the student as progress or a finished play.
        self._active = False
        self._started = False
        self._last_position = 0
        self._player.playbackStateChanged.connect(self._on_state_changed)
        self._player.mediaStatusChanged.connect(self._on_status_changed)
        self._player.positionChanged.connect(self._on_position_changed)
        self._player.errorOccurred.connect(self._on_error)
        self._unsubscribe = devices.subscribe(self._on_devices_changed)

    # ---- the AudioPlayer protocol ---------------------------------------------------------------

    def play(self, path: Path) -> None:
        self._halt()
        path = Path(path)
        self._path = path
        if not self._devices.available():
            self._fail(AudioError.no_device())
            return
        if not path.is_file():
            # Checked here rather than left to Qt: faster, and the message can say "missing".
            self._fail(AudioError.missing(path))
            return
        unusable = self._player.mediaStatus() in (_Status.InvalidMedia, _Status.NoMedia)
        if path != self._loaded_path() or unusable:
            # The source changes only on a stopped pipeline: _halt above (Qt 6.11's setSource also stops first, and
            # PySide runs it without the GIL; both seen under gdb). Cleared first so a file replaced on disk after
            # a failure is opened again, not remembered.
            self._player.setSource(QUrl())
            self._player.setSource(QUrl.fromLocalFile(str(path)))
        self._active = True
        self._started = False
        self._last_position = 0
        log.info("Playing %s", path)
        call_without_gil(self._player, "play")

    def stop(self) -> None:
        if self._active:
            log.info("Stopped %s at %d ms", self._path, self._player.position())
        self._halt()

    def set_volume(self, volume: float) -> None:
        self._output.setVolume(check_volume(volume))

    def volume(self) -> float:
        return float(self._output.volume())

    def is_playing(self) -> bool:
        return self._active and self._player.playbackState() == _State.PlayingState

    def position_ms(self) -> int:
        return int(self._player.position()) if self._active else 0

    def set_listener(self, listener: PlaybackListener | None) -> None:
        self._listener = listener

    # ---- extras for the Qt side -----------------------------------------------------------------

    def set_playback_rate(self, rate: float) -> None:
        """Speed up or slow down (tests use 4.0 so real recordings finish quickly)."""
        self._player.setPlaybackRate(rate)

    def close(self) -> None:
        """Stop and stop watching the devices; call before dropping the player."""
        self._halt()
        self._unsubscribe()

    # ---- internals ------------------------------------------------------------------------------

    def _loaded_path(self) -> Path | None:
        source = self._player.source()
        return Path(source.toLocalFile()) if source.isLocalFile() else None

    def _halt(self) -> None:
        self._active = False
        self._started = False
        call_without_gil(self._player, "stop")

    def _fail(self, error: AudioError) -> None:
        self._halt()
        log.warning("Audio could not play: %s", error.log_text())
        self.failed.emit(error.message)
        if self._listener is not None:
            self._listener.on_error(error)

    def _on_state_changed(self, state: QMediaPlayer.PlaybackState) -> None:
        if self._active and not self._started and state == _State.PlayingState:
            self._started = True
            self.started.emit()
            if self._listener is not None:
                self._listener.on_started()

    def _on_position_changed(self, position: int) -> None:
        if self._active and self._started and position > 0:
            self._report_progress(position)

    def _report_progress(self, position: int) -> None:
        self._last_position = position
        duration = max(int(self._player.duration()), position)
        self.progress.emit(position, duration)
        if self._listener is not None:
            self._listener.on_progress(position, duration)

    def _on_status_changed(self, status: QMediaPlayer.MediaStatus) -> None:
        if not self._active:
            return
        if status == _Status.InvalidMedia:
            self._fail_damaged(self._player.errorString() or "Qt reported InvalidMedia")
        elif status == _Status.EndOfMedia:
            duration = int(self._player.duration())
            if self._started and duration > self._last_position:
                # Let a progress bar reach the end even if Qt's last tick came a little early.
                self._report_progress(duration)
            self._active = False
            log.info("Finished %s (%d ms)", self._path, duration)
            self.finished.emit()
            if self._listener is not None:
                self._listener.on_finished()

    def _on_error(self, error: QMediaPlayer.Error, error_string: str) -> None:
        if self._active and error != QMediaPlayer.Error.NoError:
            self._fail_damaged(f"{error.name}: {error_string}")

    def _fail_damaged(self, detail: str) -> None:
        assert self._path is not None  # _active implies play() set a path
        self._fail(AudioError.damaged(self._path, detail=detail))

    def _on_devices_changed(self) -> None:
        if not self._devices.available():
            if self._active:
                self._fail(AudioError.device_lost(path=self._path))
            return
        self._follow_default_output()

    def _follow_default_output(self) -> None:
        # If our output was the one removed, or a first device just arrived, move to the system default
        # so the next second of audio is heard rather than sent to a device that is gone.
        current = self._output.device()
        default = QMediaDevices.defaultAudioOutput()
        if default.isNull() or current == default:
            return
        if current.isNull() or current not in QMediaDevices.audioOutputs():
            log.info("Audio output now %s", default.description())
            self._output.setDevice(default)
