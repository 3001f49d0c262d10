"""Opens the local journal database with the durability settings that the no-loss promise rests on."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from player.offline_queue.migrations import apply_migrations

log = logging.getLogger(__name__)

JOURNAL_FILE_NAME = "journal.sqlite3"
DEFAULT_BUSY_TIMEOUT_MS = 5000
WAL_AUTOCHECKPOINT_PAGES = 100
"""Checkpoint once the WAL holds this many pages (SQLite's default is 1000).

The WAL starts empty at every start of the player (closing the last connection checkpoints and deletes it) and a
commit that appends to it must also make the file's new size durable, which here took ~1.6x as long as one that
overwrites frames of a WAL already that long. With 1000 pages a sitting of ~1,000 commits an hour (a save per
answer, a checkpoint per item change and every 5 s) spends its whole hour appending; with 100 it overwrites after
the first 100 commits. A checkpoint moves only a few pages here, so doing one every 100 commits costs little."""


def journal_pragmas(*, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> dict[str, int | str]:
    """Every journal connection's settings, as SQLite reads them back; set in this order (busy_timeout first)."""
    return {
        "busy_timeout": int(busy_timeout_ms),
        "journal_mode": "wal",
        "synchronous": 2,  # FULL: every commit is fsynced before it returns
        "foreign_keys": 1,
        "wal_autocheckpoint": WAL_AUTOCHECKPOINT_PAGES,
        # -1: a checkpoint never truncates the WAL, so the next commits overwrite its frames instead of growing it.
        "journal_size_limit": -1,
    }


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


def _setup_error(path: Path, exc: sqlite3.Error) -> DatabaseSetupError:
    return DatabaseSetupError(f"{path}: cannot set up the journal ({exc}); is the data folder on a local disk?")


def _set_pragmas(db: sqlite_utils.Database, *, path: Path, busy_timeout_ms: int) -> None:
    # Asked for and then read back: a file system that cannot do WAL (some network shares) silently
    # keeps the old journal mode, and an answer shown as "Saved" must really be on disk.
    wanted = journal_pragmas(busy_timeout_ms=busy_timeout_ms)
    # Switching a new file to WAL takes an exclusive lock, and SQLite answers "database is locked" at once, without
    # its busy handler, when another connection (a second player process, the uploader's connection) is switching
    # the same new file at that moment: measured 4 in 300 three-way races. So that one step is tried again until
    # the busy timeout has passed, as any other lock would be waited for.
    deadline = time.monotonic() + busy_timeout_ms / 1000
    for name, value in wanted.items():
        while True:
            try:
                db.execute(f"PRAGMA {name} = {value}")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise _setup_error(path, exc) from exc
                time.sleep(0.005)
            except sqlite3.Error as exc:
                raise _setup_error(path, exc) from exc
    actual = {name: db.execute(f"PRAGMA {name}").fetchone()[0] for name in wanted}
    wrong = {name: actual[name] for name in wanted if actual[name] != wanted[name]}
    if wrong:
        raise DatabaseSetupError(
            f"{path}: SQLite refused the journal's safety settings (wanted {wanted}, got {actual}); "
            "put the data folder on a local disk (set data_dir in the config)"
        )
    log.debug("Journal %s opened with %s", path, actual)
