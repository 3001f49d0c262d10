"""The flow between screens: owns the session, journal, client and audio player; the screens only show and emit."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from player.offline_queue.journal import JournalError
from player.session import Clock, Phase, SectionEnded, SittingSession, SystemClock, TimeWarning
from player.ui.tasks import Report, TaskRunner
from player.ui.window import MainWindow

if TYPE_CHECKING:
    # Types only: this module is imported before the first paint, and requests, pydantic (the wire types),
    # sqlite-utils and QtMultimedia together take most of a second to import. The methods that need them at
    # run time import them where they run, after start-up.
    from player.audio.qt import QtAudioPlayer
    from player.offline_queue.journal import Journal, StoredAttempt
    from sync.client import InvigilClient
    from sync.mediacache import MediaCache
    from sync.protocol import (
        AnswerValue,
        DeliveryItem,
        DeliverySection,
        Heartbeat,
        HeartbeatReply,
        Instruction,
        LoginResponse,
        ResultEnvelope,
    )

log = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong on this computer ({what}). Tell your invigilator."
ENTER_AGAIN = "Type your access code again to continue your test where you left off."
TIME_UP = "Time is up for the section {title}. Your answers to it are saved."
ENDED_BY_INVIGILATOR = "Your invigilator ended the section {title}. Your answers to it are saved."
MOVED = (
    "Your invigilator moved this test to another computer. "
    "Go to the computer your invigilator gives you and type your access code there."
)
NO_CONSOLE = "The staff console is not available in this build. Ask IT for the Invigil build with the staff console."
PAUSE_CUT_PLAY = "Stopped by the pause. This play is not counted: play it again when you are ready."
CHECKING = "Checking your code…"
NOT_HEARD = "Not heard. This play is not counted: choose Try again when the sound works."


def downloading_text(done: int, total: int) -> str:
    return f"Downloading the test: {done} of {total} file{'s' if total != 1 else ''}"


def added_time_text(seconds: int) -> str:
    minutes, rest = divmod(max(0, seconds), 60)
    parts = [f"{minutes} minute{'s' if minutes != 1 else ''}"] if minutes else []
    if rest or not parts:
        parts.append(f"{rest} second{'s' if rest != 1 else ''}")
    return f"Your invigilator added {' and '.join(parts)}."


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "student"


@dataclass(frozen=True)
class ControllerSettings:
    server_url: str
    tick_interval_ms: int = 250
    checkpoint_every: float = 5.0
    typing_commit_every: float = 2.0
    heartbeat_every: float | None = 5.0
    """Seconds between heartbeats while a sitting is open, by the controller's clock (None: none; tests then call
    heartbeat_now). app.py sets it from the config's heartbeat_interval_seconds."""
    delivery_poll_ms: int = 1000
    """How often the finished screen looks whether its results have reached the server."""
    result_codes_after: float = 10.0
    """Seconds on the finished screen after which result codes are shown for unsent results even though no send
    has failed yet (nothing may be sending them); a failed send shows them at the next look (refresh_delivery)."""
    machine_id: str | None = None


def warning_text(warning: TimeWarning) -> str:
    minutes = warning.remaining_seconds // 60
    return f"{minutes} minute{'s' if minutes != 1 else ''} left in this section."


@dataclass(frozen=True)
class SittingParts:
    """What a sitting needs beyond the access-code screen. app.py builds them after the first paint (with the
    window's other screens), so a student sees the access-code screen without waiting for them."""

    journal: Journal
    media_cache: MediaCache
    player: QtAudioPlayer


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
        make_client: Callable[[], InvigilClient],
        tasks: TaskRunner,
        settings: ControllerSettings,
        journal: Journal | None = None,
        media_cache: MediaCache | None = None,
        player: QtAudioPlayer | None = None,
        build_parts: Callable[[], SittingParts] | None = None,
        clock: Clock | None = None,
        today: Callable[[], datetime] = datetime.now,
        wake_uploader: Callable[[], None] | None = None,
        open_staff_console: Callable[[], None] | None = None,
    ) -> None:
        """Either the parts (journal, media_cache, player, with a window that has its sitting screens), or
        `build_parts`, called once by `ensure_ready()`: on start() or the first access code, whichever comes
        first."""
        super().__init__(window)
        self.window = window
        given = [part for part in (journal, media_cache, player) if part is not None]
        if len(given) != (0 if build_parts is not None else 3):
            raise ValueError("PlayerController needs journal, media_cache and player, or build_parts instead")
        self._build_parts = build_parts
        self._ready = False
        self._started = False
        self._make_client = make_client
        self._tasks = tasks
        self._settings = settings
        self._clock = clock if clock is not None else SystemClock()
        self._today = today
        self.session: SittingSession | None = None
        self._login: LoginResponse | None = None
        self._media: dict[str, Path] = {}
        self._sound_checked = False
        self._playing_item: str | None = None
        self.wake_uploader = wake_uploader
        """The uploader's wake(): called after every section end so its envelope leaves at once."""
        self.open_staff_console = open_staff_console
        """What "Staff sign in" calls (None: this build has no staff console)."""
        self._held = False
        """Paused by the invigilator (as opposed to the pause while a student reads instructions)."""
        self._applied: set[str] = set()
        self._finished_at = 0.0
        """When the finished screen appeared (self._clock's monotonic seconds)."""
        self._beat_in_flight = False
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setInterval(settings.tick_interval_ms)
        self._timer.timeout.connect(self.tick)
        # The timer only looks whether a heartbeat is due; the interval is measured on self._clock, so a test's
        # hand-moved clock decides when heartbeats go, as it does for the section's time.
        self._beat_timer = QTimer(self)
        self._beat_timer.setInterval(settings.tick_interval_ms)
        self._beat_timer.timeout.connect(self.beat_if_due)
        self._last_beat_at = 0.0
        """When the last heartbeat was sent (self._clock's monotonic seconds)."""
        self._delivery_timer = QTimer(self)
        self._delivery_timer.setInterval(settings.delivery_poll_ms)
        self._delivery_timer.timeout.connect(self.refresh_delivery)
        window.access_code.submitted.connect(self._on_code)
        window.access_code.staff_requested.connect(self._on_staff_requested)
        window.on_close.append(self.shutdown)
        if journal is not None and media_cache is not None and player is not None:
            self._attach(SittingParts(journal=journal, media_cache=media_cache, player=player))

    def ensure_ready(self) -> None:
        """Build the parts (if they were deferred) and connect the sitting screens; idempotent."""
        if self._ready or self._build_parts is None:
            return
        started = time.perf_counter()
        self._attach(self._build_parts())
        log.info("Sitting parts ready in %.0f ms", (time.perf_counter() - started) * 1000)

    def _attach(self, parts: SittingParts) -> None:
        self._journal = parts.journal
        self._cache = parts.media_cache
        self._player = parts.player
        self._ready = True
        self._connect()

    def _connect(self) -> None:
        w = self.window
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

    # ---- start, login, confirm -------------------------------------------------------------------

    def start(self) -> None:
        """Resume an attempt still open on this machine, or wait for an access code. Once: app.py calls it
        after the first paint, and an access code typed before that calls it first."""
        if self._started:
            return
        self._started = True
        self.ensure_ready()
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
        if not self._started:
            # Typed before the resume check ran: that check comes first (an open attempt resumes instead).
            self.start()
            if self.window.current_screen() is not self.window.access_code or self.session is not None:
                return
            self.window.access_code.code_edit.setText(code)
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
        from sync.client import ClientError

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
        self._applied = set(self._journal.applied_instructions(attempt.attempt_id))
        if self._settings.heartbeat_every is not None:
            self._last_beat_at = self._clock.monotonic()
            self._beat_timer.start()
        if self.session.phase is Phase.FINISHED:
            self._show_finished()
            return
        # A pause survives a restart: the invigilator has not said to carry on yet.
        held = self._journal.paused_by_invigilator(attempt.attempt_id)
        self._held = held
        self._enter_section()
        if held:
            self.pause()

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
        from player.ui.screens.item import ItemView  # with the item screen, after the first paint

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
        if view.has_audio and not self._held:
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
        if not session.start_play():
            bar.set_state("You have used all the plays of this recording." if autoplay else "No plays left.")
            bar.set_plays_left(0)
            return
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
        from player.audio.player import DEVICE_LOST_MESSAGE, NO_DEVICE_MESSAGE

        if (bar := self.window.item.audio) is not None and self._current_bar_for_playing() is not None:
            assert self.session is not None
            # QtAudioPlayer has logged the file and cause; the student sees the sentence.
            item_id = self._playing_item
            self._playing_item = None
            if message in (NO_DEVICE_MESSAGE, DEVICE_LOST_MESSAGE):
                # Counted but not heard: the student gets this play back through Try again.
                log.warning("Play of item %s cut off by an audio device problem; it is given back", item_id)
                if item_id is not None:
                    self.session.refund_play(item_id)
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
        if self._held:
            return  # the overlay keeps keys away; a click already queued must not end the section either
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

    def _after_section(self, ended: SectionEnded, *, notice: str | None = None) -> None:
        session = self.session
        assert session is not None
        self._leave_item()
        self.window.item.clear()
        # The envelope is in the outbox (same transaction as the section end): send it now, without waiting.
        if self.wake_uploader is not None:
            self.wake_uploader()
        if ended.finished:
            self._show_finished(timed_out=ended.by_timeout)
            return
        # Stopped while the student reads the next section's instructions; Start resumes it.
        session.pause()
        if notice is None:
            notice = TIME_UP.format(title=self._section_title(ended.section_id)) if ended.by_timeout else ""
        self._show_instructions(session.section, number=session.section_number, notice=notice)

    def _section_title(self, section_id: str) -> str:
        assert self._login is not None
        return next((s.title for s in self._login.assessment.sections if s.id == section_id), section_id)

    def _show_finished(self, *, timed_out: bool = False) -> None:
        # The screen stays until someone chooses Finished: never on a timer, so an invigilator can still copy
        # the result code. Leaving loses nothing: unsent results stay in the outbox and keep being sent.
        self._timer.stop()
        self._held = False
        self.window.set_paused(False)
        self.window.show_header(None)
        self.window.finished.heading.setText(
            "Time is up: the test has ended" if timed_out else "You have finished the test"
        )
        self.window.finished.set_codes([])
        self.window.finished.set_delivery_state(sent=False)
        self._finished_at = self._clock.monotonic()
        self.refresh_delivery()
        self._delivery_timer.start()
        self.window.show_screen(self.window.finished)
        self.window.finished.finish_button.setFocus()

    def refresh_delivery(self) -> None:
        """Finished screen: "sent" once the server confirmed every envelope of this sitting, else the result codes
        of the unsent ones - once sending one of them has failed, or `result_codes_after` seconds in.

        The uploader is woken at each section end, so online the results reach the server without a failure and
        no code is made: nor is `cryptography` (~7 MB) loaded. Offline the first send fails at once (a refused
        connection) or within the request timeout, and the codes appear at the next look."""
        session = self.session
        if session is None or session.phase is not Phase.FINISHED:
            self._delivery_timer.stop()
            return
        outbox = self._journal.outbox()
        # Every second while the screen shows: only this sitting's rows are read.
        unsent = [
            entry for entry in outbox.entries(kind="result", attempt_id=session.attempt_id) if entry.state != "sent"
        ]
        screen = self.window.finished
        screen.set_delivery_state(sent=not unsent)
        if not unsent:
            self._delivery_timer.stop()
            return
        failed = any(entry.attempts > 0 or entry.state == "needs_attention" for entry in unsent)
        waited = self._clock.monotonic() - self._finished_at >= self._settings.result_codes_after
        if not (failed or waited or screen.codes()):
            return
        from player.ui.screens.finished import ResultCodeText
        from sync import resultcode
        from sync.protocol import ResultEnvelope

        envelopes = [ResultEnvelope.model_validate_json(entry.body) for entry in unsent]
        labels = [self._envelope_label(envelope) for envelope in envelopes]
        if labels == [code.label for code in screen.codes()]:
            return  # the same envelopes: keep the codes on show (a new code would differ only by its nonce)
        held = self._journal.attempt(session.attempt_id)  # the key, and the form that makes the code short
        student = _slug(session.student_name)
        screen.set_codes(
            [
                ResultCodeText(
                    label=text,
                    code=resultcode.encode(envelope, result_secret=held.result_secret, delivery=held.login.assessment),
                    file_name=f"result-code-{student}-{_slug(text)}.txt",
                )
                for envelope, text in zip(envelopes, labels, strict=True)
            ]
        )

    def _envelope_label(self, envelope: ResultEnvelope) -> str:
        assert self._login is not None
        sections = self._login.assessment.sections
        numbers = {s.id: n for n, s in enumerate(sections, start=1)}
        first = envelope.section_ids[0] if envelope.section_ids else ""
        number = numbers.get(first)
        title = self._section_title(first)
        return f"Section {number} of {len(sections)}: {title}" if number else f"Section {title}"

    # ---- supervision: heartbeats and the invigilator's instructions -------------------------------------

    def beat_if_due(self) -> bool:
        """Send a heartbeat if heartbeat_every seconds have passed since the last one (what the beat timer calls)."""
        every = self._settings.heartbeat_every
        if every is None or self._clock.monotonic() - self._last_beat_at < every:
            return False
        return self.heartbeat_now()

    def heartbeat_now(self) -> bool:
        """Send where the sitting is now (off the GUI thread); False when no sitting is open or a heartbeat is still
        on its way."""
        session = self.session
        if session is None or self._beat_in_flight or self._closed:
            return False
        self._last_beat_at = self._clock.monotonic()
        attempt_id = session.attempt_id
        beat = self._heartbeat(session)
        token = self._journal.attempt(attempt_id).attempt_token
        make_client = self._make_client

        def work() -> HeartbeatReply:
            with make_client() as client:
                return client.heartbeat(attempt_id, token, beat)

        self._beat_in_flight = True
        self._tasks.run(
            work,
            on_done=lambda reply: self._on_beat_reply(attempt_id, reply),
            on_error=lambda exc: self._on_beat_failed(attempt_id, exc),
        )
        return True

    def _heartbeat(self, session: SittingSession) -> Heartbeat:
        from sync.protocol import Heartbeat

        depth = self._journal.outbox().depth()
        if session.phase is Phase.FINISHED:
            return Heartbeat(finished=True, outbox_depth=depth, machine_id=self._settings.machine_id)
        section = session.section
        return Heartbeat(
            section_id=section.id,
            section_title=section.title[:200],
            item_id=session.item.id,
            item_index=session.item_index + 1,
            item_count=len(section.items),
            remaining_seconds=math.ceil(session.remaining_seconds()),
            paused=self._held,
            outbox_depth=depth,
            machine_id=self._settings.machine_id,
        )

    def _on_beat_reply(self, attempt_id: str, reply: HeartbeatReply) -> None:
        self._beat_in_flight = False
        for instruction in reply.instructions:
            if self._closed or self.session is None or self.session.attempt_id != attempt_id:
                log.info(
                    "Instruction %s for %s arrived after that sitting left this screen", instruction.id, attempt_id
                )
                return
            self.apply_instruction(instruction)

    def _on_beat_failed(self, attempt_id: str, exc: Exception) -> None:
        from sync.client import ClientError, Refused

        self._beat_in_flight = False
        if isinstance(exc, Refused) and exc.error == "attempt_token_invalid":
            session = self.session
            if not self._closed and session is not None and session.attempt_id == attempt_id:
                if session.phase is Phase.ANSWERING:
                    self._moved_away(session)
                else:
                    self._beat_timer.stop()  # finished here; the results stay in the outbox
            return
        if isinstance(exc, ClientError):
            log.info("Heartbeat for %s not delivered: %s", attempt_id, type(exc).__name__)
        else:
            log.error("Heartbeat for %s failed unexpectedly", attempt_id, exc_info=exc)

    def apply_instruction(self, instruction: Instruction) -> None:
        """Apply an invigilator's instruction once (by id, remembered in the journal across restarts)."""
        session = self.session
        if session is None or instruction.id in self._applied:
            return
        self._applied.add(instruction.id)
        try:
            if not self._journal.record_instruction(session.attempt_id, instruction.id, instruction.kind):
                return
        except JournalError as exc:
            log.error("Instruction %s not recorded: %s", instruction.id, exc)
            return
        log.info("Applying the invigilator's %s (%s)", instruction.kind, instruction.id)
        if instruction.kind == "pause":
            self.pause()
        elif instruction.kind == "resume":
            self.resume()
        elif instruction.kind == "add_time":
            self.add_time(instruction.seconds or 0)
        elif instruction.kind == "end_section":
            self.end_section_for_invigilator(instruction.section_id)

    def pause(self) -> None:
        """Paused by the invigilator: the clock stops, any recording stops (that play is given back), and a
        full-window overlay keeps the keyboard away from the item until resume()."""
        session = self.session
        if session is None or session.phase is not Phase.ANSWERING:
            return
        self._held = True
        cut = self._playing_item
        self._leave_item()
        if cut is not None and cut == session.item.id and (bar := self.window.item.audio) is not None:
            session.refund_play(cut)
            bar.set_state(PAUSE_CUT_PLAY)
            bar.set_plays_left(session.plays_left(session.item))
        session.pause()
        self.window.set_paused(True)

    def resume(self) -> None:
        if not self._held:
            return
        self._held = False
        self.window.set_paused(False)
        session = self.session
        # Between sections the clock stays stopped until the student chooses Start on the instructions.
        if session is not None and self.window.current_screen() is not self.window.instructions:
            session.resume()
            self.window.set_remaining(session.remaining_seconds())

    def add_time(self, seconds: int) -> None:
        session = self.session
        if session is None or session.phase is not Phase.ANSWERING or seconds <= 0:
            return
        session.add_time(seconds)
        self.window.set_remaining(session.remaining_seconds())
        self.window.show_banner(added_time_text(seconds))

    def end_section_for_invigilator(self, section_id: str | None) -> None:
        """Ends the current section like a time-up (answers and envelope committed), unless it already moved on."""
        session = self.session
        if session is None or session.phase is not Phase.ANSWERING:
            return
        if section_id is not None and section_id != session.section.id:
            log.info("End of section %s asked for, but this sitting is in %s; ignored", section_id, session.section.id)
            return
        title = session.section.title
        self._after_section(session.end_section(), notice=ENDED_BY_INVIGILATOR.format(title=title))

    def _moved_away(self, session: SittingSession) -> None:
        """The code was released to another machine: stop here for good and say so."""
        log.warning("Attempt %s was moved to another computer; stopping it here", session.attempt_id)
        try:
            session.flush_drafts()
            self._journal.mark_moved(session.attempt_id)
        except JournalError as exc:
            log.error("Could not record the move of %s: %s", session.attempt_id, exc)
        self.reset()
        self.window.access_code.show_error(MOVED)

    def _on_staff_requested(self) -> None:
        self.start()  # app.py sets open_staff_console with the other parts
        if self.open_staff_console is None:
            self.window.access_code.show_error(NO_CONSOLE)
            return
        try:
            self.open_staff_console()
        except ImportError as exc:  # the console is loaded on first use (see app.staff_console_opener)
            log.warning("The staff console cannot be loaded: %s", exc)
            self.window.access_code.show_error(NO_CONSOLE)

    # ---- reset, shutdown ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the student: an empty access-code screen, and nothing of their work left in any widget."""
        self._timer.stop()
        self._beat_timer.stop()
        self._delivery_timer.stop()
        self._leave_item()
        self.session = None
        self._login = None
        self._media = {}
        self._sound_checked = False
        self._held = False
        self._applied = set()
        self.window.set_paused(False)
        self.window.finished.set_codes([])
        self.window.item.clear()
        self.window.confirm.clear()
        self.window.show_header(None)
        self.window.access_code.reset()
        self.window.show_screen(self.window.access_code)
        self.window.access_code.code_edit.setFocus()

    def shutdown(self) -> None:
        """Window closing: typing and position are committed before the app goes."""
        self._closed = True
        self._timer.stop()
        self._beat_timer.stop()
        self._delivery_timer.stop()
        if not self._ready:
            return  # closed before start-up finished: nothing was built, nothing to save
        self._player.stop()
        if self.session is not None and self.session.phase is Phase.ANSWERING:
            self.session.flush_drafts()
            self.session.checkpoint()
