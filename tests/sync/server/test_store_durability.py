"""The store's durability settings: WAL on the file, synchronous=FULL for every commit except heartbeat-only ones."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from sync.server.store import SQLITE_POOL_SIZE, Store


def synchronous(store: Store) -> int:
    with store.transaction() as session:
        return int(session.execute(text("PRAGMA synchronous")).scalar_one())


def test_a_relaxed_heartbeat_commit_never_leaves_a_connection_relaxed(migrated_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "server.db"
    path.write_bytes(migrated_template.read_bytes())
    store = Store.open(f"sqlite:///{path}", migrate=False)
    try:
        with store.transaction(durable=False, queued=True) as session:
            assert session.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL, for this block only
            session.execute(text("CREATE TABLE beat (n INTEGER)"))
            session.execute(text("INSERT INTO beat VALUES (1)"))
        # Every pooled connection (the relaxed one among them) is back at FULL (2) for the next request.
        assert [synchronous(store) for _ in range(SQLITE_POOL_SIZE + 1)] == [2] * (SQLITE_POOL_SIZE + 1)
        with store.transaction() as session:
            assert session.execute(text("SELECT n FROM beat")).scalar_one() == 1, "the relaxed commit is kept"
            assert session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        store.close()
