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
