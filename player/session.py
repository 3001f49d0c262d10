"""The sitting as a state machine: position, section timers, answers, plays and flags; no Qt, no network.

Every change goes through the journal and is committed before the method returns, so whatever the UI shows as
saved is on disk. Time is measured with an injected monotonic clock, so a changed wall clock cannot add or take
away time, and tests move time by hand.
"""

from __future__ import annotations

import logging
import math
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from player.offline_queue.plays import USED
from player.offline_queue.time_left import time_left_at_resume
from player.session_events import Event, Phase, ReviewEntry, SectionEnded, SessionError, TimeWarning
from sync.ordering import presented

if TYPE_CHECKING:
    # Types only: the controller imports this module before the player's first paint, and the wire types
    # (pydantic) cost ~150 ms to import; _envelope imports them when a section ends.
    from player.clock import Clock
    from player.offline_queue.journal import Journal, StoredAttempt
    from player.offline_queue.plays import PlayEnd
    from player.offline_queue.time_left import TimeLeftRecord
    from sync.protocol import AnswerValue, DeliveryItem, DeliverySection, ResultEnvelope

log = logging.getLogger(__name__)

WARNINGS_SECONDS = (300, 60)
"""Remaining times at which the student is warned: 5 minutes and 1 minute."""


class SittingSession:
    """One student's attempt on this machine."""

    def __init__(
        self,
        *,
        journal: Journal,
        attempt: StoredAttempt,
        clock: Clock,
        checkpoint_every: float = 5.0,
        typing_commit_every: float = 2.0,
        time_left: TimeLeftRecord | None = None,
    ) -> None:
        """`time_left`: where every tick records the time left, so a crash between checkpoints costs under 1 s."""
        self._journal = journal
        self._time_left = time_left
        self._checkpoint_at: datetime | None = None
        self._attempt_id = attempt.attempt_id
        self._login = attempt.login
        self._clock = clock
        self._checkpoint_every = checkpoint_every
        self._typing_commit_every = typing_commit_every
        # The attempt's own order of shuffled items and options, drawn from its id: the same after a restart or a
        # move, so the checkpoint's current item, the review's numbers and the screens all agree with what the
        # student saw before. The login keeps the server's order (result codes are packed in it).
        assessment = presented(self._login.assessment, seed=self._attempt_id)
        self._sections = [s for s in assessment.sections if s.id not in attempt.finished_sections]
        self._finished_sections = list(attempt.finished_sections)
        self._answers: dict[str, AnswerValue] = journal.answers(self._attempt_id)
        self._play_record = journal.play_record()
        self._playing: tuple[int, str] | None = None  # (play id, item id) of the play in progress
        self._flags = set(journal.flags(self._attempt_id))
        self._drafts: dict[str, tuple[AnswerValue, float]] = {}
        self._paused = False
        self._warned: set[int] = set()
        self.phase = Phase.FINISHED if not self._sections or attempt.state == "finished" else Phase.ANSWERING
        self._section_index = 0
        self._item_index = 0
        remaining: float | None = None
        if self._sections and attempt.current_section_id in {s.id for s in self._sections}:
            self._section_index = next(i for i, s in enumerate(self._sections) if s.id == attempt.current_section_id)
            ids = [item.id for item in self.section.items]
            if attempt.current_item_id in ids:
                self._item_index = ids.index(str(attempt.current_item_id))
            remaining = time_left_at_resume(attempt, self._time_left)
        self.started_with = self.section_limit_seconds() if remaining is None else remaining
        """Seconds left in the section when this session took over (a restart: from the journal and record)."""
        self._start_timer(self.started_with)
        # Warnings already behind the student are not repeated after a restart.
        self._warned = {w for w in WARNINGS_SECONDS if self.remaining_seconds() <= w}
        self._last_checkpoint = -math.inf
        # A play still open in the journal was cut short when the player stopped: it is given back now.
        cut = self._play_record.give_back_unfinished(self._attempt_id) if self.phase is Phase.ANSWERING else []
        self._cut_when_stopped = {play.item_id for play in cut}
        self._plays = self._play_record.counted(self._attempt_id)
        self._started = set(self._play_record.started_items(self._attempt_id))

    # ---- what the UI reads --------------------------------------------------------------------------

    @property
    def attempt_id(self) -> str:
        return self._attempt_id

    @property
    def student_name(self) -> str:
        return self._login.student

    @property
    def title(self) -> str:
        return self._login.assessment.title

    @property
    def section(self) -> DeliverySection:
        if self.phase is Phase.FINISHED:
            raise SessionError("the sitting is finished; there is no current section")
        return self._sections[self._section_index]

    @property
    def item(self) -> DeliveryItem:
        return self.section.items[self._item_index]

    @property
    def item_index(self) -> int:
        return self._item_index

    @property
    def section_number(self) -> int:
        """1-based number of the current section among all the assessment's sections."""
        return len(self._finished_sections) + 1

    @property
    def section_count(self) -> int:
        return len(self._login.assessment.sections)

    @property
    def paused(self) -> bool:
        return self._paused

    def is_last_section(self) -> bool:
        return self._section_index == len(self._sections) - 1

    def section_limit_seconds(self) -> float:
        extra = self._login.accommodations.extra_time_percent
        return self.section.time_limit_seconds * (100 + extra) / 100 if self.phase is Phase.ANSWERING else 0.0

    def remaining_seconds(self) -> float:
        if self._paused:
            return self._remaining_at_mark
        return max(0.0, self._remaining_at_mark - (self._clock.monotonic() - self._mark))

    def answer(self, item_id: str) -> AnswerValue | None:
        if item_id in self._drafts:
            return self._drafts[item_id][0]
        return self._answers.get(item_id)

    def is_saved(self, item_id: str) -> bool:
        """False while typed text waits for its (at most typing_commit_every seconds) commit."""
        return item_id not in self._drafts

    def is_flagged(self, item_id: str) -> bool:
        return item_id in self._flags

    def plays_used(self, item_id: str) -> int:
        """Used plays, with the one playing now (it will be used unless something cuts it short)."""
        playing = self._playing is not None and self._playing[1] == item_id
        return self._plays.get(item_id, 0) + playing

    def plays_left(self, item: DeliveryItem) -> int | None:
        """None: unlimited."""
        return None if item.max_plays is None else max(0, item.max_plays - self.plays_used(item.id))

    def review(self) -> list[ReviewEntry]:
        return [
            ReviewEntry(
                item_id=item.id,
                number=n,
                answered=self._is_answered(item.id),
                flagged=item.id in self._flags,
            )
            for n, item in enumerate(self.section.items, start=1)
        ]

    def _is_answered(self, item_id: str) -> bool:
        value = self.answer(item_id)
        return bool(value.strip()) if isinstance(value, str) else bool(value)

    # ---- navigation ------------------------------------------------------------------------------------

    def go_to(self, index: int) -> None:
        self._require_answering()
        if not 0 <= index < len(self.section.items):
            raise SessionError(f"item {index + 1} is outside this section (1-{len(self.section.items)})")
        self.flush_drafts()
        self._item_index = index
        self.checkpoint()

    def go_next(self) -> bool:
        """Move on within the section; False at the last item (the UI offers the review instead)."""
        if self._item_index + 1 >= len(self.section.items):
            return False
        self.go_to(self._item_index + 1)
        return True

    def go_previous(self) -> bool:
        if self._item_index == 0:
            return False
        self.go_to(self._item_index - 1)
        return True

    # ---- answers, flags, plays ---------------------------------------------------------------------------

    def set_answer(self, value: AnswerValue) -> None:
        """Commit the current item's answer now (choices); returns once it is on disk."""
        self._require_answering()
        item_id = self.item.id
        self._drafts.pop(item_id, None)
        self._journal.save_answer(self._attempt_id, item_id, value)
        self._answers[item_id] = value

    def set_draft(self, text: str) -> None:
        """Typed text: kept in memory and committed within typing_commit_every seconds (tick) or on leaving."""
        self._require_answering()
        item_id = self.item.id
        if self._answers.get(item_id) == text:
            self._drafts.pop(item_id, None)
            return
        first_change = self._drafts.get(item_id, (text, self._clock.monotonic()))[1]
        self._drafts[item_id] = (text, first_change)

    def flush_drafts(self, *, older_than: float = 0.0) -> None:
        now = self._clock.monotonic()
        for item_id, (text, since) in list(self._drafts.items()):
            if now - since >= older_than:
                self._journal.save_answer(self._attempt_id, item_id, text)
                self._answers[item_id] = text
                del self._drafts[item_id]

    def toggle_flag(self) -> bool:
        self._require_answering()
        item_id = self.item.id
        flagged = item_id not in self._flags
        self._journal.set_flag(self._attempt_id, item_id, flagged)
        if flagged:
            self._flags.add(item_id)
        else:
            self._flags.discard(item_id)
        return flagged

    def should_autoplay(self, item_id: str) -> bool:
        """First visits only: a recording once started (here or on a machine moved from) waits for Play again."""
        return item_id not in self._started

    def given_back_at_start(self, item_id: str) -> bool:
        """A play of this item was cut short when the player last stopped (a crash, a power cut) and given back."""
        return item_id in self._cut_when_stopped

    def start_play(self) -> bool:
        """Write down that a play of the current item's audio starts (on disk before any sound); False when no
        plays are left. It is counted by `end_play`, once it is heard or the student leaves it."""
        self._require_answering()
        item = self.item
        if self.plays_left(item) == 0:
            return False
        self.end_play("left")  # the UI never starts a play over another; if it did, the student chose to
        self._playing = (self._play_record.begin(self._attempt_id, item.id), item.id)
        self._started.add(item.id)
        return True

    def end_play(self, end: PlayEnd) -> str | None:
        """Settle the play in progress, if any (the rule: player.offline_queue.plays); its item id."""
        if self._playing is None:
            return None
        (play_id, item_id), self._playing = self._playing, None
        self._play_record.settle(play_id, end)
        self._cut_when_stopped.discard(item_id)
        if end in USED and self.phase is Phase.ANSWERING:
            self._plays[item_id] = self._plays.get(item_id, 0) + 1
        return item_id

    # ---- time ------------------------------------------------------------------------------------------------

    def _start_timer(self, remaining: float) -> None:
        self._remaining_at_mark = remaining
        self._mark = self._clock.monotonic()

    def tick(self) -> list[Event]:
        """Called often (the UI's timer): commits due typing, checkpoints, warns, and ends a section at zero."""
        if self.phase is not Phase.ANSWERING:
            return []
        self.flush_drafts(older_than=self._typing_commit_every)
        events: list[Event] = []
        remaining = self.remaining_seconds()
        for threshold in WARNINGS_SECONDS:
            if remaining <= threshold and threshold not in self._warned and remaining > 0:
                self._warned.add(threshold)
                events.append(TimeWarning(self.section.id, threshold))
        if remaining <= 0 and not self._paused:
            events.append(self.end_section(by_timeout=True))
            return events
        if self._clock.monotonic() - self._last_checkpoint >= self._checkpoint_every:
            self.checkpoint()
        else:
            self._record_time_left()
        return events

    def checkpoint(self) -> None:
        if self.phase is not Phase.ANSWERING:
            return
        self._checkpoint_at = self._journal.checkpoint(
            self._attempt_id, self.section.id, self.item.id, self.remaining_seconds()
        )
        self._last_checkpoint = self._clock.monotonic()
        self._record_time_left()

    def _record_time_left(self) -> None:
        if self._time_left is not None and self._checkpoint_at is not None:
            self._time_left.write(self._attempt_id, self.section.id, self._checkpoint_at, self.remaining_seconds())

    def pause(self) -> None:
        if not self._paused and self.phase is Phase.ANSWERING:
            self._remaining_at_mark = self.remaining_seconds()
            self._paused = True
            self.checkpoint()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._mark = self._clock.monotonic()

    def add_time(self, seconds: int) -> None:
        if self.phase is not Phase.ANSWERING:
            return
        self._start_timer(self.remaining_seconds() + seconds)
        self._warned = {w for w in self._warned if self.remaining_seconds() <= w}
        self.checkpoint()

    # ---- ending ------------------------------------------------------------------------------------------------

    def end_section(self, *, by_timeout: bool = False) -> SectionEnded:
        """Final: the section's answers and its result envelope are committed together, then the next starts."""
        self._require_answering()
        self.flush_drafts()
        section = self.section
        last = self.is_last_section()
        envelope = self._envelope(section, final=last)
        self._journal.finish_section(
            self._attempt_id, section.id, envelope=envelope.model_dump(mode="json"), ends_attempt=last
        )
        log.info("Section %s ended%s", section.id, " (time up)" if by_timeout else "")
        self._finished_sections.append(section.id)
        if last:
            self.phase = Phase.FINISHED
        else:
            self._section_index += 1
            self._item_index = 0
            self._warned = set()
            self._start_timer(self.section_limit_seconds())
            self.checkpoint()
        return SectionEnded(section_id=section.id, by_timeout=by_timeout, finished=last)

    def _envelope(self, section: DeliverySection, *, final: bool) -> ResultEnvelope:
        from sync.protocol import AnswerRecord, ResultEnvelope

        item_ids = {item.id for item in section.items}
        saved = [s for s in self._journal.saved_answers(self._attempt_id) if s.item_id in item_ids]
        return ResultEnvelope(
            idempotency_key=str(uuid.uuid4()),
            attempt_id=self._attempt_id,
            section_ids=[section.id],
            answers=[AnswerRecord(item_id=s.item_id, value=s.value, answered_at=s.answered_at) for s in saved],
            finished_at=self._clock.now(),
            final=final,
        )

    def _require_answering(self) -> None:
        if self.phase is not Phase.ANSWERING:
            raise SessionError("the sitting is finished; nothing can change")
