"""Moving a student: the time and place a released attempt resumes from on the next machine."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from sync import protocol
from sync.server.manifest_cache import parsed
from sync.server.models import Attempt

log = logging.getLogger(__name__)


def keep_shown_time(attempt: Attempt) -> None:
    """At a release: the checkpoint the next machine resumes from takes the position and time left of the last
    heartbeat, which is what the console showed. The held checkpoint may be up to the uploader's idle wait
    (30 s) older than that; a student moved at 5:31 must not start again at 5:51.

    Left alone when the heartbeat is behind the checkpoint (an earlier section) or says nothing of a section."""
    if attempt.section_id is None or attempt.remaining_seconds is None or attempt.remaining_seconds < 0:
        return
    sections = [s.id for s in parsed(attempt.allocation.sitting.assessment, None).delivery.sections]
    if attempt.section_id not in sections:
        return
    current = _held(attempt)
    if current is not None and current.section_id not in sections:
        current = None  # one the test does not have (stored by an older server): login drops it anyway
    later = current is not None and sections.index(current.section_id) > sections.index(attempt.section_id)
    if later:
        return  # the checkpoint is in a later section: it is the newer of the two
    same_section = current is not None and current.section_id == attempt.section_id
    item_id = attempt.item_id or (current.item_id if current is not None and same_section else None)
    if item_id is None:
        return  # nowhere to put the student: the checkpoint (if any) stands
    moved = protocol.Checkpoint(
        section_id=attempt.section_id,
        item_id=item_id,
        remaining_seconds=attempt.remaining_seconds,
        # Not the server's clock: the next machine's checkpoints replace this one only when newer by theirs.
        taken_at=current.taken_at if current is not None else attempt.started_at,
        plays=current.plays if current is not None else {},
    )
    log.info(
        "Attempt %s released: resumes in %s with %d s left (the last heartbeat's)",
        attempt.id,
        moved.section_id,
        moved.remaining_seconds,
    )
    attempt.checkpoint = moved.model_dump(mode="json")


def _held(attempt: Attempt) -> protocol.Checkpoint | None:
    """The stored checkpoint, or None when there is none or it cannot be read (login drops such a one)."""
    try:
        return protocol.Checkpoint.model_validate(attempt.checkpoint) if attempt.checkpoint else None
    except ValidationError:
        return None
