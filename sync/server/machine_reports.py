"""What a player says of its machine beside its position: its version, its readiness check in one line, and how
often the student left the test window (each rise of which goes into the sitting's log once)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from sync import protocol
from sync.server import audit
from sync.server.audit import Actor
from sync.server.models import Attempt
from sync.server.play_log import PLAYER_ACTOR

log = logging.getLogger(__name__)


LEFT_WINDOW_ACTION = "left_the_test_window"
"""The sitting log's action for a rise in the times a student left the test window (the console says "Left the
test window"; the entry's detail holds the count so far)."""


def keep(session: Session, attempt: Attempt, beat: protocol.Heartbeat, *, now: datetime) -> bool:
    """Keep what the player says of its machine (version, readiness) and, when the times the student left the test
    window went up, the new count and one entry for it in the sitting's log; True when such an entry was written.

    The count only ever rises here: a repeated heartbeat, one overtaken by a newer one, or a player that lost count
    (restarted without it) writes nothing and lowers nothing. The rise is taken by one conditional UPDATE, so of two
    heartbeats racing with the same count exactly one writes the entry: on PostgreSQL the second waits for the
    first's row lock and then finds the count already there; on SQLite writers take turns."""
    if beat.app_version is not None:
        attempt.app_version = beat.app_version
    if beat.readiness is not None:
        attempt.readiness = beat.readiness
    count = beat.left_window_count
    if count <= 0:
        return False
    raised = session.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id, Attempt.left_window_count < count)
        .values(left_window_count=count)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[object], raised).rowcount != 1:
        return False
    set_committed_value(attempt, "left_window_count", count)
    allocation = attempt.allocation
    actor = Actor(school_id=allocation.sitting.school_id, name=PLAYER_ACTOR, now=now)
    audit.record(
        session,
        actor,
        LEFT_WINDOW_ACTION,
        target=attempt.id,
        sitting_id=allocation.sitting_id,
        allocation_id=allocation.id,
        count=count,
        machine=attempt.machine_name or attempt.machine_id,
    )
    log.info("Attempt %s: the student left the test window (%d times so far)", attempt.id, count)
    return True
