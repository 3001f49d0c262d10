"""What a sitting session reports to its callers: its phase, the events a tick gives (time warnings, a section
ended), the review list's entries and the refusal of an action it does not allow (no Qt, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class SessionError(Exception):
    """An action the sitting does not allow at this point (a programming error in the caller, or a race)."""


class Phase(Enum):
    ANSWERING = "answering"
    FINISHED = "finished"


@dataclass(frozen=True)
class TimeWarning:
    section_id: str
    remaining_seconds: int


@dataclass(frozen=True)
class SectionEnded:
    section_id: str
    by_timeout: bool
    finished: bool
    """True when that was the last section: the sitting is over."""


Event = TimeWarning | SectionEnded


@dataclass(frozen=True)
class ReviewEntry:
    item_id: str
    number: int
    """1-based position within the section, as the student sees it."""
    answered: bool
    flagged: bool
