"""One question at a time: prompt, picture, recording, answer, and the bar to move, flag and review."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from player.ui.screens.item_widgets import AudioBar, ChoiceAnswer, ScaledImage, TextAnswer
from player.ui.widgets import button, label

if TYPE_CHECKING:
    # Types only: the controller imports ItemView before the first paint, without QtMultimedia or pydantic.
    from player.audio.qt import QtAudioPlayer
    from sync.protocol import AnswerValue, DeliveryItem

log = logging.getLogger(__name__)

CHOICE_TYPES = ("single_choice", "multiple_choice")


@dataclass(frozen=True)
class ItemView:
    """What the item screen needs to draw one item (the controller fills it from the session)."""

    item: DeliveryItem
    number: int
    count: int
    section_title: str
    answer: AnswerValue | None
    flagged: bool
    image: Path | None
    has_audio: bool
    is_last: bool


class ItemScreen(QWidget):
    next_requested = Signal()
    previous_requested = Signal()
    flag_requested = Signal()
    review_requested = Signal()
    answer_changed = Signal(object)  # a choice: commit now
    draft_changed = Signal(str)  # typing: committed within seconds
    replay_requested = Signal()
    audio_retry_requested = Signal()

    def __init__(self, player: QtAudioPlayer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._player = player
        self.position = label(name="subtitle", accessible="Question")
        self.saved = label(name="saved", accessible="Answer saved")
        top = QHBoxLayout()
        top.addWidget(self.position, 1)
        top.addWidget(self.saved)

        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.content: QWidget | None = None
        self.prompt = label()
        self.image: ScaledImage | None = None
        self.audio: AudioBar | None = None
        self.answer: ChoiceAnswer | TextAnswer | None = None

        self.previous_button = button("Previous", accessible="Previous question")
        self.flag_button = button("Flag for review")
        self.review_button = button("Review and end section")
        self.next_button = button("Next", accessible="Next question", primary=True)
        self.previous_button.clicked.connect(self.previous_requested)
        self.flag_button.clicked.connect(self.flag_requested)
        self.review_button.clicked.connect(self.review_requested)
        self.next_button.clicked.connect(self.next_requested)
        bottom = QHBoxLayout()
        for widget in (self.previous_button, self.flag_button, self.review_button):
            bottom.addWidget(widget)
        bottom.addStretch(1)
        bottom.addWidget(self.next_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.scroll_area, 1)
        layout.addLayout(bottom)

        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, signal in (
            (("Alt+N", "Ctrl+Right"), self.next_requested),
            (("Alt+P", "Ctrl+Left"), self.previous_requested),
            (("Alt+F",), self.flag_requested),
            (("Alt+R",), self.review_requested),
        ):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(context)
                shortcut.activated.connect(signal)

    def show_item(self, view: ItemView) -> None:
        """Rebuild the middle of the screen for `view`; the old item's widgets go away with it."""
        item = view.item
        self.position.setText(f"{view.section_title}: question {view.number} of {view.count}")
        self.position.setAccessibleName(self.position.text())
        content = QWidget()
        column = QVBoxLayout(content)
        self.prompt = label(item.prompt, name="subtitle", accessible=f"Question {view.number}: {item.prompt}")
        column.addWidget(self.prompt)
        self.image = None
        if view.image is not None:
            self.image = ScaledImage(view.image, description=f"Picture for question {view.number}")
            column.addWidget(self.image, 1)
        self.audio = AudioBar(self._player) if view.has_audio else None
        if self.audio is not None:
            self.audio.replay.connect(self.replay_requested)
            self.audio.retry.connect(self.audio_retry_requested)
            column.addWidget(self.audio)
        if item.type in CHOICE_TYPES:
            choice = ChoiceAnswer(item)
            choice.set_value(view.answer)
            choice.changed.connect(self.answer_changed)
            self.answer = choice
        else:
            text = TextAnswer(item)
            text.set_value(view.answer)
            text.edited.connect(self.draft_changed)
            self.answer = text
        column.addWidget(self.answer)
        column.addStretch(1 if self.image is None else 0)
        old = self.scroll_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.scroll_area.setWidget(content)
        self.content = content
        self.previous_button.setEnabled(view.number > 1)
        self.next_button.setText("Next" if not view.is_last else "Review")
        self.next_button.setAccessibleName("Next question" if not view.is_last else "Review this section")
        self.set_flagged(view.flagged)
        self._set_tab_order()
        self.answer.setFocus()

    def _set_tab_order(self) -> None:
        # Reading order: the recording's controls, the answer, then the navigation bar left to right.
        chain: list[QWidget] = []
        if self.audio is not None:
            chain += [self.audio.replay_button, self.audio.retry_button, self.audio.volume]
        if isinstance(self.answer, ChoiceAnswer):
            chain += list(self.answer.buttons)
        elif isinstance(self.answer, TextAnswer):
            editor = self.answer.line if self.answer.line is not None else self.answer.box
            if editor is not None:
                chain.append(editor)
        chain += [self.previous_button, self.flag_button, self.review_button, self.next_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def set_flagged(self, flagged: bool) -> None:
        text = "Remove flag" if flagged else "Flag for review"
        self.flag_button.setText(text)
        self.flag_button.setAccessibleName(f"{text} (this question is flagged)" if flagged else text)

    def set_saved(self, saved: bool, *, answered: bool) -> None:
        text = "Saved" if saved and answered else "Saving…" if not saved else ""
        spoken = text or "No answer yet"
        if text == self.saved.text() and spoken == self.saved.accessibleName():
            return  # every click of a choice lands here, and the label usually says "Saved" already
        self.saved.setText(text)
        self.saved.setAccessibleName(spoken)

    def clear(self) -> None:
        """Drop the item's widgets, so nothing of a student's answers stays behind in memory or on screen."""
        old = self.scroll_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.content = self.image = self.audio = self.answer = None
        self.position.clear()
        self.saved.clear()
