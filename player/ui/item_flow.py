"""The items of a section on screen: show one (its recording autoplays on the first visit), move between them,
answers and flags committed before "Saved" shows, and the review screen that ends the section."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtWidgets import QApplication

from player.session import SittingSession
from player.session_events import Phase, SectionEnded
from player.ui.item_audio import ItemAudio, audio_of

if TYPE_CHECKING:
    from player.audio.qt import QtAudioPlayer
    from player.ui.window import MainWindow
    from sync.protocol import AnswerValue


class ItemsHost(Protocol):
    """What the item screens need from the flow around them (the controller)."""

    @property
    def session(self) -> SittingSession | None: ...

    @property
    def held(self) -> bool:
        """Paused by the invigilator: nothing plays and the section cannot be ended."""
        ...

    def after_section(self, ended: SectionEnded) -> None: ...


class ItemFlow:
    """The item and review screens of `window` over `host`'s session; `media_path(sha256)` finds a media file."""

    def __init__(
        self, window: MainWindow, player: QtAudioPlayer, *, host: ItemsHost, media_path: Callable[[str], Path]
    ) -> None:
        self._window = window
        self._host = host
        self._media_path = media_path
        self.audio = ItemAudio(player, window.item, session=lambda: host.session, media_path=media_path)
        item, review = window.item, window.review
        item.next_requested.connect(self.go_next)
        item.previous_requested.connect(self.go_previous)
        item.flag_requested.connect(self._on_flag)
        item.review_requested.connect(self.show_review)
        item.answer_changed.connect(self._on_answer)
        item.draft_changed.connect(self._on_draft)
        item.replay_requested.connect(self._on_replay)
        item.audio_retry_requested.connect(self._on_replay)
        review.go_to.connect(self._on_review_go_to)
        review.back.connect(self.show_item)
        review.end_confirmed.connect(self._on_end_confirmed)

    def _session(self) -> SittingSession:
        session = self._host.session
        assert session is not None
        return session

    def _answering(self) -> SittingSession | None:
        session = self._host.session
        return session if session is not None and session.phase is Phase.ANSWERING else None

    def show_item(self) -> None:
        """The session's current item, with its answer, flag and "Saved" state; its recording starts by itself
        on the first visit only (session.should_autoplay) unless the item says not to (item.autoplay False), and
        otherwise the bar shows the plays left instead."""
        session = self._session()
        item = session.item
        image = next((ref.sha256 for ref in item.media if ref.role == "image"), None)
        from player.ui.screens.item import ItemView  # with the item screen, after the first paint

        view = ItemView(
            item=item,
            number=session.item_index + 1,
            count=len(session.section.items),
            section_title=session.section.title,
            answer=session.answer(item.id),
            flagged=session.is_flagged(item.id),
            image=self._media_path(image) if image else None,
            has_audio=audio_of(item) is not None,
            is_last=session.item_index + 1 == len(session.section.items),
        )
        screen = self._window.item
        screen.show_item(view)
        self.update_saved()
        self._window.show_screen(screen)
        screen.answer.setFocus() if screen.answer is not None else None
        # item.autoplay False (QTI autostart="false"): the recording waits for the student's Play, first visit too.
        if view.has_audio and item.autoplay and not self._host.held and session.should_autoplay(item.id):
            self.audio.play(autoplay=True)
        elif view.has_audio:
            self.audio.show_ready()

    def _on_replay(self) -> None:
        self.audio.play(autoplay=False)
        # Space on a focused Play again plays, and the button then turns off while it plays: the focus goes to
        # the answer, so the student's next keys land there (not on the volume slider or a later Play again).
        screen = self._window.item
        focus = QApplication.focusWidget()
        if screen.audio is not None and focus is not None and screen.audio.isAncestorOf(focus):
            screen.answer.setFocus() if screen.answer is not None else None

    def go_next(self) -> None:
        if (session := self._answering()) is None:
            return
        self.audio.stop("left")
        if session.go_next():
            self.show_item()
        else:
            self.show_review()

    def go_previous(self) -> None:
        if (session := self._answering()) is None:
            return
        self.audio.stop("left")
        if session.go_previous():
            self.show_item()

    def _on_flag(self) -> None:
        self._window.item.set_flagged(self._session().toggle_flag())

    def _on_answer(self, value: AnswerValue) -> None:
        self._session().set_answer(value)  # returns once committed; only then is "Saved" shown
        self.update_saved()

    def _on_draft(self, text: str) -> None:
        self._session().set_draft(text)
        self.update_saved()

    def update_saved(self) -> None:
        if (session := self._answering()) is None:
            return
        item_id = session.item.id
        value = session.answer(item_id)
        self._window.item.set_saved(session.is_saved(item_id), answered=bool(value))

    def show_review(self) -> None:
        if (session := self._answering()) is None:
            return
        self.audio.stop("left")
        review = self._window.review
        review.show_entries(session.review(), last_section=session.is_last_section())
        self._window.show_screen(review)
        review.entries.setFocus()

    def _on_review_go_to(self, index: int) -> None:
        self._session().go_to(index)
        self.show_item()

    def _on_end_confirmed(self) -> None:
        session = self._session()
        if self._host.held:
            return  # the overlay keeps keys away; a click already queued must not end the section either
        self._host.after_section(session.end_section())
