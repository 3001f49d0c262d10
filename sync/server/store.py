"""Opening the database: engine, sessions, and Alembic migrations run programmatically."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreError(Exception):
    """The database cannot be used as it is, with what to do."""


class JSONText(str):
    """JSON text already written: a JSON column stores it as it is instead of serialising it again.

    For bulk inserts (a result batch writes each body and its marks with pydantic's serialiser, several times
    faster than `json.dumps`); read back, the column gives the same data either way.
    """


def serialize_json(value: object) -> str:
    """The JSON columns' serialiser: `json.dumps`, except for text that already is JSON."""
    return value if isinstance(value, JSONText) else json.dumps(value)


SQLITE_POOL_SIZE = 16
"""Connections kept open between requests (more may be opened under a surge; those are closed on return)."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Connections are kept open: opening one per request (NullPool) cost its pragmas, and closing the last
        # one made SQLite checkpoint and truncate the WAL on every request (the surge profile's biggest items
        # after the commit itself). The overflow is unbounded, so a request never waits for a connection: a
        # bounded pool deadlocked under a surge (every worker thread waiting for a connection held by a request
        # that was waiting for a thread).
        engine = create_engine(
            url,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=-1,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=serialize_json,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # FULL makes a commit survive a power cut. WAL (readers beside the writer) is a property of the file,
            # set once by `Store.open`.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "checkin")
        def _restore_durability(dbapi_conn: Any, record: Any) -> None:
            # A connection lent to a `transaction(durable=False)` goes back to FULL before anyone else uses it.
            if record is not None and record.info.pop(_RELAXED, False):
                dbapi_conn.execute("PRAGMA synchronous=FULL")

        return engine
    # Unbounded overflow for the same reason; limit a worker's concurrent requests at the server instead.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=-1, json_serializer=serialize_json)


_RELAXED = "invigil_relaxed_sync"


def enable_wal(engine: Engine) -> None:
    """Put an SQLite file in WAL mode (persistent: once per file is enough; a no-op when it already is)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode=WAL").scalar()
    if str(mode).lower() != "wal" and engine.url.database not in (None, "", ":memory:"):
        raise StoreError(
            f"The database at {engine.url} cannot use SQLite's WAL mode (got {mode}); put it on a local disk."
        )


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
        self._writer = threading.Lock()

    @classmethod
    def open(cls, url: str, *, migrate: bool) -> Store:
        engine = make_engine(url)
        try:
            enable_wal(engine)
            if migrate:
                upgrade(engine)
            else:
                check_current(engine)
        except BaseException:
            engine.dispose()  # a refused database leaves no open connection behind
            raise
        return cls(engine)

    @contextmanager
    def transaction(self, *, durable: bool = True, queued: bool = False) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back if it raises.

        `queued=True` (SQLite only) waits its turn on an in-process lock for the whole block. SQLite lets one
        writer in at a time and makes the others poll with growing sleeps; under a surge of 40 threads a poller
        kept losing the race and some requests waited over 5 s. Only for a block that runs start to end on one
        thread (a route body, never the `Tx` dependency, whose ends run on different threads).

        `durable=False` (SQLite only) commits without waiting for the disk (synchronous=NORMAL): after a power
        cut the last such commits may be gone, never half there, and never a FULL commit made after them. Only
        for writes that the next request repeats anyway (heartbeats); see docs/performance.md.
        """
        if queued and self.engine.dialect.name == "sqlite":
            with self._writer, self._transaction(durable=durable) as session:
                yield session
        else:
            with self._transaction(durable=durable) as session:
                yield session

    @contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            if not durable and self.engine.dialect.name == "sqlite":
                conn = session.connection()
                # Before the first write, so outside SQLite's own transaction (where the pragma is refused).
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.connection.info[_RELAXED] = True
            yield session

    def close(self) -> None:
        self.engine.dispose()


def retry_on_race(work: Callable[[], T], *, tries: int = 2, what: str = "A write") -> T:
    """`work()`, run again when another request stored the same unique key between its look-up and its commit
    (or, on PostgreSQL, when the database rolled it back to end a deadlock with a concurrent transaction).

    `work` opens and commits its own transaction, so a lost race keeps nothing of that try; the next try finds
    the key held and answers as for a repeat (or a conflict). The last try's IntegrityError is raised.
    """
    for _ in range(tries - 1):
        try:
            return work()
        except IntegrityError:
            log.info("%s raced another request storing the same key; trying again", what)
        except DBAPIError as exc:
            if not lost_to_a_concurrent_transaction(exc):
                raise
            log.info("%s was chosen to give way to a concurrent transaction (%s); trying again", what, exc.orig)
    return work()


RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
"""PostgreSQL's serialization_failure and deadlock_detected: the transaction was rolled back so that another could
finish, and the same work tried again succeeds (or answers as a repeat)."""


def lost_to_a_concurrent_transaction(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
