"""The flow between screens: the session, the journal and the screens in step; the screens only show and emit.

Signing in (ui/student_login_flow.py over player/student_login.py), the items and their recordings (ui/item_flow.py,
ui/item_audio.py) and the invigilator (ui/invigilation.py over player/supervision.py) are its helpers;
player.ui.assembly builds it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from player.clock import Clock, SystemClock
from player.durations import duration_in_words
from player.session import SittingSession
from player.session_events import Phase, SectionEnded, TimeWarning
from player.ui.banner import TimedBanner
from player.ui.invigilation import Invigilation
from player.ui.item_audio import audio_of
from player.ui.item_flow import ItemFlow
from player.ui.parts import ControllerSettings, SittingParts
from player.ui.student_login_flow import StudentLoginFlow
from player.ui.tasks import TaskRunner
from player.ui.window import MainWindow

if TYPE_CHECKING:
    # Types only: requests, pydantic (the wire types), sqlite-utils and QtMultimedia together take most of a
    # second to import; the methods that need them at run time import them where they run.
    from player.offline_queue.journal import StoredAttempt
    from sync.client import InvigilClient
    from sync.protocol import DeliverySection, LoginResponse

log = logging.getLogger(__name__)

TIME_UP = "Time is up for the section {title}. Your answers to it are saved."


def warning_text(warning: TimeWarning) -> str:
    return f"{duration_in_words(warning.remaining_seconds)} left in this section."


def still_within(session: SittingSession, seconds: int) -> Callable[[], bool]:
    """Whether at most `seconds` are left: a time warning is true until time is added."""
    return lambda: session.remaining_seconds() <= seconds


class PlayerController(QObject):
    """Access code -> Is this you? -> instructions -> sound check -> items -> review -> finished -> empty code."""

    def __init__(
        self,
        *,
        window: MainWindow,
        make_client: Callable[[], InvigilClient],
        tasks: TaskRunner,
        settings: ControllerSettings,
        build_parts: Callable[[], SittingParts],
        clock: Clock | None = None,
        today: Callable[[], datetime] = datetime.now,
    ) -> None:
        """`build_parts` is called once, by ensure_ready(): on start() or the first access code."""
        super().__init__(window)
        self.window = window
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
        self.wake_uploader: Callable[[], None] | None = None
        """The uploader's wake(): called after every section end so its envelope leaves at once."""
        self.open_staff_console: Callable[[], None] | None = None
        """What "Staff sign in" calls (None: this build has no staff console)."""
        self._held = False
        """Paused by the invigilator (as opposed to the pause while a student reads instructions)."""
        self._finished_at = 0.0
        """When the finished screen appeared (self._clock's monotonic seconds)."""
        self._closed = False
        self.banner = TimedBanner(window, self._clock)
        self._timer = QTimer(self)
        self._timer.setInterval(settings.tick_interval_ms)
        self._timer.timeout.connect(self.tick)
        self._delivery_timer = QTimer(self)
        self._delivery_timer.setInterval(settings.delivery_poll_ms)
        self._delivery_timer.timeout.connect(self.refresh_delivery)
        self.student_login = StudentLoginFlow(
            window, host=self, tasks=tasks, make_client=make_client, server_url=settings.server_url, today=today
        )
        window.on_close.append(self.shutdown)
        window.sitting_open = self.sitting_open

    def ensure_ready(self) -> None:
        """Build the parts and connect the sitting screens; idempotent."""
        if self._ready:
            return
        started = time.perf_counter()
        parts = self._build_parts()
        self._journal, self._cache, self._time_left = parts.journal, parts.media_cache, parts.time_left
        self.student_login.attach(parts.journal, parts.media_cache)
        self.items = ItemFlow(self.window, parts.player, host=self, media_path=self._media_path)
        self._audio = self.items.audio
        self.invigilation = Invigilation(
            self.window,
            host=self,
            journal=parts.journal,
            audio=self._audio,
            tasks=self._tasks,
            make_client=self._make_client,
            clock=self._clock,
            every=self._settings.heartbeat_every,
            machine_id=self._settings.machine_id,
            tick_interval_ms=self._settings.tick_interval_ms,
            machine_name=self._settings.machine_name,
            devices=parts.player.devices,
            readiness=parts.readiness,
            left_window_count=parts.left_window_count,
        )
        self._ready = True
        self._connect()
        log.info("Sitting parts ready in %.0f ms", (time.perf_counter() - started) * 1000)

    def _connect(self) -> None:
        w = self.window
        w.instructions.start.connect(self._on_instructions_done)
        w.sound_check.passed.connect(self._on_sound_checked)
        w.sound_check.outcome.connect(self.invigilation.sound_checked)
        w.finished.done.connect(self.reset)

    # ---- start, login, confirm -------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> None:
        """Resume an attempt still open on this machine, or wait for an access code. Once: the assembly's caller
        calls it after the first paint, and an access code typed before that calls it first."""
        if self._started:
            return
        self._started = True
        self.ensure_ready()
        self.student_login.resume()

    def open_sitting(
        self, attempt: StoredAttempt, login: LoginResponse, media: dict[str, Path], *, resumed: bool
    ) -> None:
        """An attempt is open on this machine: on to the first section's instructions, or straight back to where
        the student was (resumed here, or the code typed again after a restart)."""
        self._login, self._media = login, media
        self.invigilation.opened(attempt.attempt_id, resumed=resumed)
        if resumed or attempt.current_section_id is not None:
            self._sound_checked = True
            self._begin_session(attempt)
            return
        self._show_instructions(login.assessment.sections[0], number=1, notice="")

    def _show_instructions(self, section: DeliverySection, *, number: int, notice: str) -> None:
        assert self._login is not None
        extra = self._login.accommodations.extra_time_percent
        self.window.show_header(None)
        self.window.instructions.show_section(
            number=number,
            count=len(self._login.assessment.sections),
            title=section.title,
            instructions=section.instructions,
            seconds=section.time_limit_seconds * (100 + extra) / 100,
            notice=notice,
        )
        self.window.show_screen(self.window.instructions)
        self.window.instructions.start_button.setFocus()

    def _on_instructions_done(self) -> None:
        assert self._login is not None
        has_audio = any(audio_of(i) for s in self._login.assessment.sections for i in s.items)
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
            time_left=self._time_left,
        )
        self.invigilation.begin(attempt.attempt_id)
        if self.session.phase is Phase.FINISHED:
            self._show_finished()
            return
        # A pause survives a restart: the invigilator has not said to carry on yet.
        held = self._journal.paused_by_invigilator(attempt.attempt_id)
        self._held = held
        self._enter_section()
        if held:
            self.invigilation.pause()

    def _enter_section(self) -> None:
        assert self.session is not None
        self.session.checkpoint()
        self.window.show_header(self.session.title)
        self.window.set_remaining(self.session.remaining_seconds())
        self._timer.start()
        self.items.show_item()

    def _media_path(self, sha256: str) -> Path:
        return self._media.get(sha256) or self._cache.path_for(sha256)

    # ---- time, section ends ----------------------------------------------------------------------

    def tick(self) -> None:
        session = self.session
        if session is None or session.phase is not Phase.ANSWERING:
            return
        self.banner.tick()
        for event in session.tick():
            if isinstance(event, TimeWarning):
                # Up for BANNER_SECONDS, and gone at once when added time makes it untrue.
                self.banner.show(warning_text(event), still_true=still_within(session, event.remaining_seconds))
            elif isinstance(event, SectionEnded):
                self.after_section(event)
                return
        self.window.set_remaining(session.remaining_seconds())
        if self.window.current_screen() is self.window.item:
            self.items.update_saved()

    def after_section(self, ended: SectionEnded, *, notice: str | None = None) -> None:
        session = self.session
        assert session is not None
        self._audio.stop("section_ended")
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

    # ---- the finished screen: delivery state and result codes ------------------------------------------

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
        from player import unsent_results

        # Every second while the screen shows: only this sitting's outbox rows, nothing parsed.
        waiting = unsent_results.pending(self._journal, attempt_id=session.attempt_id)
        screen = self.window.finished
        screen.set_delivery_state(sent=not waiting.keys)
        if not waiting.keys:
            self._delivery_timer.stop()
            return
        waited = self._clock.monotonic() - self._finished_at >= self._settings.result_codes_after
        shown = tuple(code.key for code in screen.codes())
        if not (waiting.send_failed or waited or shown) or waiting.keys == shown:
            return  # the same envelopes: keep the codes on show (nothing new to make)
        from player.ui.screens.finished import ResultCodeText

        screen.set_codes(
            [
                ResultCodeText.of(result)
                for result in unsent_results.unsent_results(self._journal, attempt_id=session.attempt_id)
            ]
        )

    # ---- the invigilator ------------------------------------------------------------------------------

    @property
    def held(self) -> bool:
        """Paused by the invigilator (as opposed to the pause while a student reads instructions)."""
        return self._held

    @held.setter
    def held(self, value: bool) -> None:
        self._held = value

    def show_banner(self, text: str) -> None:
        """A message under the header (time added) that leaves by itself, as the time warnings do."""
        self.banner.show(text)

    # ---- reset, shutdown ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the student: an empty access-code screen, and nothing of their work left in any widget."""
        self._timer.stop()
        self.invigilation.stop()
        self._delivery_timer.stop()
        self._audio.stop("section_ended")  # the sitting finished or moved away: nothing in it changes any more
        self.session = None
        self._login = None
        self._media = {}
        self.student_login.forget()
        self._sound_checked = False
        self._held = False
        self.window.set_paused(False)
        self.window.finished.set_codes([])
        self.window.item.clear()
        self.window.confirm.clear()
        self.window.show_header(None)
        self.window.access_code.reset()
        self.window.show_screen(self.window.access_code)
        self.window.access_code.code_edit.setFocus()

    def sitting_open(self) -> bool:
        """A student's test is open here and not finished (from "Is this you?" until the finished screen)."""
        if self._closed or self._login is None:
            return False
        return self.session is None or self.session.phase is Phase.ANSWERING

    def shutdown(self) -> None:
        """Window closing: typing and position are committed before the app goes. Once: the window's close and
        the assembly's close() both call it, and by the second the journal may be closed."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self._delivery_timer.stop()
        if not self._ready:
            return  # closed before start-up finished: nothing was built, nothing to save
        self.invigilation.close()
        self._audio.stop(None)  # a play cut by closing the window is given back at the next start
        if self.session is not None and self.session.phase is Phase.ANSWERING:
            self.session.flush_drafts()
            self.session.checkpoint()
