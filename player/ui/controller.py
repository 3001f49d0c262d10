"""The flow between screens: owns the session, journal, client and audio player; the screens only show and emit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from player.audio.player import DEVICE_LOST_MESSAGE, NO_DEVICE_MESSAGE
from player.audio.qt import QtAudioPlayer
from player.offline_queue.journal import Journal, JournalError, StoredAttempt
from player.session import Clock, Phase, SectionEnded, SittingSession, SystemClock, TimeWarning
from player.ui.screens.item import ItemView
from player.ui.tasks import Report, TaskRunner
from player.ui.window import MainWindow
from sync.client import ClientError, InvigilClient
from sync.mediacache import MediaCache
from sync.protocol import AnswerValue, DeliveryItem, DeliverySection, LoginResponse

log = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong on this computer ({what}). Tell your invigilator."
ENTER_AGAIN = "Type your access code again to continue your test where you left off."
TIME_UP = "Time is up for the section {title}. Your answers to it are saved."
PAUSED = "Paused by your invigilator. Please wait."
CHECKING = "Checking your code…"
NOT_HEARD = "Not heard. This play is not counted: choose Try again when the sound works."
DEVICE_PROBLEMS = (NO_DEVICE_MESSAGE, DEVICE_LOST_MESSAGE)


def downloading_text(done: int, total: int) -> str:
    return f"Downloading the test: {done} of {total} file{'s' if total != 1 else ''}"


@dataclass(frozen=True)
class ControllerSettings:
    server_url: str
    tick_interval_ms: int = 250
    checkpoint_every: float = 5.0
    typing_commit_every: float = 2.0


def warning_text(warning: TimeWarning) -> str:
    minutes = warning.remaining_seconds // 60
    return f"{minutes} minute{'s' if minutes != 1 else ''} left in this section."


def _audio(item: DeliveryItem) -> str | None:
    return next((ref.sha256 for ref in item.media if ref.role == "audio"), None)


def _image(item: DeliveryItem) -> str | None:
    return next((ref.sha256 for ref in item.media if ref.role == "image"), None)


class PlayerController(QObject):
    """Access code -> Is this you? -> instructions -> sound check -> items -> review -> finished -> empty code."""

    def __init__(
        self,
        *,
        window: MainWindow,
        journal: Journal,
        make_client: Callable[[], InvigilClient],
        media_cache: MediaCache,
        player: QtAudioPlayer,
        tasks: TaskRunner,
        settings: ControllerSettings,
        clock: Clock | None = None,
        today: Callable[[], datetime] = datetime.now,
    ) -> None:
        super().__init__(window)
        self.window = window
        self._journal = journal
        self._make_client = make_client
        self._cache = media_cache
        self._player = player
        self._tasks = tasks
        self._settings = settings
        self._clock = clock if clock is not None else SystemClock()
        self._today = today
        self.session: SittingSession | None = None
        self._login: LoginResponse | None = None
        self._media: dict[str, Path] = {}
        self._sound_checked = False
        self._playing_item: str | None = None
        # Items whose counted play was cut off by a missing or lost audio device: the next play is free.
        # In memory only: the journal cannot take a play back yet, so a restart forgets what is owed.
        self._owed_plays: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setInterval(settings.tick_interval_ms)
        self._timer.timeout.connect(self.tick)
        self._connect()

    def _connect(self) -> None:
        w = self.window
        w.access_code.submitted.connect(self._on_code)
        w.confirm.confirmed.connect(self._on_confirmed)
        w.confirm.rejected.connect(self.reset)
        w.instructions.start.connect(self._on_instructions_done)
        w.sound_check.passed.connect(self._on_sound_checked)
        w.item.next_requested.connect(self.go_next)
        w.item.previous_requested.connect(self.go_previous)
        w.item.flag_requested.connect(self._on_flag)
        w.item.review_requested.connect(self.show_review)
        w.item.answer_changed.connect(self._on_answer)
        w.item.draft_changed.connect(self._on_draft)
        w.item.replay_requested.connect(self._on_replay)
        w.item.audio_retry_requested.connect(self._on_replay)
        w.review.go_to.connect(self._on_review_go_to)
        w.review.back.connect(self._show_item)
        w.review.end_confirmed.connect(self._on_end_confirmed)
        w.finished.done.connect(self.reset)
        self._player.started.connect(self._on_audio_started)
        self._player.progress.connect(self._on_audio_progress)
        self._player.finished.connect(self._on_audio_finished)
        self._player.failed.connect(self._on_audio_failed)
        w.on_close.append(self.shutdown)

    # ---- start, login, confirm -------------------------------------------------------------------

    def start(self) -> None:
        """Resume an attempt still open on this machine, or wait for an access code."""
        attempt = self._journal.open_attempt_on_this_machine()
        if attempt is None:
            self.reset()
            return
        log.info("Resuming attempt %s open on this computer", attempt.attempt_id)
        media = self._cached_media(attempt.login)
        if media is None:
            # Something is missing or damaged: a new login fetches it again, and the journal keeps the progress.
            self.reset()
            self.window.access_code.show_error(ENTER_AGAIN)
            return
        self._login, self._media = attempt.login, media
        self._sound_checked = True
        self._begin_session(attempt)

    def _cached_media(self, login: LoginResponse) -> dict[str, Path] | None:
        paths: dict[str, Path] = {}
        for section in login.assessment.sections:
            for item in section.items:
                for ref in item.media:
                    if not self._cache.has_valid(ref):
                        log.warning(
                            "Media %s (%s) is not in the cache; asking for the code again", ref.sha256, ref.filename
                        )
                        return None
                    paths[ref.sha256] = self._cache.path_for(ref.sha256)
        return paths

    def _on_code(self, code: str) -> None:
        self.window.access_code.set_busy(CHECKING)
        cache = self._cache

        def work(report: Report) -> tuple[LoginResponse, dict[str, Path]]:
            # A client per task: a requests session is not shared between threads.
            with self._make_client() as client:
                login = client.login(code)
                return login, client.fetch_all_media(login, cache, progress=report)

        self._tasks.run_reporting(
            work, on_progress=self._on_download_progress, on_done=self._on_logged_in, on_error=self._on_login_failed
        )

    def _on_download_progress(self, done: int, total: int) -> None:
        # On a slow school network the test's pictures and recordings take a while: show that it is moving.
        if total > 0 and self.window.current_screen() is self.window.access_code:
            self.window.access_code.set_busy(downloading_text(done, total))

    def _on_login_failed(self, exc: Exception) -> None:
        if isinstance(exc, ClientError):
            message = str(exc)
        else:
            log.error("Login failed unexpectedly", exc_info=exc)
            message = UNEXPECTED.format(what=type(exc).__name__)
        self.window.access_code.show_error(message)

    def _on_logged_in(self, result: tuple[LoginResponse, dict[str, Path]]) -> None:
        self._login, self._media = result
        login = self._login
        self.window.confirm.show_student(
            student=login.student, assessment=login.assessment.title, sitting=login.sitting_name, today=self._today()
        )
        self.window.show_screen(self.window.confirm)
        self.window.confirm.yes_button.setFocus()

    def _on_confirmed(self) -> None:
        assert self._login is not None
        try:
            attempt = self._journal.start_attempt(self._login, server_url=self._settings.server_url)
        except JournalError as exc:
            log.error("Cannot start the attempt: %s", exc)
            self.reset()
            self.window.access_code.show_error(f"{exc}. Tell your invigilator.")
            return
        if attempt.current_section_id is not None:
            # The student typed the code again after a restart: straight back to where they were.
            self._sound_checked = True
            self._begin_session(attempt)
            return
        first = self._login.assessment.sections[0]
        self._show_instructions(first, number=1, notice="")

    def _show_instructions(self, section: DeliverySection, *, number: int, notice: str) -> None:
        assert self._login is not None
        extra = self._login.accommodations.extra_time_percent
        self.window.show_header(None)
        self.window.instructions.show_section(
            number=number,
            count=len(self._login.assessment.sections),
            title=section.title,
            instructions=section.instructions,
            minutes=section.time_limit_seconds * (100 + extra) / 100 / 60,
            notice=notice,
        )
        self.window.show_screen(self.window.instructions)
        self.window.instructions.start_button.setFocus()

    def _on_instructions_done(self) -> None:
        assert self._login is not None
        has_audio = any(_audio(i) for s in self._login.assessment.sections for i in s.items)
        if has_audio and not self._sound_checked:
            self.window.show_screen(self.window.sound_check)
            self.window.sound_check.begin()
            return
        self._start_section()

    def _on_sound_checked(self) -> None:
        self._sound_checked = True
        self._start_section()

    def _start_section(self) -> None:
        if self.session is None:
            assert self._login is not None
            self._begin_session(self._journal.attempt(self._login.attempt_id))
            return
        self.session.resume()  # paused while the student read the next section's instructions
        self._enter_section()

    def _begin_session(self, attempt: StoredAttempt) -> None:
        # The section clock starts here, after instructions and the sound check, not at login.
        self.session = SittingSession(
            journal=self._journal,
            attempt=attempt,
            clock=self._clock,
            checkpoint_every=self._settings.checkpoint_every,
            typing_commit_every=self._settings.typing_commit_every,
        )
        if self.session.phase is Phase.FINISHED:
            self._show_finished()
            return
        self._enter_section()

    def _enter_section(self) -> None:
        assert self.session is not None
        self.session.checkpoint()
        self.window.show_header(self.session.title)
        self.window.set_remaining(self.session.remaining_seconds())
        self._timer.start()
        self._show_item()

    # ---- items -----------------------------------------------------------------------------------

    def _show_item(self) -> None:
        session = self.session
        assert session is not None
        item = session.item
        image = _image(item)
        view = ItemView(
            item=item,
            number=session.item_index + 1,
            count=len(session.section.items),
            section_title=session.section.title,
            answer=session.answer(item.id),
            flagged=session.is_flagged(item.id),
            image=self._media_path(image) if image else None,
            has_audio=_audio(item) is not None,
            is_last=session.item_index + 1 == len(session.section.items),
        )
        self.window.item.show_item(view)
        self._update_saved()
        self.window.show_screen(self.window.item)
        self.window.item.answer.setFocus() if self.window.item.answer is not None else None
        if view.has_audio:
            self._play_current(autoplay=True)

    def _media_path(self, sha256: str) -> Path:
        return self._media.get(sha256) or self._cache.path_for(sha256)

    def _leave_item(self) -> None:
        self._playing_item = None
        self._player.stop()

    def go_next(self) -> None:
        if self.session is None or self.session.phase is not Phase.ANSWERING:
            return
        self._leave_item()
        if self.session.go_next():
            self._show_item()
        else:
            self.show_review()

    def go_previous(self) -> None:
        if self.session is None or self.session.phase is not Phase.ANSWERING:
            return
        self._leave_item()
        if self.session.go_previous():
            self._show_item()

    def _on_flag(self) -> None:
        assert self.session is not None
        self.window.item.set_flagged(self.session.toggle_flag())

    def _on_answer(self, value: AnswerValue) -> None:
        assert self.session is not None
        self.session.set_answer(value)  # returns once committed; only then is "Saved" shown
        self._update_saved()

    def _on_draft(self, text: str) -> None:
        assert self.session is not None
        self.session.set_draft(text)
        self._update_saved()

    def _update_saved(self) -> None:
        session = self.session
        if session is None or session.phase is not Phase.ANSWERING:
            return
        item_id = session.item.id
        value = session.answer(item_id)
        self.window.item.set_saved(session.is_saved(item_id), answered=bool(value))

    # ---- audio -----------------------------------------------------------------------------------

    def _play_current(self, *, autoplay: bool) -> None:
        session = self.session
        assert session is not None
        item = session.item
        bar = self.window.item.audio
        sha = _audio(item)
        if bar is None or sha is None:
            return
        path = self._media_path(sha)
        if not path.is_file():
            # Not counted as a play: the student never heard it.
            log.error("Audio for item %s is missing: %s", item.id, path)
            bar.show_error(f"This recording is missing from this computer ({path.name}). Tell your invigilator.")
            bar.set_plays_left(session.plays_left(item))
            return
        owed = item.id in self._owed_plays
        if not owed and not session.start_play():
            bar.set_state("You have used all the plays of this recording." if autoplay else "No plays left.")
            bar.set_plays_left(0)
            return
        self._owed_plays.discard(item.id)
        bar.show_error("")
        self._playing_item = item.id
        bar.set_plays_left(session.plays_left(item), playing=True)
        bar.set_state("Playing…")
        self._player.play(path)

    def _on_replay(self) -> None:
        self._play_current(autoplay=False)

    def _current_bar_for_playing(self) -> object | None:
        if self.session is None or self.session.phase is not Phase.ANSWERING or self._playing_item is None:
            return None
        if self.session.item.id != self._playing_item:
            return None
        return self.window.item.audio

    def _on_audio_started(self) -> None:
        if (bar := self.window.item.audio) is not None and self._current_bar_for_playing() is not None:
            bar.set_state("Playing…")

    def _on_audio_progress(self, position: int, duration: int) -> None:
        if (bar := self.window.item.audio) is not None and self._current_bar_for_playing() is not None:
            bar.set_progress(position, duration)

    def _on_audio_finished(self) -> None:
        if (bar := self.window.item.audio) is not None and self._current_bar_for_playing() is not None:
            assert self.session is not None
            self._playing_item = None
            left = self.session.plays_left(self.session.item)
            bar.set_state("Finished." if left != 0 else "Finished. You have used all the plays of this recording.")
            bar.set_plays_left(left)

    def _on_audio_failed(self, message: str) -> None:
        if (bar := self.window.item.audio) is not None and self._current_bar_for_playing() is not None:
            assert self.session is not None
            # QtAudioPlayer has logged the file and cause; the student sees the sentence.
            item_id = self._playing_item
            self._playing_item = None
            if message in DEVICE_PROBLEMS:
                # Counted but not heard: the student gets this play back through Try again.
                log.warning("Play of item %s cut off by an audio device problem; the next play is free", item_id)
                if item_id is not None:
                    self._owed_plays.add(item_id)
                bar.show_error(message, can_retry=True)
                bar.set_state(NOT_HEARD)
            else:
                bar.show_error(message)
                bar.set_state("Not played.")
            bar.set_plays_left(self.session.plays_left(self.session.item))

    # ---- review, ending, time ----------------------------------------------------------------------

    def show_review(self) -> None:
        session = self.session
        if session is None or session.phase is not Phase.ANSWERING:
            return
        self._leave_item()
        self.window.review.show_entries(session.review(), last_section=session.is_last_section())
        self.window.show_screen(self.window.review)
        self.window.review.entries.setFocus()

    def _on_review_go_to(self, index: int) -> None:
        assert self.session is not None
        self.session.go_to(index)
        self._show_item()

    def _on_end_confirmed(self) -> None:
        assert self.session is not None
        self._after_section(self.session.end_section())

    def tick(self) -> None:
        session = self.session
        if session is None or session.phase is not Phase.ANSWERING:
            return
        for event in session.tick():
            if isinstance(event, TimeWarning):
                self.window.show_banner(warning_text(event))
            elif isinstance(event, SectionEnded):
                self._after_section(event)
                return
        self.window.set_remaining(session.remaining_seconds())
        if self.window.current_screen() is self.window.item:
            self._update_saved()

    def _after_section(self, ended: SectionEnded) -> None:
        session = self.session
        assert session is not None
        self._leave_item()
        self.window.item.clear()
        if ended.finished:
            self._show_finished(timed_out=ended.by_timeout)
            return
        # Stopped while the student reads the next section's instructions; Start resumes it.
        session.pause()
        notice = TIME_UP.format(title=self._section_title(ended.section_id)) if ended.by_timeout else ""
        self._show_instructions(session.section, number=session.section_number, notice=notice)

    def _section_title(self, section_id: str) -> str:
        assert self._login is not None
        return next((s.title for s in self._login.assessment.sections if s.id == section_id), section_id)

    def _show_finished(self, *, timed_out: bool = False) -> None:
        self._timer.stop()
        self.window.show_header(None)
        self.window.finished.heading.setText(
            "Time is up: the test has ended" if timed_out else "You have finished the test"
        )
        self.window.finished.set_delivery_state(sent=False)
        self.window.show_screen(self.window.finished)
        self.window.finished.finish_button.setFocus()

    # ---- invigilator controls, reset, shutdown -------------------------------------------------------

    def pause(self) -> None:
        if self.session is not None and self.session.phase is Phase.ANSWERING:
            self._leave_item()
            self.session.pause()
            self.window.show_banner(PAUSED)

    def resume(self) -> None:
        if self.session is not None and self.session.paused:
            self.session.resume()
            self.window.show_banner("")

    def reset(self) -> None:
        """Forget the student: an empty access-code screen, and nothing of their work left in any widget."""
        self._timer.stop()
        self._leave_item()
        self.session = None
        self._login = None
        self._media = {}
        self._sound_checked = False
        self._owed_plays.clear()
        self.window.item.clear()
        self.window.confirm.clear()
        self.window.show_header(None)
        self.window.access_code.reset()
        self.window.show_screen(self.window.access_code)
        self.window.access_code.code_edit.setFocus()

    def shutdown(self) -> None:
        """Window closing: typing and position are committed before the app goes."""
        self._timer.stop()
        self._player.stop()
        if self.session is not None and self.session.phase is Phase.ANSWERING:
            self.session.flush_drafts()
            self.session.checkpoint()
