"""Opening the database: engine, sessions, and Alembic migrations run programmatically."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).with_name("migrations")


class StoreError(Exception):
    """The database cannot be used as it is, with what to do."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # No pool for SQLite: a request holds its session from a dependency running on one worker thread until its
        # body has run on another, so a bounded pool can deadlock under a surge (every thread waiting for a
        # connection held by a request waiting for a thread). SQLite connections are cheap to open.
        engine = create_engine(url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the writer; FULL makes a commit survive a power cut.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # Unbounded overflow for the same reason; limit a worker's concurrent requests at the server instead.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=-1)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (safe to run on every start)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def check_current(engine: Engine) -> None:
    """Refuse to serve a database whose schema is older or newer than this code."""
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current is None:
        raise StoreError(f"The database at {engine.url} is not set up. Run `invigil-server init` first.")
    if current != head:
        raise StoreError(
            f"The database schema is at revision {current}, this server needs {head}. "
            "Run `invigil-server init` to upgrade it (back the database up first)."
        )


class Store:
    """The engine plus a session factory; `transaction()` is the one way writes happen."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool) -> Store:
        engine = make_engine(url)
        try:
            if migrate:
                upgrade(engine)
            else:
                check_current(engine)
        except BaseException:
            engine.dispose()  # a refused database leaves no open connection behind
            raise
        return cls(engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
