"""Supervision without Qt: when a heartbeat is due, what it tells the room (position, time left, results waiting),
sending it, and which of the invigilator's instructions in the reply are new (each applied once, across restarts)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from player.clock import Clock
from player.durations import duration_in_words
from player.offline_queue.journal import JournalError
from player.session import SittingSession
from player.session_events import Phase

if TYPE_CHECKING:
    # Types only: pydantic (the wire types) and requests are imported where a heartbeat is made or sent.
    from player.offline_queue.journal import Journal
    from sync.client import InvigilClient
    from sync.protocol import Heartbeat, HeartbeatReply, Instruction

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


def heartbeat_for(session: SittingSession, *, outbox_depth: int, paused: bool, machine_id: str | None) -> Heartbeat:
    """Where the sitting is now, and how many result envelopes wait on this machine (the room's "waiting")."""
    from sync.protocol import Heartbeat

    if session.phase is Phase.FINISHED:
        return Heartbeat(finished=True, outbox_depth=outbox_depth, machine_id=machine_id)
    section = session.section
    return Heartbeat(
        section_id=section.id,
        section_title=section.title[:200],
        item_id=session.item.id,
        item_index=session.item_index + 1,
        item_count=len(section.items),
        remaining_seconds=math.ceil(session.remaining_seconds()),
        paused=paused,
        outbox_depth=outbox_depth,
        machine_id=machine_id,
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
    ) -> None:
        self._journal = journal
        self._make_client = make_client
        self._clock = clock
        self.every = every
        self._machine_id = machine_id
        self._applied: set[str] = set()
        self._in_flight = False
        self._last_beat_at = 0.0
        """When the last heartbeat was sent (clock's monotonic seconds)."""

    def begin(self, attempt_id: str) -> None:
        """A sitting opened (or resumed): the instructions it already applied, and the interval starts now."""
        self._applied = set(self._journal.applied_instructions(attempt_id))
        self._last_beat_at = self._clock.monotonic()

    def forget(self) -> None:
        self._applied = set()

    def is_due(self) -> bool:
        return self.every is not None and self._clock.monotonic() - self._last_beat_at >= self.every

    def beat(self, session: SittingSession, *, paused: bool) -> Callable[[], HeartbeatReply] | None:
        """The work that sends where `session` is now; None while the last heartbeat is still on its way."""
        if self._in_flight:
            return None
        self._last_beat_at = self._clock.monotonic()
        attempt_id = session.attempt_id
        beat = heartbeat_for(
            session, outbox_depth=self._journal.outbox().depth(), paused=paused, machine_id=self._machine_id
        )
        token = self._journal.attempt(attempt_id).attempt_token
        make_client = self._make_client

        def work() -> HeartbeatReply:
            with make_client() as client:
                return client.heartbeat(attempt_id, token, beat)

        self._in_flight = True
        return work

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
