"""Schema of the local journal as ordered, named migrations, each applied once inside db.atomic()."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from player.offline_queue.left_window import create_left_window
from player.offline_queue.plays import create_play_log

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "_migrations"


@dataclass(frozen=True)
class Migration:
    name: str
    """Never renamed once released: the name is what marks it as applied on every machine."""
    apply: Callable[[sqlite_utils.Database], None]


def _initial_schema(db: sqlite_utils.Database) -> None:
    # CHECK constraints make a bug that writes a bad state fail loudly instead of corrupting a sitting.
    db.execute(
        """
        CREATE TABLE attempts (
            attempt_id TEXT PRIMARY KEY,
            server_url TEXT NOT NULL,
            login TEXT NOT NULL CHECK (json_valid(login)),
            attempt_token TEXT NOT NULL,
            result_secret TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'finished')),
            started_at TEXT NOT NULL,
            current_section_id TEXT,
            current_item_id TEXT,
            remaining_seconds INTEGER CHECK (remaining_seconds IS NULL OR remaining_seconds >= 0),
            checkpoint_at TEXT,
            finished_sections TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(finished_sections)),
            finished_at TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE answers (
            attempt_id TEXT NOT NULL REFERENCES attempts (attempt_id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            value TEXT NOT NULL CHECK (json_valid(value)),
            answered_at TEXT NOT NULL,
            seq INTEGER NOT NULL,
            PRIMARY KEY (attempt_id, item_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE plays (
            attempt_id TEXT NOT NULL REFERENCES attempts (attempt_id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            count INTEGER NOT NULL CHECK (count >= 0),
            PRIMARY KEY (attempt_id, item_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE flags (
            attempt_id TEXT NOT NULL REFERENCES attempts (attempt_id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            flagged_at TEXT NOT NULL,
            PRIMARY KEY (attempt_id, item_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE outbox (
            idempotency_key TEXT PRIMARY KEY,
            attempt_id TEXT NOT NULL REFERENCES attempts (attempt_id),
            kind TEXT NOT NULL CHECK (kind IN ('result', 'checkpoint')),
            body TEXT NOT NULL CHECK (json_valid(body)),
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sending', 'sent', 'needs_attention')),
            attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            next_try_at TEXT,
            last_error TEXT,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX outbox_due ON outbox (state, next_try_at)")
    db.execute("CREATE INDEX attempts_state ON attempts (state, started_at)")


def _supervision(db: sqlite_utils.Database) -> None:
    # A code released to another machine: the attempt stays here (its queued results must still be sent) but
    # is never resumed here. A column rather than a new `state` value: changing the CHECK on attempts.state
    # would mean rebuilding the table, and SQLite cannot switch foreign keys off inside this transaction, so
    # dropping the old table would cascade-delete every answer. Moved attempts are stored as state 'finished'
    # (nothing in them may change, and the outbox stops queueing their checkpoints) with moved_at set.
    db.execute("ALTER TABLE attempts ADD COLUMN moved_at TEXT")
    db.execute(
        """
        CREATE TABLE applied_instructions (
            attempt_id TEXT NOT NULL REFERENCES attempts (attempt_id) ON DELETE CASCADE,
            instruction_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('pause', 'resume', 'add_time', 'end_section')),
            applied_at TEXT NOT NULL,
            PRIMARY KEY (attempt_id, instruction_id)
        )
        """
    )


def _time_left_ms(db: sqlite_utils.Database) -> None:
    # The checkpoint's time left to the millisecond, so a restart gives back no more than the moments since the
    # last record (remaining_seconds stays: the server's checkpoints are in whole seconds, rounded up). NULL: a
    # checkpoint written before this migration or taken from the server; the whole seconds are used then.
    db.execute("ALTER TABLE attempts ADD COLUMN remaining_ms INTEGER CHECK (remaining_ms IS NULL OR remaining_ms >= 0)")


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial_schema", _initial_schema),
    Migration("0002_supervision", _supervision),
    Migration("0003_play_log", create_play_log),
    Migration("0004_time_left_ms", _time_left_ms),
    Migration("0005_left_window", create_left_window),
)
"""Append only; never edit or reorder a released migration."""


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    if MIGRATIONS_TABLE not in db.table_names():
        return []
    return [row["name"] for row in db.query("SELECT name FROM _migrations ORDER BY rowid")]


def apply_migrations(
    db: sqlite_utils.Database,
    migrations: Sequence[Migration] = MIGRATIONS,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[str]:
    """Apply each migration not yet applied, in order, each in its own transaction; return their names."""
    names = [migration.name for migration in migrations]
    if len(set(names)) != len(names):
        raise ValueError(f"migration names must be unique, got {names}")
    if MIGRATIONS_TABLE not in db.table_names():
        db.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    # Read first: opening an up-to-date journal then takes no write lock, so it never waits for a writer.
    already = set(applied_migrations(db))
    applied: list[str] = []
    for migration in (m for m in migrations if m.name not in already):
        with db.atomic():
            # Claiming the name first is a write, so it takes SQLite's write lock (waiting on busy_timeout):
            # two players opening the same file at once cannot both run a migration.
            claimed = db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [migration.name, now().isoformat()],
            ).rowcount
            if claimed:
                migration.apply(db)
                applied.append(migration.name)
    if applied:
        log.info("Applied journal migrations: %s", ", ".join(applied))
    return applied
