"""The invigilator on the student's screen: heartbeats on a timer (what they say and which instructions are new:
player.supervision), and each instruction applied: pause, resume, added time, an ended section, a moved code."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, QTimer

from player.clock import Clock
from player.offline_queue.journal import JournalError
from player.session import SittingSession
from player.session_events import Phase, SectionEnded
from player.supervision import ENDED_BY_INVIGILATOR, MOVED, Supervision, added_time_text
from sync.error_catalogue import problem

if TYPE_CHECKING:
    from player.audio.interface import OutputDevices
    from player.doctor.report import Report
    from player.offline_queue.journal import Journal
    from player.ui.item_audio import ItemAudio
    from player.ui.tasks import TaskRunner
    from player.ui.window import MainWindow
    from sync.client import InvigilClient
    from sync.protocol import AudioStatus, HeartbeatReply, Instruction

log = logging.getLogger(__name__)


READINESS_EVERY_SECONDS = 300.0
"""How old the readiness summary may get before a heartbeat asks for a fresh one: a machine that started before
its network came up should not show "Server not reachable" in the room for the rest of the day."""


def readiness_in_background(
    tasks: TaskRunner,
    prepare_check: Callable[[], Callable[[], Report]],
    *,
    every_seconds: float = READINESS_EVERY_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
) -> Callable[[], str | None]:
    """Run the machine's readiness check (what `prepare_check`, called on the GUI thread, returns: the quick doctor
    with its GUI-thread answers already taken) on a worker thread when the function returned is
    first called (by the first heartbeat: nothing runs before a sitting opens, so a mistyped code starts no work),
    and again when the last run started over `every_seconds` ago. That function
    says the newest one-line summary, None before the first has finished (a failure is logged and keeps the last):
    heartbeats never wait for it."""
    summary: list[str] = []
    started: list[float] = []
    running: list[bool] = [False]

    def done(report: Report) -> None:
        running[0] = False
        summary.append(report.summary())
        del summary[:-1]
        log.info("Readiness: %s", summary[-1])

    def failed(exc: Exception) -> None:
        running[0] = False
        log.error("The readiness check failed; heartbeats go with the last summary", exc_info=exc)

    def start() -> None:
        running[0] = True
        started[:] = [monotonic()]
        tasks.run(prepare_check(), on_done=done, on_error=failed)

    def current() -> str | None:
        if not running[0] and (not started or monotonic() - started[-1] >= every_seconds):
            start()
        return summary[-1] if summary else None

    return current


class InvigilationHost(Protocol):
    """What applying an instruction needs from the flow around it (the controller)."""

    @property
    def session(self) -> SittingSession | None: ...

    held: bool
    """Paused by the invigilator (as opposed to the pause while a student reads instructions)."""

    def after_section(self, ended: SectionEnded, *, notice: str | None = None) -> None: ...

    def reset(self) -> None: ...

    def show_banner(self, text: str) -> None: ...


class Invigilation(QObject):
    """Heartbeats for `host`'s open sitting every `every` seconds of `clock` (None: only heartbeat_now()), sent
    by `tasks` off the GUI thread, and the instructions in their replies applied on `window`."""

    def __init__(
        self,
        window: MainWindow,
        *,
        host: InvigilationHost,
        journal: Journal,
        audio: ItemAudio,
        tasks: TaskRunner,
        make_client: Callable[[], InvigilClient],
        clock: Clock,
        every: float | None,
        machine_id: str | None,
        tick_interval_ms: int,
        machine_name: str | None = None,
        devices: OutputDevices | None = None,
        readiness: Callable[[], str | None] = lambda: None,
        left_window_count: Callable[[], int] = lambda: 0,
    ) -> None:
        """`readiness` and `left_window_count`: what each heartbeat says of the machine's readiness check and of
        the times the student left the test window (player.supervision.Supervision)."""
        super().__init__(window)
        self._window = window
        self._host = host
        self._journal = journal
        self._audio = audio
        self._tasks = tasks
        self._supervision = Supervision(
            journal,
            make_client=make_client,
            clock=clock,
            every=every,
            machine_id=machine_id,
            machine_name=machine_name,
            readiness=readiness,
            left_window_count=left_window_count,
        )
        self._clock = clock
        self._devices = devices
        self._again = False
        """A heartbeat was asked for while one was on its way; it is sent when that one lands."""
        self._attempt_id: str | None = None
        """The sitting open on this machine, from its opening (before its first section) until the student leaves."""
        self._closed = False
        # The timer only looks whether a heartbeat is due; the interval is measured on the clock, so a test's
        # hand-moved clock decides when heartbeats go, as it does for the section's time.
        self._beat_timer = QTimer(self)
        self._beat_timer.setInterval(tick_interval_ms)
        self._beat_timer.timeout.connect(self.beat_if_due)

    def opened(self, attempt_id: str, *, resumed: bool) -> None:
        """A sitting is open on this machine, its first section perhaps not begun (instructions, sound check): the
        room hears from it now. `resumed`: the player started again with it open (a crash, a power cut, a restart),
        which the invigilator is told."""
        self.begin(attempt_id)
        if resumed:
            self._supervision.report.resumed_at = self._clock.now()
        # After the caller has finished opening it: a sitting resumed at an item then says where the student is.
        QTimer.singleShot(0, self, self.heartbeat_now)

    def begin(self, attempt_id: str) -> None:
        """A sitting opened or resumed: heartbeats start (if on a timer), and its applied instructions count."""
        if self._attempt_id != attempt_id:
            self._supervision.forget()
        self._attempt_id = attempt_id
        self._supervision.begin(attempt_id)
        if self._supervision.every is not None:
            self._beat_timer.start()

    def stop(self) -> None:
        """The student left (reset): no more heartbeats for that sitting."""
        self._beat_timer.stop()
        self._attempt_id = None
        self._supervision.forget()

    def sound_checked(self, outcome: AudioStatus) -> None:
        """The sound check's outcome (heard, not heard, no device, the clip failed): the invigilator hears of it at
        once, not at the next heartbeat, because the student waits for help."""
        self._supervision.report.audio = outcome
        self.heartbeat_now()

    def close(self) -> None:
        """The window is closing: nothing more is sent, and late replies are ignored."""
        self._closed = True
        self._beat_timer.stop()

    # ---- heartbeats ---------------------------------------------------------------------------------

    def beat_if_due(self) -> bool:
        """Send a heartbeat if `every` seconds have passed since the last one (what the beat timer calls)."""
        return self._supervision.is_due() and self.heartbeat_now()

    def heartbeat_now(self) -> bool:
        """Send where the sitting is now (off the GUI thread); False when no sitting is open or a heartbeat is still
        on its way."""
        session = self._host.session
        attempt_id = session.attempt_id if session is not None else self._attempt_id
        if attempt_id is None or self._closed:
            return False
        heard = self._supervision.report.audio
        if self._devices is not None and not self._devices.available():
            self._supervision.report.audio = "no_device"  # said while it lasts, whatever the sound check found
        work = self._supervision.beat(session, paused=self._host.held, attempt_id=attempt_id)
        self._supervision.report.audio = heard
        if work is None:
            # One is on its way with older news (a sound check just failed): another follows when it lands.
            self._again = True
            return False
        self._tasks.run(
            work,
            on_done=lambda reply: self._on_beat_reply(attempt_id, reply),
            on_error=lambda exc: self._on_beat_failed(attempt_id, exc),
        )
        return True

    def _current(self, attempt_id: str) -> SittingSession | None:
        """The session of `attempt_id` if it is still the one on screen (None before its first section, too)."""
        session = self._host.session
        return session if not self._closed and session is not None and session.attempt_id == attempt_id else None

    def _landed(self) -> bool:
        """True when another heartbeat was asked for while this one was on its way (and is now due)."""
        again, self._again = self._again, False
        return again

    def _on_beat_reply(self, attempt_id: str, reply: HeartbeatReply) -> None:
        self._supervision.replied()
        beat_again = self._landed()
        for instruction in reply.instructions:
            if self._current(attempt_id) is None:
                log.info(
                    "Instruction %s for %s arrived after that sitting left this screen", instruction.id, attempt_id
                )
                return
            beat_again = self.apply_instruction(instruction) or beat_again
        if beat_again:
            # The room hears the new state (paused, the next section, a failed sound check) now, not a heartbeat
            # interval later.
            self.heartbeat_now()

    def _on_beat_failed(self, attempt_id: str, exc: Exception) -> None:
        session = self._current(attempt_id)
        failure = self._supervision.failed(attempt_id, exc)
        if self._landed() and failure == "not_delivered":
            self.heartbeat_now()
        if failure != "moved" or self._closed or self._attempt_id != attempt_id:
            return
        if session is None or session.phase is Phase.ANSWERING:
            self._moved_away(attempt_id, session)
        else:
            self._beat_timer.stop()  # finished here; the results stay in the outbox

    # ---- instructions -------------------------------------------------------------------------------

    def apply_instruction(self, instruction: Instruction) -> bool:
        """Apply an invigilator's instruction once (by id, remembered in the journal across restarts); False for
        one already applied (or with no sitting to apply it to)."""
        session = self._host.session
        if session is None or not self._supervision.take(session.attempt_id, instruction):
            return False
        if instruction.kind == "pause":
            self.pause()
        elif instruction.kind == "resume":
            self.resume()
        elif instruction.kind == "add_time":
            self.add_time(instruction.seconds or 0)
        elif instruction.kind == "end_section":
            self.end_section(instruction.section_id)
        return True

    def pause(self) -> None:
        """Paused by the invigilator: the clock stops, any recording stops (that play is given back), and a
        full-window overlay keeps the keyboard away from the item until resume()."""
        session = self._host.session
        if session is None or session.phase is not Phase.ANSWERING:
            return
        self._host.held = True
        self._audio.cut_by_pause(session)
        session.pause()
        self._window.set_paused(True)

    def resume(self) -> None:
        if not self._host.held:
            return
        self._host.held = False
        self._window.set_paused(False)
        item = self._window.item
        if self._window.current_screen() is item and item.answer is not None:
            # Back to the answer, wherever the focus was: a student who carries on typing must never land on
            # Play again (a Space there would use a play, and the letters would go nowhere).
            item.answer.setFocus()
        session = self._host.session
        # Between sections the clock stays stopped until the student chooses Start on the instructions.
        if session is not None and self._window.current_screen() is not self._window.instructions:
            session.resume()
            self._window.set_remaining(session.remaining_seconds())

    def add_time(self, seconds: int) -> None:
        session = self._host.session
        if session is None or session.phase is not Phase.ANSWERING or seconds <= 0:
            return
        session.add_time(seconds)
        self._window.set_remaining(session.remaining_seconds())
        self._host.show_banner(added_time_text(seconds))

    def end_section(self, section_id: str | None) -> None:
        """Ends the current section like a time-up (answers and envelope committed), unless it already moved on."""
        session = self._host.session
        if session is None or session.phase is not Phase.ANSWERING:
            return
        if section_id is not None and section_id != session.section.id:
            log.info("End of section %s asked for, but this sitting is in %s; ignored", section_id, session.section.id)
            return
        title = session.section.title
        self._host.after_section(session.end_section(), notice=ENDED_BY_INVIGILATOR.format(title=title))

    def _moved_away(self, attempt_id: str, session: SittingSession | None) -> None:
        """The code was released to another machine: stop here for good and say so."""
        log.warning("Attempt %s was moved to another computer; stopping it here", attempt_id)
        try:
            if session is not None:
                session.flush_drafts()
            self._journal.mark_moved(attempt_id)
        except JournalError as exc:
            log.error("Could not record the move of %s: %s", attempt_id, exc)
        self._host.reset()
        self._window.access_code.show_error(problem("login.moved", MOVED))
