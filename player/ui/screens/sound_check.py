"""Sound check before a sitting with audio: is there an output, and did the student hear the clip?"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from player.audio.interface import DEVICE_LOST_MESSAGE, NO_DEVICE_MESSAGE

if TYPE_CHECKING:
    from player.audio.interface import OutputDevices
    from player.audio.qt import QtAudioPlayer
from player.ui.screens.item_widgets import VolumeSlider
from player.ui.widgets import button, centred_column, label, set_message
from sync.error_catalogue import Problem, problem

log = logging.getLogger(__name__)

ABOUT_TO_PLAY = "You will hear a short sound in a moment, through your headphones or speakers. Listen for it."
LEAD_IN_MS = 1500
"""How long ABOUT_TO_PLAY is on screen before the sound starts: a student reads it first, not after hearing it."""

NOT_HEARD_GUIDANCE = (
    "Please ask your invigilator to check: the volume (here and on the computer) is turned up, "
    "the headphones are plugged in properly, and the computer is using the right speakers or headphones. "
    "Then choose Try again."
)


class SoundCheckScreen(QWidget):
    """Says a sound is coming, plays it `lead_in_ms` later and asks; emits `passed` once the student says they heard
    it. With no output it cannot be passed."""

    passed = Signal()
    outcome = Signal(str)
    """Each outcome as sync.protocol.AudioStatus ("heard", "not_heard", "no_device", "playback_failed"), for the
    invigilator's room."""

    def __init__(
        self,
        *,
        devices: OutputDevices,
        player: QtAudioPlayer,
        clip: Path,
        lead_in_ms: int = LEAD_IN_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._devices = devices
        self._player = player
        self._clip = clip
        self._active = False
        self.heading = label("Sound check", name="title")
        self.about_to_play = label(ABOUT_TO_PLAY, name="subtitle")
        self._lead_in = QTimer(self)
        self._lead_in.setSingleShot(True)
        self._lead_in.setInterval(lead_in_ms)
        self._lead_in.timeout.connect(self._play)
        self.question = label("Did you hear it?", name="subtitle")
        self.message = label(name="error")
        self.volume = VolumeSlider(player)
        self.play_button = button("&Play again")
        self.yes_button = button("&Yes, I heard it", primary=True)
        self.no_button = button("&No, I did not hear it")
        self.retry_button = button("&Try again", primary=True)
        self.play_button.clicked.connect(self._play)
        self.yes_button.clicked.connect(self._heard)
        self.no_button.clicked.connect(self._not_heard)
        self.retry_button.clicked.connect(self.begin)
        player.failed.connect(self._on_failed)
        row = QHBoxLayout()
        for widget in (self.play_button, self.yes_button, self.no_button, self.retry_button):
            row.addWidget(widget)
        layout = centred_column(self)
        layout.addStretch(1)
        for text in (self.heading, self.about_to_play, self.question, self.message):
            layout.addWidget(text)
        layout.addLayout(row)
        layout.addWidget(label("Volume"))
        layout.addWidget(self.volume)
        layout.addStretch(2)

    def begin(self) -> None:
        """Check for an output, say a sound is coming, then play the clip and ask."""
        self._active = True
        if not self._devices.available():
            log.warning("Sound check: no audio output on this computer")
            self._show_problem(problem("audio.device", NO_DEVICE_MESSAGE))
            self.outcome.emit("no_device")
            return
        set_message(self.message, "")
        for widget in (self.about_to_play, self.question, self.play_button, self.yes_button, self.no_button):
            widget.setVisible(True)
        self.retry_button.setVisible(False)
        self._lead_in.start()
        self.yes_button.setFocus()

    def leave(self) -> None:
        self._active = False
        self._lead_in.stop()
        self._player.stop()

    def _play(self) -> None:
        self._lead_in.stop()  # "Play again" before the lead-in ended plays now, and only once
        if self._active:
            self._player.play(self._clip)

    def _heard(self) -> None:
        log.info("Sound check passed")
        self.leave()
        self.outcome.emit("heard")
        self.passed.emit()

    def _not_heard(self) -> None:
        log.warning("Sound check: the student did not hear the clip")
        self._lead_in.stop()
        self._player.stop()
        self._show_problem(problem("audio.not_heard", NOT_HEARD_GUIDANCE))
        self.outcome.emit("not_heard")

    def _on_failed(self, message: str) -> None:
        if self._active:
            device = message in (NO_DEVICE_MESSAGE, DEVICE_LOST_MESSAGE)
            self._show_problem(problem("audio.device" if device else "audio.damaged", message))
            self.outcome.emit("playback_failed")

    def _show_problem(self, message: Problem) -> None:
        self._lead_in.stop()
        set_message(self.message, message)
        for widget in (self.about_to_play, self.question, self.play_button, self.yes_button, self.no_button):
            widget.setVisible(False)
        self.retry_button.setVisible(True)
        self.retry_button.setFocus()
