"""Times a student left the test window during a sitting (focus lost, another window or program raised), kept in
the journal so the count survives a crash or kill and the invigilator sees it after a restart too.

The Qt side that notices a departure is player/ui/kiosk.py; this module only stores and counts (no Qt)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    import sqlite_utils

    from player.offline_queue.journal import Journal

Departure = Literal["other_program", "other_window"]
"""Where the focus went: to no window of the player (another program, the desktop, a screen lock), or to a window
of the player that is not the test window nor one of its dialogs."""

MAX_COUNT = 100_000
"""What a heartbeat may carry (sync.protocol.Heartbeat.left_window_count's bound); more are kept, not sent."""


def create_left_window(db: sqlite_utils.Database) -> None:
    """The schema (journal migration 0005_left_window): one row per departure, when and where to."""
    kinds = ", ".join(f"'{kind}'" for kind in get_args(Departure))
    db.execute(
        f"""
        CREATE TABLE left_window (
            attempt_id TEXT NOT NULL REFERENCES attempts (attempt_id) ON DELETE CASCADE,
            left_at TEXT NOT NULL,
            went_to TEXT NOT NULL CHECK (went_to IN ({kinds}))
        )
        """
    )
    db.execute("CREATE INDEX left_window_attempt ON left_window (attempt_id)")


@dataclass(frozen=True)
class LeftWindow:
    left_at: datetime
    went_to: Departure


class LeftWindowLog:
    """The departures of one journal, on its connection (the GUI thread's) and inside its write transactions."""

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

    def record(self, attempt_id: str, went_to: Departure) -> int:
        """Write down one departure (committed, fsynced, before it returns); the attempt's count after it.
        Raises JournalError for an attempt that is not open here (finished, moved, unknown)."""
        with self._transaction():
            self._require_open(attempt_id)
            self._db.execute(
                "INSERT INTO left_window (attempt_id, left_at, went_to) VALUES (?, ?, ?)",
                [attempt_id, self._now().astimezone(UTC).isoformat(), went_to],
            )
        return self.count(attempt_id)

    def count(self, attempt_id: str) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM left_window WHERE attempt_id = ?", [attempt_id]).fetchone()
        return int(row[0])

    def departures(self, attempt_id: str) -> list[LeftWindow]:
        """Every departure of the attempt, oldest first."""
        rows = self._db.execute(
            "SELECT left_at, went_to FROM left_window WHERE attempt_id = ? ORDER BY rowid", [attempt_id]
        )
        return [LeftWindow(datetime.fromisoformat(at), went_to) for at, went_to in rows]


def left_window_of(journal: Journal) -> LeftWindowLog:
    """The departures kept in `journal`, on its connection, inside its write transactions and with its check that
    the attempt is open here. Built here rather than by a Journal method, as Journal.play_record() is, because
    journal.py may only shrink (tests/test_house_rules.py); this module is the journal's, so it uses its parts."""
    return LeftWindowLog(
        journal._db,
        transaction=journal._write_transaction,
        require_open=journal._require_open,
        now=journal._now,
    )
