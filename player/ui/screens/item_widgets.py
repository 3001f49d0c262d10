"""The answer widgets for the five item types, the audio bar, the volume slider and a picture that fits the window."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QRadioButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from player.ui.widgets import button, label, set_message
from sync.error_catalogue import Problem, problem

if TYPE_CHECKING:
    from player.audio.qt import QtAudioPlayer
    from sync.protocol import AnswerValue, DeliveryItem

log = logging.getLogger(__name__)

_ARROW_STEPS = {Qt.Key.Key_Up: -1, Qt.Key.Key_Left: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_Right: 1}


class VolumeSlider(QSlider):
    """The app's own volume, 0-100, applied to the player at once (schools often lock the system mixer)."""

    def __init__(self, player: QtAudioPlayer, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self._player = player
        self.setRange(0, 100)
        self.setSingleStep(5)
        self.setPageStep(10)
        self.setAccessibleName("Volume")
        self.setMinimumWidth(160)  # long enough to set by mouse in the audio bar's row
        self.setValue(round(player.volume() * 100))
        self.valueChanged.connect(self._apply)

    def _apply(self, value: int) -> None:
        self._player.set_volume(value / 100)

    def showEvent(self, event: QShowEvent) -> None:
        # Another screen's slider may have moved the shared player's volume meanwhile.
        self.blockSignals(True)
        self.setValue(round(self._player.volume() * 100))
        self.blockSignals(False)
        super().showEvent(event)


class ChoiceAnswer(QWidget):
    """Single choice (radio buttons) or multiple choice (check boxes); digit keys pick option 1, 2, 3..."""

    changed = Signal(object)  # AnswerValue

    def __init__(self, item: DeliveryItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._multiple = item.type == "multiple_choice"
        self._ids = [option.id for option in item.options]
        self.group = QButtonGroup(self)
        self.group.setExclusive(not self._multiple)
        self.buttons: list[QAbstractButton] = []
        layout = QVBoxLayout(self)
        for number, option in enumerate(item.options, start=1):
            text = f"{number}.  {option.text}"
            widget: QAbstractButton = QCheckBox(text) if self._multiple else QRadioButton(text)
            widget.setAccessibleName(f"Option {number}: {option.text}")
            self.group.addButton(widget, number - 1)
            widget.installEventFilter(self)
            self.buttons.append(widget)
            layout.addWidget(widget)
        self._max = item.max_choices if self._multiple else None
        self._min = item.min_choices if self._multiple else 0
        self.hint = label(name="hint")
        layout.insertWidget(0, self.hint)  # read before the options, by eye and by screen reader
        self.group.idToggled.connect(self._on_toggled)
        self._apply_limit()

    def _apply_limit(self) -> None:
        """At `max_choices` ticked, the other boxes are disabled (mouse, Space and digit keys alike) and the hint
        says why; one unticked enables them again. `min_choices` is only said: fewer is still saved and sent."""
        ticked = sum(widget.isChecked() for widget in self.buttons)
        full = self._max is not None and ticked >= self._max
        for widget in self.buttons:
            widget.setEnabled(widget.isChecked() or not full)
        text = choice_hint(self._min, self._max)
        if full:
            text += f". You have chosen {ticked}: untick one to choose another."
        set_message(self.hint, text)
        for widget in self.buttons:
            widget.setAccessibleDescription(text)
        first = next((widget for widget in self.buttons if widget.isEnabled()), None)
        if first is not None:  # a box that can take the focus (the first one may be disabled at the limit)
            self.setFocusProxy(first)

    def set_value(self, value: AnswerValue | None) -> None:
        chosen = set(value) if isinstance(value, list) else {value} if value else set()
        self.group.blockSignals(True)
        for option_id, widget in zip(self._ids, self.buttons, strict=True):
            widget.setChecked(option_id in chosen)
        self.group.blockSignals(False)
        self._apply_limit()

    def value(self) -> AnswerValue:
        chosen = [i for i, widget in zip(self._ids, self.buttons, strict=True) if widget.isChecked()]
        if self._multiple:
            return chosen
        return chosen[0] if chosen else ""

    def _on_toggled(self, _id: int, checked: bool) -> None:
        self._apply_limit()
        # An exclusive group emits "unchecked" for the old choice and "checked" for the new; one save is enough.
        if self._multiple or checked:
            self.changed.emit(self.value())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Qt's own arrow handling differs between radio buttons and check boxes (and between styles):
        # here arrows always move one option up or down, and in single choice they also choose it.
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) and watched in self.buttons:
            step = _ARROW_STEPS.get(Qt.Key(event.key()))
            plain = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier == Qt.KeyboardModifier.NoModifier
            if step is not None and plain:
                target = self.buttons.index(watched) + step
                while 0 <= target < len(self.buttons) and not self.buttons[target].isEnabled():
                    target += step  # past the boxes disabled at max_choices, as Tab passes them
                if 0 <= target < len(self.buttons):
                    self.buttons[target].setFocus(Qt.FocusReason.OtherFocusReason)
                    if not self._multiple:
                        self.buttons[target].setChecked(True)
                return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        text = event.text()
        if text.isdigit() and 1 <= int(text) <= len(self.buttons):
            widget = self.buttons[int(text) - 1]
            if not widget.isEnabled():
                return  # max_choices are ticked; the hint says to untick one first
            widget.setFocus()
            widget.setChecked(not widget.isChecked() if self._multiple else True)
            return
        super().keyPressEvent(event)


def choice_hint(min_choices: int, max_choices: int | None) -> str:
    """What a multiple-choice item asks for, in the student's words ("" when it sets no count)."""
    if max_choices is not None and min_choices == max_choices:
        return f"Choose {max_choices}"
    if max_choices is not None and min_choices > 0:
        return f"Choose at least {min_choices} and up to {max_choices}"
    if max_choices is not None:
        return f"Choose up to {max_choices}"
    return f"Choose at least {min_choices}" if min_choices > 0 else ""


class TextAnswer(QWidget):
    """Short text (one line) or extended text and dictation (a box); emits `edited` on every change."""

    edited = Signal(str)

    def __init__(self, item: DeliveryItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._max = item.max_length
        self.line: QLineEdit | None = None
        self.box: QPlainTextEdit | None = None
        layout = QVBoxLayout(self)
        if item.type == "short_text":
            self.line = QLineEdit()
            self.line.setAccessibleName("Your answer")
            if self._max:
                self.line.setMaxLength(self._max)
            self.line.textEdited.connect(self._on_changed)
            layout.addWidget(self.line)
            self.setFocusProxy(self.line)
        else:
            self.box = QPlainTextEdit()
            self.box.setAccessibleName("Your answer")
            # Tab moves on to the next control, as everywhere else; a test needs no tab characters.
            self.box.setTabChangesFocus(True)
            self.box.setMinimumHeight(90 if item.type == "dictation" else 200)
            self.box.textChanged.connect(self._on_box_changed)
            layout.addWidget(self.box)
            self.setFocusProxy(self.box)
        self.counter = label(name="counter")
        set_message(self.counter, "")
        layout.addWidget(self.counter)

    def set_value(self, value: AnswerValue | None) -> None:
        text = value if isinstance(value, str) else ""
        if self.line is not None:
            self.line.setText(text)
        if self.box is not None:
            self.box.blockSignals(True)
            self.box.setPlainText(text)
            self.box.blockSignals(False)
        self._update_counter(text)

    def text(self) -> str:
        if self.line is not None:
            return self.line.text()
        assert self.box is not None
        return self.box.toPlainText()

    def _on_box_changed(self) -> None:
        assert self.box is not None
        text = self.box.toPlainText()
        if self._max is not None and len(text) > self._max:
            # Cut at the limit rather than refuse silently: the counter says why the text stopped.
            cursor = self.box.textCursor()
            self.box.blockSignals(True)
            self.box.setPlainText(text[: self._max])
            self.box.blockSignals(False)
            cursor.setPosition(self._max)
            self.box.setTextCursor(cursor)
            text = text[: self._max]
        self._on_changed(text)

    def _on_changed(self, text: str) -> None:
        self._update_counter(text)
        self.edited.emit(text)

    def _update_counter(self, text: str) -> None:
        if self._max is not None and self.box is not None:
            set_message(self.counter, f"{len(text)} of {self._max} characters")


PLAY_RULE = (
    "A play counts once it reaches the end, or when you go to another question. If a pause, a sound problem "
    "or the computer stops it before then, you get that play back."
)
"""The rule of player/offline_queue/plays.py, as the student reads it (docs/architecture.md, "Plays of a recording")."""


class AudioBar(QWidget):
    """Progress of the item's recording, the replay button with the plays left, volume and any problem."""

    replay = Signal()
    retry = Signal()  # after a device problem: play the recording that was not heard

    def __init__(self, player: QtAudioPlayer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Recording progress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.state = label(accessible="Recording")
        self.replay_button = button("Play again")
        # Reached by Tab (then Space plays it, as buttons do), but a click leaves the focus in the answer box.
        self.replay_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.replay_button.setToolTip(PLAY_RULE)
        self.replay_button.setAccessibleDescription(PLAY_RULE)
        self.replay_button.clicked.connect(self.replay)
        self.retry_button = button("Try again", accessible="Try again to play the recording", primary=True)
        self.retry_button.clicked.connect(self.retry)
        self.retry_button.setVisible(False)
        self.volume = VolumeSlider(player)
        self.error = label(name="error")
        set_message(self.error, "")
        row = QHBoxLayout()
        row.addWidget(self.replay_button)
        row.addWidget(self.retry_button)
        row.addWidget(self.progress, 1)
        row.addWidget(QLabel("Volume"))
        row.addWidget(self.volume)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.state)
        layout.addLayout(row)
        layout.addWidget(self.error)
        self.setTabOrder(self.replay_button, self.retry_button)
        self.setTabOrder(self.retry_button, self.volume)

    def set_plays_left(self, left: int | None, *, playing: bool = False, first: bool = False) -> None:
        """`first`: the recording has not been started yet, so the button says "Play" rather than "Play again"."""
        name = "Play" if first else "Play again"
        text = name if left is None else f"{name} ({left} left)"
        self.replay_button.setText(text)
        self.replay_button.setAccessibleName(text)
        self.replay_button.setEnabled((left is None or left > 0) and not playing)

    def set_state(self, text: str) -> None:
        self.state.setText(text)
        self.state.setAccessibleName(f"Recording: {text}")

    def set_progress(self, position_ms: int, duration_ms: int) -> None:
        self.progress.setValue(round(1000 * position_ms / duration_ms) if duration_ms > 0 else 0)
        seconds = f"{position_ms // 1000} of {max(duration_ms, position_ms) // 1000} seconds"
        self.progress.setAccessibleDescription(seconds)

    def show_error(self, problem: Problem | None, *, can_retry: bool = False) -> None:
        """Say what went wrong, with its number (None clears it); `can_retry` offers Try again (for device
        problems)."""
        set_message(self.error, problem or "")
        # No focus grab: the student may be typing, and a keystroke must not land on the button.
        self.retry_button.setVisible(problem is not None and can_retry)


class ScaledImage(QLabel):
    """A picture that shrinks or grows with the window, keeping its shape; a missing file is said, not blank."""

    def __init__(self, path: Path, *, description: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAccessibleName(description)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(120, 120)
        self.original = QPixmap(str(path)) if path.is_file() else QPixmap()
        self.failed = self.original.isNull()
        if self.failed:
            log.warning("Picture %s could not be shown (%s)", path, "missing" if not path.is_file() else "damaged")
            self.setObjectName("error")
            self.setWordWrap(True)
            # The number after the sentence, in brackets: the picture's own label is the message, in no layout yet.
            missing = problem(
                "item.picture_missing", f"This picture could not be shown (file {path.name}). Tell your invigilator."
            )
            self.setText(str(missing))
            self.setAccessibleName(f"{missing.text} (error {missing.number})")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self.failed and self.width() > 0 and self.height() > 0:
            self.setPixmap(
                self.original.scaled(
                    self.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )
