"""Plays of a recording that a player gave back (cut short by a pause, a lost audio device, a crash), written
into the sitting's log so staff can see each one and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sync import protocol
from sync.server import audit
from sync.server.models import Attempt

PLAYER_ACTOR = "player"
"""The log's actor for what a student's player reported (staff entries name the staff member)."""
ACTION = "play_given_back"


def log_given_back_plays(
    session: Session,
    attempt: Attempt,
    checkpoint: protocol.Checkpoint,
    *,
    held: protocol.Checkpoint | None,
    now: datetime,
) -> int:
    """One log entry per play in `checkpoint` that the `held` checkpoint did not list yet; returns how many.

    Checkpoints list every given-back play of the attempt, so a lost or coalesced checkpoint loses no entry and
    a repeated one adds none."""
    seen = {(play.item_id, play.started_at) for play in held.plays_given_back} if held else set()
    allocation = attempt.allocation
    actor = audit.Actor(school_id=allocation.sitting.school_id, name=PLAYER_ACTOR, now=now)
    added = 0
    for play in checkpoint.plays_given_back:
        if (play.item_id, play.started_at) in seen:
            continue
        seen.add((play.item_id, play.started_at))
        audit.record(
            session,
            actor,
            ACTION,
            target=attempt.id,
            sitting_id=allocation.sitting_id,
            allocation_id=allocation.id,
            item_id=play.item_id,
            cause=play.reason,
            started_at=play.started_at.isoformat(),
        )
        added += 1
    return added
