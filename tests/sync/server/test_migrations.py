"""The Alembic migration and the models agree, and a database is refused until it is set up."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from sync.server.models import Base
from sync.server.store import Store, StoreError


def test_a_freshly_migrated_database_matches_the_models(migrated_template: Path) -> None:
    engine = create_engine(f"sqlite:///{migrated_template}")
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert differences == []


def test_migrating_twice_changes_nothing(db_path: Path) -> None:
    Store.open(f"sqlite:///{db_path}", migrate=True).close()
    store = Store.open(f"sqlite:///{db_path}", migrate=False)  # still at head
    store.close()


def test_an_empty_database_is_refused_with_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="Run `invigil-server init` first"):
        Store.open(f"sqlite:///{tmp_path / 'empty.db'}", migrate=False)


def test_0002_upgrades_a_database_holding_attempts_and_downgrades_again(db_path: Path, demo: object) -> None:
    """A server in use when the console arrived keeps its attempts; their live state starts empty and unpaused."""
    from alembic import command
    from sqlalchemy import text

    from sync.server.store import alembic_config

    url = f"sqlite:///{db_path}"
    engine = create_engine(url)
    with engine.begin() as conn:
        allocation = conn.execute(text("SELECT id FROM allocations LIMIT 1")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO attempts (id, allocation_id, token_hash, result_secret_sealed, machine_id, started_at, "
                "outbox_depth) VALUES ('att-1', :a, 'hash', x'00', 'pc-1', '2027-03-01 09:00:00', 0)"
            ),
            {"a": allocation},
        )
    command.downgrade(alembic_config(url), "0001")
    with engine.begin() as conn:
        assert "paused" not in {row[1] for row in conn.execute(text("PRAGMA table_info(attempts)"))}
    Store.open(url, migrate=True).close()
    with engine.begin() as conn:
        paused, section = conn.execute(text("SELECT paused, section_id FROM attempts WHERE id = 'att-1'")).one()
    engine.dispose()
    assert (paused, section) == (0, None)


def test_0005_adds_hand_marks_to_a_database_holding_results_and_downgrades_again(db_path: Path, demo: object) -> None:
    """A server in use when hand marking arrived keeps its results; they start with no hand marks."""
    from alembic import command
    from sqlalchemy import text

    from sync.server.store import alembic_config

    url = f"sqlite:///{db_path}"
    command.downgrade(alembic_config(url), "0004")
    engine = create_engine(url)
    with engine.begin() as conn:
        assert "hand_marks" not in {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master"))}
        allocation = conn.execute(text("SELECT id FROM allocations LIMIT 1")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO attempts (id, allocation_id, token_hash, result_secret_sealed, machine_id, started_at, "
                "outbox_depth, paused) VALUES ('att-1', :a, 'hash', x'00', 'pc-1', '2027-03-01 09:00:00', 0, 0)"
            ),
            {"a": allocation},
        )
        conn.execute(
            text(
                "INSERT INTO results (id, attempt_id, idempotency_key, body_sha256, body, received_at, status) "
                "VALUES ('res-1', 'att-1', 'key-1', 'sha', '{}', '2027-03-01 09:30:00', 'marked')"
            )
        )
    Store.open(url, migrate=True).close()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO hand_marks (result_id, item_id, score_hundredths, max_hundredths, marker, marked_at) "
                "VALUES ('res-1', 'short-describe', 350, 400, 'demo-admin', '2027-03-01 10:00:00')"
            )
        )
        assert conn.execute(text("SELECT count(*) FROM results")).scalar_one() == 1
    command.downgrade(alembic_config(url), "0004")
    with engine.begin() as conn:
        assert "hand_marks" not in {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master"))}
        assert conn.execute(text("SELECT status FROM results WHERE id = 'res-1'")).scalar_one() == "marked"
    engine.dispose()


def test_0006_upgrades_attempts_in_progress_from_0005_and_downgrades_again(db_path: Path, demo: object) -> None:
    """A server upgraded mid-sitting keeps its attempts; what players report of themselves starts empty."""
    from alembic import command
    from sqlalchemy import text

    from sync.server.store import alembic_config

    url = f"sqlite:///{db_path}"
    command.downgrade(alembic_config(url), "0005")
    engine = create_engine(url)
    with engine.begin() as conn:
        assert "machine_name" not in {row[1] for row in conn.execute(text("PRAGMA table_info(attempts)"))}
        allocation = conn.execute(text("SELECT id FROM allocations LIMIT 1")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO attempts (id, allocation_id, token_hash, result_secret_sealed, machine_id, started_at, "
                "outbox_depth, paused, remaining_seconds) "
                "VALUES ('att-1', :a, 'hash', x'00', 'pc-1', '2027-03-01 09:00:00', 0, 0, 300)"
            ),
            {"a": allocation},
        )
    Store.open(url, migrate=True).close()
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT machine_name, answered_count, audio, resumed_at, item_id, remaining_seconds FROM attempts")
        ).one()
    assert tuple(row) == (None, None, "not_checked", None, None, 300)
    command.downgrade(alembic_config(url), "0005")
    with engine.begin() as conn:
        kept = conn.execute(text("SELECT id, remaining_seconds FROM attempts")).one()
        assert "audio" not in {r[1] for r in conn.execute(text("PRAGMA table_info(attempts)"))}
    engine.dispose()
    assert tuple(kept) == ("att-1", 300)
