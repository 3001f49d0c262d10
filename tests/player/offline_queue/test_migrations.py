"""Opening the journal: durability settings that really took, and migrations applied exactly once."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils

from player.offline_queue.db import WAL_AUTOCHECKPOINT_PAGES, DatabaseSetupError, open_database
from player.offline_queue.journal import Journal
from player.offline_queue.migrations import MIGRATIONS, Migration, applied_migrations, apply_migrations
from tests.helpers.player import make_login


def test_pragmas_are_read_back_on_every_connection(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    first = open_database(path)
    second = open_database(path)

    for db in (first, second):
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_AUTOCHECKPOINT_PAGES
        assert db.execute("PRAGMA journal_size_limit").fetchone()[0] == -1  # a checkpoint never truncates the WAL
    # A plain connection sees WAL too: the mode is stored in the file, not just set on our connection.
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_wal_is_checkpointed_early_and_then_overwritten_not_grown(tmp_path: Path) -> None:
    """A commit that grows the WAL file is slower than one that overwrites it: the WAL stays short and keeps its
    size once checkpointed, so after its first WAL_AUTOCHECKPOINT_PAGES commits the journal only overwrites."""
    path = tmp_path / "journal.sqlite3"
    db = open_database(path)
    wal = tmp_path / "journal.sqlite3-wal"
    frame_bytes = db.execute("PRAGMA page_size").fetchone()[0] + 24
    db.execute("CREATE TABLE one_row (value INTEGER)")
    db.execute("INSERT INTO one_row VALUES (0)")
    sizes = []
    for n in range(3 * WAL_AUTOCHECKPOINT_PAGES):
        with db.atomic():
            db.execute("UPDATE one_row SET value = ?", [n])  # one page: one frame per commit
        sizes.append(wal.stat().st_size)

    longest = max(sizes)
    assert longest <= 32 + (WAL_AUTOCHECKPOINT_PAGES + 2) * frame_bytes, f"the WAL grew to {longest} bytes"
    since_longest = sizes[sizes.index(longest) :]
    assert len(since_longest) > WAL_AUTOCHECKPOINT_PAGES, "the WAL should have been checkpointed and restarted"
    assert set(since_longest) == {longest}, "a checkpoint truncated the WAL, so later commits grow it again"
    assert db.execute("SELECT value FROM one_row").fetchone()[0] == 3 * WAL_AUTOCHECKPOINT_PAGES - 1
    db.close()


def test_a_new_journal_has_every_table(tmp_path: Path) -> None:
    """The migrated file holds exactly these tables, columns, keys and indexes: a migration that adds, drops or
    changes one must change this test too (and say why in its own migration, never by editing an old one)."""
    path = tmp_path / "journal.sqlite3"
    open_database(path).close()

    assert schema_of(path) == JOURNAL_SCHEMA


Column = tuple[str, str, bool, str | None, int]
"""name, declared type, NOT NULL, default (as SQL), place in the primary key (0: not in it)."""
ForeignKey = tuple[str, str, str, str]
"""column, table it refers to, column there, ON DELETE."""
Index = tuple[str, tuple[str, ...], bool]
"""table, columns in order, unique."""

JOURNAL_SCHEMA: dict[str, object] = {
    "tables": {
        "_migrations": [("name", "TEXT", False, None, 1), ("applied_at", "TEXT", True, None, 0)],
        "attempts": [
            ("attempt_id", "TEXT", False, None, 1),
            ("server_url", "TEXT", True, None, 0),
            ("login", "TEXT", True, None, 0),
            ("attempt_token", "TEXT", True, None, 0),
            ("result_secret", "TEXT", True, None, 0),
            ("state", "TEXT", True, "'open'", 0),
            ("started_at", "TEXT", True, None, 0),
            ("current_section_id", "TEXT", False, None, 0),
            ("current_item_id", "TEXT", False, None, 0),
            ("remaining_seconds", "INTEGER", False, None, 0),
            ("checkpoint_at", "TEXT", False, None, 0),
            ("finished_sections", "TEXT", True, "'[]'", 0),
            ("finished_at", "TEXT", False, None, 0),
            ("moved_at", "TEXT", False, None, 0),
            ("remaining_ms", "INTEGER", False, None, 0),
        ],
        "answers": [
            ("attempt_id", "TEXT", True, None, 1),
            ("item_id", "TEXT", True, None, 2),
            ("value", "TEXT", True, None, 0),
            ("answered_at", "TEXT", True, None, 0),
            ("seq", "INTEGER", True, None, 0),
        ],
        "plays": [
            ("attempt_id", "TEXT", True, None, 1),
            ("item_id", "TEXT", True, None, 2),
            ("count", "INTEGER", True, None, 0),
        ],
        "flags": [
            ("attempt_id", "TEXT", True, None, 1),
            ("item_id", "TEXT", True, None, 2),
            ("flagged_at", "TEXT", True, None, 0),
        ],
        "outbox": [
            ("idempotency_key", "TEXT", False, None, 1),
            ("attempt_id", "TEXT", True, None, 0),
            ("kind", "TEXT", True, None, 0),
            ("body", "TEXT", True, None, 0),
            ("state", "TEXT", True, "'pending'", 0),
            ("attempts", "INTEGER", True, "0", 0),
            ("next_try_at", "TEXT", False, None, 0),
            ("last_error", "TEXT", False, None, 0),
            ("created_at", "TEXT", True, None, 0),
        ],
        "applied_instructions": [
            ("attempt_id", "TEXT", True, None, 1),
            ("instruction_id", "TEXT", True, None, 2),
            ("kind", "TEXT", True, None, 0),
            ("applied_at", "TEXT", True, None, 0),
        ],
        "play_log": [
            ("play_id", "INTEGER", False, None, 1),
            ("attempt_id", "TEXT", True, None, 0),
            ("item_id", "TEXT", True, None, 0),
            ("started_at", "TEXT", True, None, 0),
            ("ended_at", "TEXT", False, None, 0),
            ("outcome", "TEXT", False, None, 0),
        ],
        "left_window": [
            ("attempt_id", "TEXT", True, None, 0),
            ("left_at", "TEXT", True, None, 0),
            ("went_to", "TEXT", True, None, 0),
        ],
    },
    "foreign_keys": {
        "answers": [("attempt_id", "attempts", "attempt_id", "CASCADE")],
        "plays": [("attempt_id", "attempts", "attempt_id", "CASCADE")],
        "flags": [("attempt_id", "attempts", "attempt_id", "CASCADE")],
        # No CASCADE here: an attempt with queued results cannot be deleted from under them.
        "outbox": [("attempt_id", "attempts", "attempt_id", "NO ACTION")],
        "applied_instructions": [("attempt_id", "attempts", "attempt_id", "CASCADE")],
        "play_log": [("attempt_id", "attempts", "attempt_id", "CASCADE")],
        "left_window": [("attempt_id", "attempts", "attempt_id", "CASCADE")],
    },
    "indexes": {
        "outbox_due": ("outbox", ("state", "next_try_at"), False),
        "attempts_state": ("attempts", ("state", "started_at"), False),
        "play_log_attempt": ("play_log", ("attempt_id", "outcome"), False),
        "left_window_attempt": ("left_window", ("attempt_id",), False),
    },
}


def schema_of(path: Path) -> dict[str, object]:
    """The tables, columns, foreign keys and named indexes of the file at `path`, read by a plain connection."""
    with closing(sqlite3.connect(path)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns: dict[str, list[Column]] = {
            table: [
                (name, kind, bool(notnull), default, pk)
                for _, name, kind, notnull, default, pk in db.execute("SELECT * FROM pragma_table_info(?)", [table])
            ]
            for table in tables
        }
        foreign_keys: dict[str, list[ForeignKey]] = {
            table: keys
            for table in tables
            if (
                keys := [
                    (row[3], row[2], row[4], row[6])
                    for row in db.execute("SELECT * FROM pragma_foreign_key_list(?)", [table])
                ]
            )
        }
        indexes: dict[str, Index] = {}
        for table in tables:
            for _, name, unique, origin, _ in db.execute("SELECT * FROM pragma_index_list(?)", [table]):
                if origin == "c":  # made by CREATE INDEX; a primary key's own index is compared as its columns
                    cols = tuple(row[2] for row in db.execute("SELECT * FROM pragma_index_info(?)", [name]))
                    indexes[name] = (table, cols, bool(unique))
        others = db.execute("SELECT type, name FROM sqlite_master WHERE type NOT IN ('table', 'index')").fetchall()
    assert others == [], f"the journal has views or triggers no test describes: {others}"
    return {"tables": columns, "foreign_keys": foreign_keys, "indexes": indexes}


def test_opening_twice_applies_each_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    open_database(path).close()
    db = open_database(path)

    assert applied_migrations(db) == [m.name for m in MIGRATIONS]
    assert apply_migrations(db) == []
    assert db.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)


def test_players_opening_a_new_journal_at_once_both_succeed(tmp_path: Path) -> None:
    # The race is rare (SQLite refuses the switch to WAL at once, without waiting, in ~1 of 75 three-way races
    # here), so it is run 60 times: with the retry gone this fails in most runs.
    for run in range(60):
        path = tmp_path / f"journal-{run}.sqlite3"
        start = threading.Barrier(3)
        errors: list[BaseException] = []

        def open_it(path: Path = path, start: threading.Barrier = start, errors: list[BaseException] = errors) -> None:
            start.wait()
            try:
                open_database(path).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == [], f"race {run}"
        assert applied_migrations(open_database(path)) == [m.name for m in MIGRATIONS]


def test_a_failing_migration_leaves_no_trace_and_runs_again_later(tmp_path: Path) -> None:
    db = open_database(tmp_path / "journal.sqlite3")

    def half_done(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE notes (text TEXT)")
        raise RuntimeError("disk full halfway")

    broken = (*MIGRATIONS, Migration("0002_notes", half_done))
    with pytest.raises(RuntimeError, match="disk full halfway"):
        apply_migrations(db, broken)

    assert "notes" not in db.table_names()
    assert "0002_notes" not in applied_migrations(db)

    def whole(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE notes (text TEXT)")

    fixed = (*MIGRATIONS, Migration("0002_notes", whole))
    assert apply_migrations(db, fixed) == ["0002_notes"]
    assert "notes" in db.table_names()


def test_a_journal_from_before_the_play_log_keeps_its_plays_and_never_autoplays_them_again(
    tmp_path: Path, demo_delivery: object
) -> None:
    """A machine updated mid-sitting: plays counted at their start by the old version stay counted, and an item
    already played does not play by itself on the next visit."""
    path = tmp_path / "journal.sqlite3"
    old = sqlite_utils.Database(path)
    apply_migrations(old, MIGRATIONS[:2])
    Journal(old).start_attempt(make_login(demo_delivery), server_url="http://server")
    old.execute("INSERT INTO plays (attempt_id, item_id, count) VALUES ('attempt-1', 'dict-cat', 1)")
    old.conn.commit()
    old.close()

    db = open_database(path)
    assert applied_migrations(db)[2:] == [m.name for m in MIGRATIONS[2:]]
    assert applied_migrations(db)[2] == "0003_play_log"
    journal = Journal(db)
    assert journal.plays("attempt-1") == {"dict-cat": 1}
    plays = journal.play_record()
    assert plays.started_items("attempt-1") == {"dict-cat"}
    plays.settle(plays.begin("attempt-1", "dict-cat"), "heard")
    assert journal.plays("attempt-1") == {"dict-cat": 2}
    assert schema_of(path) == JOURNAL_SCHEMA


def test_duplicate_migration_names_are_refused(tmp_path: Path) -> None:
    db = open_database(tmp_path / "journal.sqlite3")

    with pytest.raises(ValueError, match="unique"):
        apply_migrations(db, (*MIGRATIONS, MIGRATIONS[0]))


def test_the_schema_refuses_impossible_states(tmp_path: Path) -> None:
    db = open_database(tmp_path / "journal.sqlite3")

    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute(
            "INSERT INTO attempts (attempt_id, server_url, login, attempt_token, result_secret, state, "
            "started_at) VALUES ('a', 'http://x', '{}', 't', 's', 'paused', '2030-01-01')"
        )
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        db.execute(
            "INSERT INTO answers (attempt_id, item_id, value, answered_at, seq) "
            "VALUES ('nobody', 'q1', '\"a\"', '2030-01-01', 1)"
        )


def test_a_journal_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be", encoding="utf-8")

    with pytest.raises(DatabaseSetupError, match=r"data/journal\.sqlite3: cannot open the journal"):
        open_database(blocker / "journal.sqlite3")
