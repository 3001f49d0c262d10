"""Plays of items' audio in the journal: each play is written down as it starts and settled when it ends, so a
play cut short by a crash or power cut is found, and given back, at the next start.

The rule (docs/architecture.md, "Plays of a recording"): a play is used once it reaches the end of the recording,
or once the student leaves it for another question or the review (their choice), or when the section ends under
it. A play stopped by something the student did not choose (the invigilator's pause, a lost audio device, the
player crashing or the power going) is given back. The `plays` table holds the used plays only; `play_log` holds
every play with how it ended, and the given-back ones travel to the server in the checkpoint for the sitting log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)

PlayEnd = Literal["heard", "left", "section_ended", "paused", "audio_device", "audio_damaged", "player_stopped"]
"""How a play ended. The first three use the play; the others give it back."""
GivenBackReason = Literal["paused", "audio_device", "audio_damaged", "player_stopped"]
GIVEN_BACK: frozenset[str] = frozenset(get_args(GivenBackReason))
USED: frozenset[str] = frozenset(get_args(PlayEnd)) - GIVEN_BACK


def create_play_log(db: sqlite_utils.Database) -> None:
    """The schema (migration 0003_play_log): one row per play; `outcome` stays NULL while it is playing."""
    ends = ", ".join(f"'{end}'" for end in get_args(PlayEnd))
    db.execute(
        f"""
        CREATE TABLE play_log (
            play_id INTEGER PRIMARY KEY,
            attempt_id TEXT NOT NULL REFERENCES attempts (attempt_id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            outcome TEXT CHECK (outcome IS NULL OR outcome IN ({ends}))
        )
        """
    )
    db.execute("CREATE INDEX play_log_attempt ON play_log (attempt_id, outcome)")


@dataclass(frozen=True)
class GivenBackPlay:
    """A play the student did not get to the end of through no choice of theirs, so did not count."""

    item_id: str
    started_at: datetime
    reason: GivenBackReason


class PlayRecord:
    """The plays of one journal, on its connection and inside its write transactions (Journal.play_record())."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        *,
        transaction: Callable[[], AbstractContextManager[None]],
        require_open: Callable[[str], object],
        now: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._transaction = transaction
        self._require_open = require_open
        self._now = now

    def begin(self, attempt_id: str, item_id: str) -> int:
        """Write down that a play of `item_id` starts, before any sound; returns its id for `settle`.

        Not yet counted: a crash from here until `settle` leaves the row open, and `give_back_unfinished` at the
        next start gives it back. Any play still open (only after a crash) is given back first."""
        with self._transaction():
            self._require_open(attempt_id)
            self._settle_open(attempt_id, "player_stopped")
            row = self._db.execute(
                "INSERT INTO play_log (attempt_id, item_id, started_at) VALUES (?, ?, ?) RETURNING play_id",
                [attempt_id, item_id, self._timestamp()],
            ).fetchone()
        return int(row[0])

    def settle(self, play_id: int, end: PlayEnd) -> None:
        """Record how the play ended; a used one is counted in the same transaction, so a kill counts it fully
        or not at all. A play already settled, or of an attempt that has finished here, stays as it was."""
        with self._transaction():
            row = self._db.execute(
                "UPDATE play_log SET outcome = ?, ended_at = ? WHERE play_id = ? AND outcome IS NULL AND attempt_id "
                "IN (SELECT attempt_id FROM attempts WHERE state = 'open' AND moved_at IS NULL) "
                "RETURNING attempt_id, item_id",
                [end, self._timestamp(), play_id],
            ).fetchone()
            if row is not None and end in USED:
                self._count(row[0], row[1])

    def give_back_unfinished(self, attempt_id: str) -> list[GivenBackPlay]:
        """At the start of a sitting here: a play still open was cut short by a crash or power cut; give it back."""
        with self._transaction():
            cut = self._settle_open(attempt_id, "player_stopped")
        for play in cut:
            log.warning("Play of item %s was cut short when the player stopped; it is given back", play.item_id)
        return cut

    def counted(self, attempt_id: str) -> dict[str, int]:
        """Used plays by item (what limits the plays left)."""
        rows = self._db.execute("SELECT item_id, count FROM plays WHERE attempt_id = ?", [attempt_id])
        return {item_id: int(count) for item_id, count in rows}

    def started_items(self, attempt_id: str) -> frozenset[str]:
        """Items whose recording has ever started in this attempt (here, or on a machine it moved from): their
        recording never plays by itself again."""
        rows = self._db.execute(
            "SELECT item_id FROM plays WHERE attempt_id = ? AND count > 0 "
            "UNION SELECT item_id FROM play_log WHERE attempt_id = ?",
            [attempt_id, attempt_id],
        )
        return frozenset(row[0] for row in rows)

    def given_back(self, attempt_id: str) -> list[GivenBackPlay]:
        """Every play given back in this attempt, oldest first (what the checkpoint tells the server)."""
        rows = self._db.execute(
            "SELECT item_id, started_at, outcome FROM play_log WHERE attempt_id = ? "
            "AND outcome IN (SELECT value FROM json_each(?)) ORDER BY play_id",
            [attempt_id, json.dumps(sorted(GIVEN_BACK))],
        )
        return [GivenBackPlay(item_id, datetime.fromisoformat(at), outcome) for item_id, at, outcome in rows]

    def _settle_open(self, attempt_id: str, reason: GivenBackReason) -> list[GivenBackPlay]:
        rows = self._db.execute(
            "UPDATE play_log SET outcome = ?, ended_at = ? WHERE attempt_id = ? AND outcome IS NULL "
            "RETURNING item_id, started_at",
            [reason, self._timestamp(), attempt_id],
        )
        return [GivenBackPlay(item_id, datetime.fromisoformat(at), reason) for item_id, at in rows]

    def _count(self, attempt_id: str, item_id: str) -> None:
        self._db.execute(
            "INSERT INTO plays (attempt_id, item_id, count) VALUES (?, ?, 1) "
            "ON CONFLICT (attempt_id, item_id) DO UPDATE SET count = count + 1",
            [attempt_id, item_id],
        )

    def _timestamp(self) -> str:
        return self._now().astimezone(UTC).isoformat()
