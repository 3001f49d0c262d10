"""An item's recording: plays written down by the session as they start and settled as they end (the rule:
player.offline_queue.plays), the item screen's audio bar kept in step with the player, and a play cut short by
something the student did not choose (a pause, a lost audio device, the player stopping) given back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from player.session import SittingSession
from player.session_events import Phase
from sync.error_catalogue import problem

if TYPE_CHECKING:
    from player.audio.qt import QtAudioPlayer
    from player.offline_queue.plays import PlayEnd
    from player.ui.screens.item import ItemScreen
    from sync.protocol import DeliveryItem

log = logging.getLogger(__name__)

PAUSE_CUT_PLAY = "Stopped by the pause. This play is not counted: play it again when you are ready."
NOT_HEARD = "Not heard. This play is not counted: choose Try again when the sound works."
STOPPED_CUT_PLAY = (
    "The test stopped while this recording was playing. That play is not counted: choose Play again when you are ready."
)
READY = "Choose Play again to listen. A play counts once it reaches the end or you go to another question."
READY_FIRST = "Choose Play to listen. A play counts once it reaches the end or you go to another question."
"""Before the recording has ever started (an item that does not start it by itself, or a first visit while paused)."""
ALL_USED = "You have used all the plays of this recording."


def audio_of(item: DeliveryItem) -> str | None:
    return next((ref.sha256 for ref in item.media if ref.role == "audio"), None)


class ItemAudio:
    """Plays the current item's recording through `player` and reports on `screen`'s audio bar; `session()` is
    the open sitting (None between students) and `media_path(sha256)` where a media file is on disk."""

    def __init__(
        self,
        player: QtAudioPlayer,
        screen: ItemScreen,
        *,
        session: Callable[[], SittingSession | None],
        media_path: Callable[[str], Path],
    ) -> None:
        self._player = player
        self._screen = screen
        self._session = session
        self._media_path = media_path
        self._playing_item: str | None = None
        player.started.connect(self._on_started)
        player.progress.connect(self._on_progress)
        player.finished.connect(self._on_finished)
        player.failed.connect(self._on_failed)

    def show_ready(self) -> None:
        """A revisit, a first visit while paused, or an item that does not start its recording by itself: no
        autoplay; the bar shows the plays left and why."""
        session = self._session()
        if session is None or (bar := self._screen.audio) is None:
            return
        item = session.item
        left = session.plays_left(item)
        first = session.should_autoplay(item.id)  # never started: "Play", not "Play again"
        bar.set_plays_left(left, first=first)
        if session.given_back_at_start(item.id):
            bar.set_state(STOPPED_CUT_PLAY)
        else:
            bar.set_state(ALL_USED if left == 0 else READY_FIRST if first else READY)

    def play(self, *, autoplay: bool) -> None:
        """Play the current item's recording if it has one and plays are left (written down before it starts)."""
        session = self._session()
        assert session is not None
        item = session.item
        bar = self._screen.audio
        sha = audio_of(item)
        if bar is None or sha is None:
            return
        path = self._media_path(sha)
        if not path.is_file():
            # Not counted as a play: the student never heard it.
            log.error("Audio for item %s is missing: %s", item.id, path)
            bar.show_error(
                problem(
                    "audio.missing",
                    f"This recording is missing from this computer ({path.name}). Tell your invigilator.",
                )
            )
            bar.set_plays_left(session.plays_left(item), first=session.should_autoplay(item.id))
            return
        if not session.start_play():
            bar.set_state(ALL_USED if autoplay else "No plays left.")
            bar.set_plays_left(0)
            return
        bar.show_error(None)
        self._playing_item = item.id
        bar.set_plays_left(session.plays_left(item), playing=True)
        bar.set_state("Playing…")
        self._player.play(path)

    def stop(self, end: PlayEnd | None) -> None:
        """The recording stops: the student left the item ("left"), the section ended ("section_ended"), or
        None: the app is closing, and the play stays open in the journal, given back at the next start as after
        a crash (a closed window is not the student choosing to stop listening)."""
        self._playing_item = None
        self._player.stop()
        if end is not None and (session := self._session()) is not None:
            session.end_play(end)

    def cut_by_pause(self, session: SittingSession) -> None:
        """The invigilator paused: the recording stops and a play cut short is given back."""
        self._playing_item = None
        self._player.stop()
        cut = session.end_play("paused")
        if cut is not None and cut == session.item.id and (bar := self._screen.audio) is not None:
            bar.set_state(PAUSE_CUT_PLAY)
            bar.set_plays_left(session.plays_left(session.item))

    def _playing(self) -> SittingSession | None:
        """The session, when the bar on screen belongs to the recording that is playing."""
        session = self._session()
        if session is None or session.phase is not Phase.ANSWERING or self._playing_item is None:
            return None
        return session if session.item.id == self._playing_item else None

    def _on_started(self) -> None:
        if (bar := self._screen.audio) is not None and self._playing() is not None:
            bar.set_state("Playing…")

    def _on_progress(self, position: int, duration: int) -> None:
        if (bar := self._screen.audio) is not None and self._playing() is not None:
            bar.set_progress(position, duration)

    def _on_finished(self) -> None:
        if (bar := self._screen.audio) is not None and (session := self._playing()) is not None:
            self._playing_item = None
            session.end_play("heard")  # committed before the bar says so
            left = session.plays_left(session.item)
            bar.set_state("Finished." if left != 0 else f"Finished. {ALL_USED}")
            bar.set_plays_left(left)

    def _on_failed(self, message: str) -> None:
        from player.audio.interface import DEVICE_LOST_MESSAGE, NO_DEVICE_MESSAGE

        if (bar := self._screen.audio) is not None and (session := self._playing()) is not None:
            # QtAudioPlayer has logged the file and cause; the student sees the sentence.
            item_id = self._playing_item
            self._playing_item = None
            if message in (NO_DEVICE_MESSAGE, DEVICE_LOST_MESSAGE):
                # Not heard: the student gets this play back through Try again.
                log.warning("Play of item %s cut off by an audio device problem; it is given back", item_id)
                session.end_play("audio_device")
                bar.show_error(problem("audio.device", message), can_retry=True)
                bar.set_state(NOT_HEARD)
            else:
                # A damaged file: the player could not play it at all, so nothing was heard either.
                session.end_play("audio_damaged")
                bar.show_error(problem("audio.damaged", message))
                bar.set_state("Not played.")
            bar.set_plays_left(session.plays_left(session.item))
