"""Opens the local journal database with the durability settings that the no-loss promise rests on."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import sqlite_utils

from player.offline_queue.migrations import apply_migrations

log = logging.getLogger(__name__)

JOURNAL_FILE_NAME = "journal.sqlite3"
DEFAULT_BUSY_TIMEOUT_MS = 5000


class DatabaseSetupError(Exception):
    """The journal cannot be opened safely; the message names the file and what to do."""


def journal_path(data_dir: Path) -> Path:
    return data_dir / JOURNAL_FILE_NAME


def open_database(path: Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> sqlite_utils.Database:
    """Open (creating if needed) the journal at path: WAL, synchronous=FULL, foreign keys, migrated."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path, execute_plugins=False)
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseSetupError(f"{path}: cannot open the journal ({exc}); check the data folder") from exc
    try:
        _set_pragmas(db, path=path, busy_timeout_ms=busy_timeout_ms)
        apply_migrations(db)
    except BaseException:
        db.close()
        raise
    return db


def _set_pragmas(db: sqlite_utils.Database, *, path: Path, busy_timeout_ms: int) -> None:
    # Asked for and then read back: a file system that cannot do WAL (some network shares) silently
    # keeps the old journal mode, and an answer shown as "Saved" must really be on disk.
    try:
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        db.enable_wal()
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise DatabaseSetupError(
            f"{path}: cannot set up the journal ({exc}); is the data folder on a local disk?"
        ) from exc
    wanted = {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": int(busy_timeout_ms),
    }
    actual = {name: db.execute(f"PRAGMA {name}").fetchone()[0] for name in wanted}
    wrong = {name: actual[name] for name in wanted if actual[name] != wanted[name]}
    if wrong:
        raise DatabaseSetupError(
            f"{path}: SQLite refused the journal's safety settings (wanted {wanted}, got {actual}); "
            "put the data folder on a local disk (set data_dir in the config)"
        )
    log.debug("Journal %s opened with %s", path, actual)
