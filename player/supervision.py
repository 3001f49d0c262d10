"""Supervision without Qt: when a heartbeat is due, what it tells the room (position, time left, results waiting,
the machine's version, readiness and how often the test window was left), sending it, and which of the
invigilator's instructions in the reply are new (each applied once, across restarts)."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from player.clock import Clock
from player.durations import duration_in_words
from player.offline_queue.journal import JournalError
from player.session import SittingSession
from player.session_events import Phase
from sync.version import VERSION

if TYPE_CHECKING:
    # Types only: pydantic (the wire types) and requests are imported where a heartbeat is made or sent.
    from player.offline_queue.journal import Journal
    from sync.client import InvigilClient
    from sync.protocol import AudioStatus, Heartbeat, HeartbeatReply, Instruction

log = logging.getLogger(__name__)

ENDED_BY_INVIGILATOR = "Your invigilator ended the section {title}. Your answers to it are saved."
MOVED = (
    "Your invigilator moved this test to another computer. "
    "Go to the computer your invigilator gives you and type your access code there."
)

BeatFailure = Literal["moved", "not_delivered"]
"""moved: the server no longer knows this machine's token (the code was released to another machine)."""


def added_time_text(seconds: int) -> str:
    return f"Your invigilator added {duration_in_words(seconds)}."


@dataclass
class MachineReport:
    """What the player tells the room about this machine beside the position: its name, its sound (the sound
    check's outcome, or no output at all), and when it last started again with a sitting open."""

    machine_id: str | None = None
    machine_name: str | None = None
    audio: AudioStatus = "not_checked"
    resumed_at: datetime | None = None
    """Set when the player started with this sitting still open (a crash, a power cut, a restart)."""
    item_ids: Sequence[str] = field(default_factory=tuple)
    """Every item of the test, for "answered/total"."""
    app_version: str | None = None
    readiness: str | None = None
    """The machine's readiness check in one line ("Ready" or its worst problems); None until it has run."""
    left_window_count: int = 0
    """Times the student left the test window in this sitting."""


MAX_VERSION_CHARS = 40
MAX_READINESS_CHARS = 200
"""sync.protocol's bounds on a heartbeat's app_version and readiness (not imported: pydantic loads late)."""
MAX_LEFT_WINDOW_COUNT = 100_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str | None, limit: int) -> str | None:
    """`text` as the room can show it and the server accepts it: control characters (line breaks, escapes) made
    spaces, blanks squeezed, and cut to `limit` characters with "..." (a longer line would fail the heartbeat)."""
    if text is None:
        return None
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _answered(session: SittingSession, item_ids: Sequence[str]) -> int:
    def given(item_id: str) -> bool:
        value = session.answer(item_id)
        return bool(value.strip()) if isinstance(value, str) else bool(value)

    return sum(1 for item_id in item_ids if given(item_id))


def heartbeat_for(
    session: SittingSession | None,
    *,
    outbox_depth: int,
    paused: bool,
    machine_id: str | None,
    report: MachineReport | None = None,
) -> Heartbeat:
    """Where the sitting is now (None: not begun yet, the student reads the first instructions or does the sound
    check), how many result envelopes wait on this machine (the room's "waiting"), and the machine's report."""
    from sync.protocol import Heartbeat

    report = report if report is not None else MachineReport(machine_id=machine_id)
    about = {
        "outbox_depth": outbox_depth,
        "machine_id": machine_id,
        "machine_name": report.machine_name,
        "audio": report.audio,
        "resumed_at": report.resumed_at,
        "app_version": one_line(report.app_version, MAX_VERSION_CHARS),
        "readiness": one_line(report.readiness, MAX_READINESS_CHARS),
        "left_window_count": min(max(report.left_window_count, 0), MAX_LEFT_WINDOW_COUNT),
    }
    if session is None:
        return Heartbeat(starting=True, paused=paused, **about)
    progress = (
        {"answered_count": _answered(session, report.item_ids), "question_count": len(report.item_ids)}
        if report.item_ids
        else {}
    )
    if session.phase is Phase.FINISHED:
        return Heartbeat(finished=True, **progress, **about)
    section = session.section
    return Heartbeat(
        section_id=section.id,
        section_title=section.title[:200],
        item_id=session.item.id,
        item_index=session.item_index + 1,
        item_count=len(section.items),
        remaining_seconds=math.ceil(session.remaining_seconds()),
        paused=paused,
        **progress,
        **about,
    )


class Supervision:
    """One sitting's link to the invigilator: heartbeats at most every `every` seconds of `clock` (None: only when
    asked), one at a time, and instructions applied at most once (remembered in the journal).

    The caller runs the work `beat()` returns on a worker thread and hands back its reply or error."""

    def __init__(
        self,
        journal: Journal,
        *,
        make_client: Callable[[], InvigilClient],
        clock: Clock,
        every: float | None,
        machine_id: str | None,
        machine_name: str | None = None,
        readiness: Callable[[], str | None] = lambda: None,
        left_window_count: Callable[[], int] = lambda: 0,
    ) -> None:
        """`readiness`: the machine's readiness check in one line, None until it has run; `left_window_count`: the
        times the student left the test window in this sitting. Both are asked on the GUI thread at each beat."""
        self._journal = journal
        self._readiness = readiness
        self._left_window_count = left_window_count
        self._make_client = make_client
        self._clock = clock
        self.every = every
        self._machine_id = machine_id
        self.report = MachineReport(machine_id=machine_id, machine_name=machine_name)
        """What the next heartbeats say of this machine; the screens fill in the sound and restarts."""
        self._applied: set[str] = set()
        self._in_flight = False
        self._last_beat_at = 0.0
        """When the last heartbeat was sent (clock's monotonic seconds)."""

    def begin(self, attempt_id: str) -> None:
        """A sitting opened (or resumed): the instructions it already applied, and the interval starts now."""
        self._applied = set(self._journal.applied_instructions(attempt_id))
        self._last_beat_at = self._clock.monotonic()
        assessment = self._journal.attempt(attempt_id).login.assessment
        self.report.item_ids = tuple(item.id for section in assessment.sections for item in section.items)

    def forget(self) -> None:
        self._applied = set()
        self.report = MachineReport(machine_id=self._machine_id, machine_name=self.report.machine_name)

    def is_due(self) -> bool:
        return self.every is not None and self._clock.monotonic() - self._last_beat_at >= self.every

    def beat(
        self, session: SittingSession | None, *, paused: bool, attempt_id: str | None = None
    ) -> Callable[[], HeartbeatReply] | None:
        """The work that sends where `session` is now (None: attempt `attempt_id` is open but its first section
        has not begun); None while the last heartbeat is still on its way."""
        if self._in_flight:
            return None
        if session is not None:
            attempt_id = session.attempt_id
        if attempt_id is None:
            raise ValueError("a heartbeat needs a session or the id of the attempt open here")
        self._last_beat_at = self._clock.monotonic()
        self._refresh_report()
        beat = heartbeat_for(
            session,
            outbox_depth=self._journal.outbox().depth(),
            paused=paused,
            machine_id=self._machine_id,
            report=self.report,
        )
        token = self._journal.attempt(attempt_id).attempt_token
        make_client = self._make_client

        def work() -> HeartbeatReply:
            with make_client() as client:
                return client.heartbeat(attempt_id, token, beat)

        self._in_flight = True
        return work

    def _refresh_report(self) -> None:
        """The version, readiness and window count as of now; a provider that fails costs its field, never the
        heartbeat (the room must keep hearing from this machine)."""
        report = self.report
        report.app_version = VERSION
        try:
            report.readiness = self._readiness()
        except Exception:
            log.exception("The readiness summary could not be read; the heartbeat goes without it")
            report.readiness = None
        try:
            report.left_window_count = int(self._left_window_count())
        except Exception:
            log.exception("The count of times the test window was left could not be read; the last one is sent")

    def replied(self) -> None:
        self._in_flight = False

    def failed(self, attempt_id: str, exc: Exception) -> BeatFailure:
        """Why the heartbeat for `attempt_id` did not arrive (logged here)."""
        from sync.client import ClientError, Refused

        self._in_flight = False
        if isinstance(exc, Refused) and exc.error == "attempt_token_invalid":
            return "moved"
        if isinstance(exc, ClientError):
            log.info("Heartbeat for %s not delivered: %s", attempt_id, type(exc).__name__)
        else:
            log.error("Heartbeat for %s failed unexpectedly", attempt_id, exc_info=exc)
        return "not_delivered"

    def take(self, attempt_id: str, instruction: Instruction) -> bool:
        """True when `instruction` is new for this sitting: it is recorded in the journal now, to be applied once.
        False for a repeat (here or before a restart) or when the journal cannot record it (logged)."""
        if instruction.id in self._applied:
            return False
        self._applied.add(instruction.id)
        try:
            if not self._journal.record_instruction(attempt_id, instruction.id, instruction.kind):
                return False
        except JournalError as exc:
            log.error("Instruction %s not recorded: %s", instruction.id, exc)
            return False
        log.info("Applying the invigilator's %s (%s)", instruction.kind, instruction.id)
        return True
