"""Wire types of hand marking (staff API): the answers a sitting has to mark by hand, and a mark given to one."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sync.protocol import WireModel

MAX_HAND_SCORE = 1000.0
"""The largest score the wire accepts at all (an item's own maximum is checked by the server, naming it)."""


class HandMarkIn(WireModel):
    """A score for one answer. `replaces` is the id of the mark the marker saw (None when they saw none): if
    another marker has marked the answer since, the server refuses rather than silently overwrite their mark."""

    score: float = Field(ge=0, le=MAX_HAND_SCORE, allow_inf_nan=False)
    replaces: int | None = Field(default=None, ge=1, le=2**62)


class HandMarkOut(WireModel):
    id: int
    """Orders an answer's marks; the newest counts. Send it back as `replaces` to mark the answer again."""
    result_id: str
    item_id: str
    score: float
    max_score: float
    marker: str
    marked_at: datetime


class HandMarkAnswer(WireModel):
    """One student's answer to a hand-marked item, as they wrote it, with its current mark."""

    result_id: str
    allocation_id: str
    student_name: str
    unique_id: str
    answer: str
    still_sitting: bool
    """The student has not finished the test yet: the answer can be read, but is marked once they finish."""
    mark: HandMarkOut | None


class HandMarkItem(WireModel):
    """An item marked by hand (extended text), with every answer to it that needs a person's mark."""

    item_id: str
    section_id: str
    section_title: str
    prompt: str
    guidance: str | None
    max_score: float
    answers: list[HandMarkAnswer]
    """By student name; answers left blank are not here (they score 0 and need nobody's time)."""


class HandMarkingSheet(WireModel):
    """What a marker goes through for one sitting: item by item, each student's answer in turn."""

    sitting_id: str
    items: list[HandMarkItem]
