"""Alembic migrations on SQLite and PostgreSQL: from empty and from each earlier revision (keeping every row) to the
models' schema, and back down; a database is refused until it is set up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, create_engine, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from sync.server.models import (
    Allocation,
    Attempt,
    Base,
    Evidence,
    HandMark,
    Incident,
    IncidentStudent,
    Instruction,
    LoginFailure,
    ManualEntry,
    Result,
    Staff,
)
from sync.server.store import Store, StoreError, alembic_config
from tests.helpers.clock import START
from tests.helpers.server import Demo

REVISIONS = [
    script.revision for script in reversed(list(ScriptDirectory.from_config(alembic_config("")).walk_revisions()))
]
"""Every revision, oldest first, as Alembic finds them: a new migration is tested without editing this module."""
HEAD = REVISIONS[-1]
EARLIER = REVISIONS[:-1]

Schema = dict[str, dict[str, list[tuple[Any, ...]]]]
"""Per table: its columns, primary key, foreign keys, indexes and unique constraints, as the database reports them."""
Rows = dict[str, list[tuple[Any, ...]]]

WHEN = START.replace(tzinfo=None)
"""START as the tables hold it (UTC without a zone): for rows written with plain SQL, outside the models."""


# ---- databases and what they hold ---------------------------------------------------------------------------------


@contextmanager
def empty_database(engine: str, request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """A database nothing has touched: a new file on SQLite, a new database in the run's cluster on PostgreSQL."""
    if engine == "sqlite":
        yield f"sqlite:///{folder / 'empty.db'}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = cluster.new_database("empty")
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


@pytest.fixture
def empty_url(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_database(engine, request, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def _built_schemas() -> dict[str, dict[str, Schema]]:
    return {}


@pytest.fixture
def built_schema(
    engine: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    _built_schemas: dict[str, dict[str, Schema]],
) -> dict[str, Schema]:
    """The schema at each revision as an empty database upgraded one revision at a time has it (once per engine):
    what a downgrade to that revision must give back."""
    if engine not in _built_schemas:
        with empty_database(engine, request, tmp_path_factory.mktemp("steps")) as url:
            steps: dict[str, Schema] = {}
            for revision in REVISIONS:
                command.upgrade(alembic_config(url), revision)
                steps[revision] = schema_of(url)
        _built_schemas[engine] = steps
    return _built_schemas[engine]


def schema_of(url: str) -> Schema:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        # Sorted throughout: order is not something the server relies on, and a copied table may list it anew.
        return {
            table: {
                "columns": sorted(
                    (c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in inspector.get_columns(table)
                ),
                "primary key": [tuple(inspector.get_pk_constraint(table)["constrained_columns"])],
                "foreign keys": sorted(
                    (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
                    for fk in inspector.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (
                        (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                        for ix in inspector.get_indexes(table)
                    ),
                    key=repr,
                ),
                "unique": sorted(
                    ((uq["name"], tuple(uq["column_names"])) for uq in inspector.get_unique_constraints(table)),
                    key=repr,
                ),
            }
            for table in inspector.get_table_names()
            if table != "alembic_version"
        }
    finally:
        engine.dispose()


def columns_of(schema: Schema) -> dict[str, list[str]]:
    return {table: [column[0] for column in parts["columns"]] for table, parts in schema.items()}


def rows_of(url: str, columns: dict[str, list[str]]) -> Rows:
    """Every row of the given tables, the given columns only, in a fixed order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            metadata = MetaData()
            found: Rows = {}
            for name, names in columns.items():
                table = Table(name, metadata, autoload_with=conn)
                rows = conn.execute(select(*(table.c[n] for n in names))).all()
                found[name] = sorted((tuple(row) for row in rows), key=repr)
            return found
    finally:
        engine.dispose()


def differences(url: str) -> list[Any]:
    """What Alembic's autogenerate finds between the database and the models (an empty list when they agree)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            # Server defaults too: a column added to tables that hold rows gets its value from one, so it must be
            # the same on both engines (0002's Boolean default '0' reads back as `false` on PostgreSQL; Alembic
            # asks the server whether the two are equal).
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def insert_row(url: str, table: str, **values: Any) -> None:
    """A row written with the table as it is at the database's revision (reflected, not the models' newer one)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(Table(table, MetaData(), autoload_with=conn)).values(**values))
    finally:
        engine.dispose()


def first_allocation(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            allocations = Table("allocations", MetaData(), autoload_with=conn)
            found: str = conn.execute(select(allocations.c.id).order_by(allocations.c.id).limit(1)).scalar_one()
            return found
    finally:
        engine.dispose()


def attempt_values(allocation: str, **more: Any) -> dict[str, Any]:
    return {
        "id": "att-1",
        "allocation_id": allocation,
        "token_hash": "hash",
        "result_secret_sealed": b"\x00",
        "machine_id": "pc-1",
        "started_at": WHEN,
        "outbox_depth": 0,
        **more,
    }


def fill_every_table(store: Store, demo: Demo) -> None:
    """What a school's server holds mid-term beyond the demo's school, staff, students and sitting: a started attempt
    with its live state, a marked result marked again by hand, an instruction, an incident, a manual entry, a scan
    and a failed login. Every column is given a value, so a migration that loses one is seen."""
    later = START + timedelta(minutes=40)
    with store.transaction() as session:
        staff = session.scalars(select(Staff)).one()
        allocation = session.scalars(
            select(Allocation).where(Allocation.sitting_id == demo.sitting_id).order_by(Allocation.id)
        ).first()
        assert allocation is not None
        attempt = Attempt(
            allocation_id=allocation.id,
            token_hash="a" * 64,
            released_token_hash="b" * 64,
            result_secret_sealed=b"\x00sealed secret",
            machine_id="pc-7",
            started_at=START,
            finished_at=later,
            last_seen_at=later,
            checkpoint={"section": "mc", "answers": {"mc-1": "B"}},
            outbox_depth=2,
            paused=True,
            section_id="short",
            section_title="Short answers",
            item_index=3,
            item_count=8,
            remaining_seconds=300,
            item_id="short-describe",
            machine_name="Lab PC 7",
            answered_count=5,
            question_count=8,
            audio="heard",
            resumed_at=START + timedelta(minutes=20),
            reported_finished_at=later,
            app_version="0.13.0",
            readiness="Clock against the server: this machine is 75 seconds behind the server",
            left_window_count=3,
        )
        session.add(attempt)
        session.flush()
        result = Result(
            attempt_id=attempt.id,
            idempotency_key="4b9c1a8e-0000-4000-8000-000000000001",
            body_sha256="c" * 64,
            body={"answers": [{"item_id": "mc-1", "value": "B"}]},
            received_at=later,
            status="marked",
            error="none",
            marks={"mc-1": 1},
            marked_at=later,
        )
        session.add(result)
        session.flush()
        session.add_all(
            [
                HandMark(
                    result_id=result.id,
                    item_id="short-describe",
                    score_hundredths=350,
                    max_hundredths=400,
                    marker=staff.username,
                    staff_id=staff.id,
                    marked_at=later,
                ),
                Instruction(
                    attempt_id=attempt.id,
                    kind="add_time",
                    seconds=120,
                    section_id="short",
                    reason_kind="illness",
                    reason="Felt faint",
                    created_by=staff.username,
                    created_at=START,
                    delivered_at=later,
                ),
                Incident(
                    sitting_id=demo.sitting_id,
                    kind="fire_alarm",
                    occurred_at=START,
                    note="Drill at 09:10",
                    recorded_by=staff.username,
                    recorded_at=later,
                    students=[IncidentStudent(allocation_id=allocation.id)],
                ),
                ManualEntry(
                    allocation_id=allocation.id,
                    typed_dictation="7",
                    written_dictation="8",
                    comments="Neat work",
                    updated_by=staff.username,
                    updated_at=later,
                ),
                Evidence(
                    allocation_id=allocation.id,
                    filename="page-1.png",
                    mime_type="image/png",
                    size=8,
                    data=b"\x89PNG\r\n\x1a\n",
                    uploaded_by=staff.username,
                    uploaded_at=later,
                ),
                LoginFailure(scope="machine", key="pc-9", at=START),
            ]
        )


# ---- from empty ---------------------------------------------------------------------------------------------------


def test_an_empty_database_is_refused_with_what_to_run(empty_url: str) -> None:
    with pytest.raises(StoreError, match="Run `invigil-server init` first"):
        Store.open(empty_url, migrate=False)


def test_an_empty_database_upgrades_to_the_models_schema(empty_url: str, built_schema: dict[str, Schema]) -> None:
    Store.open(empty_url, migrate=True).close()
    assert differences(empty_url) == []
    assert current_revision(empty_url) == HEAD
    # All at once (as the server does) builds what one revision at a time does.
    assert schema_of(empty_url) == built_schema[HEAD]


def test_down_to_nothing_and_up_again(empty_url: str) -> None:
    """base -> head -> base -> head: every downgrade undoes its upgrade fully, so the upgrades can run again."""
    config = alembic_config(empty_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert schema_of(empty_url) == {}
    assert current_revision(empty_url) is None
    command.upgrade(config, "head")
    assert differences(empty_url) == []
    assert current_revision(empty_url) == HEAD


def test_migrating_twice_changes_nothing(database_url: str, store: Store, demo: Demo) -> None:
    fill_every_table(store, demo)
    schema = schema_of(database_url)
    rows = rows_of(database_url, columns_of(schema))
    Store.open(database_url, migrate=True).close()
    Store.open(database_url, migrate=False).close()  # still at head
    assert schema_of(database_url) == schema
    assert rows_of(database_url, columns_of(schema)) == rows


# ---- from each earlier revision -----------------------------------------------------------------------------------


@pytest.mark.parametrize("revision", EARLIER)
def test_a_database_in_use_at_an_earlier_revision_upgrades_keeping_every_row(
    revision: str, database_url: str, store: Store, demo: Demo, built_schema: dict[str, Schema]
) -> None:
    """A school's server at `revision`, holding rows in all its tables, is upgraded as `invigil-server init` does.

    It gets there by a downgrade from head, which must give back the schema that upgrading to `revision` built and
    keep every row and column that schema has.
    """
    fill_every_table(store, demo)
    kept = columns_of(built_schema[revision])
    before = rows_of(database_url, kept)
    empty = sorted(table for table, rows in before.items() if not rows)
    assert not empty, f"fill_every_table leaves {empty} empty: give each a row, or their migrations go untested"

    command.downgrade(alembic_config(database_url), revision)
    assert current_revision(database_url) == revision
    assert schema_of(database_url) == built_schema[revision]
    assert rows_of(database_url, kept) == before

    Store.open(database_url, migrate=True).close()
    assert current_revision(database_url) == HEAD
    assert differences(database_url) == []
    assert rows_of(database_url, kept) == before


def test_an_upgraded_server_still_refuses_rows_that_point_at_nothing(database_url: str) -> None:
    """SQLite's foreign keys are off while a migration copies tables (migrations/env.py); the server's connections
    have them on again, whichever of them a request gets."""
    command.downgrade(alembic_config(database_url), EARLIER[0])
    upgraded = Store.open(database_url, migrate=True)
    try:
        # Two at once: had the connection the upgrade ran on gone back to the pool, one of these would be it.
        with upgraded.engine.connect() as first, upgraded.engine.connect() as second:
            for conn in (first, second):
                with pytest.raises(IntegrityError), conn.begin():
                    conn.execute(
                        insert(Result).values(
                            id="orphan",
                            attempt_id="no-such-attempt",
                            idempotency_key="orphan-key",
                            body_sha256="d" * 64,
                            body={},
                            received_at=START,
                            status="received",
                        )
                    )
    finally:
        upgraded.close()


@pytest.mark.sqlite_only  # PostgreSQL never holds such a row: it checks every foreign key as the row is written
def test_an_upgrade_that_would_leave_a_row_pointing_at_nothing_is_refused_and_changes_nothing(
    database_url: str, demo: Demo
) -> None:
    """A row SQLite let in with foreign keys off stops the upgrade by name; the database stays as it was (no half
    of a migration kept), so once the row is mended the upgrade runs again."""
    url = database_url
    command.downgrade(alembic_config(url), EARLIER[0])
    schema = schema_of(url)
    orphan = {
        "id": "res-orphan",
        "attempt_id": "no-such-attempt",
        "idempotency_key": "key-orphan",
        "body_sha256": "sha",
        "body": {},
        "received_at": WHEN,
        "status": "received",
    }
    insert_row(url, "results", **orphan)  # a plain engine: foreign keys off, as SQLite has them by default
    with pytest.raises(RuntimeError, match=r"in table results \(rowid \d+\) pointing into attempts"):
        Store.open(url, migrate=True)
    assert current_revision(url) == EARLIER[0]
    assert schema_of(url) == schema
    insert_row(url, "attempts", **attempt_values(first_allocation(url), id="no-such-attempt"))
    Store.open(url, migrate=True).close()
    assert current_revision(url) == HEAD
    assert rows_of(url, {"results": ["id", "attempt_id"]}) == {"results": [("res-orphan", "no-such-attempt")]}


# ---- what each migration does to the rows it meets ----------------------------------------------------------------


def test_0002_upgrades_a_database_holding_attempts_and_downgrades_again(database_url: str, demo: Demo) -> None:
    """A server in use when the console arrived keeps its attempts; their live state starts empty and unpaused."""
    url = database_url
    command.downgrade(alembic_config(url), "0001")
    insert_row(url, "attempts", **attempt_values(first_allocation(url)))
    assert "paused" not in columns_of(schema_of(url))["attempts"]
    Store.open(url, migrate=True).close()
    assert rows_of(url, {"attempts": ["id", "paused", "section_id"]}) == {"attempts": [("att-1", False, None)]}


def test_0005_adds_hand_marks_to_a_database_holding_results_and_downgrades_again(database_url: str, demo: Demo) -> None:
    """A server in use when hand marking arrived keeps its results; they start with no hand marks."""
    url = database_url
    command.downgrade(alembic_config(url), "0004")
    assert "hand_marks" not in schema_of(url)
    insert_row(url, "attempts", **attempt_values(first_allocation(url), paused=False))
    insert_row(
        url,
        "results",
        id="res-1",
        attempt_id="att-1",
        idempotency_key="key-1",
        body_sha256="sha",
        body={},
        received_at=WHEN,
        status="marked",
    )
    Store.open(url, migrate=True).close()
    assert rows_of(url, {"hand_marks": ["result_id"]}) == {"hand_marks": []}
    insert_row(
        url,
        "hand_marks",
        result_id="res-1",
        item_id="short-describe",
        score_hundredths=350,
        max_hundredths=400,
        marker="demo-admin",
        marked_at=WHEN + timedelta(hours=1),
    )
    command.downgrade(alembic_config(url), "0004")
    assert "hand_marks" not in schema_of(url)
    assert rows_of(url, {"results": ["id", "status"]}) == {"results": [("res-1", "marked")]}


def test_0006_upgrades_attempts_in_progress_from_0005_and_downgrades_again(database_url: str, demo: Demo) -> None:
    """A server upgraded mid-sitting keeps its attempts; what players report of themselves starts empty."""
    url = database_url
    command.downgrade(alembic_config(url), "0005")
    assert "machine_name" not in columns_of(schema_of(url))["attempts"]
    insert_row(url, "attempts", **attempt_values(first_allocation(url), paused=False, remaining_seconds=300))
    Store.open(url, migrate=True).close()
    reported = ["machine_name", "answered_count", "audio", "resumed_at", "item_id", "remaining_seconds"]
    assert rows_of(url, {"attempts": reported}) == {"attempts": [(None, None, "not_checked", None, None, 300)]}
    command.downgrade(alembic_config(url), "0005")
    assert "audio" not in columns_of(schema_of(url))["attempts"]
    assert rows_of(url, {"attempts": ["id", "remaining_seconds"]}) == {"attempts": [("att-1", 300)]}


def test_0007_upgrades_attempts_in_progress_from_0006_and_downgrades_again(database_url: str, demo: Demo) -> None:
    """A server upgraded mid-sitting keeps its attempts; they have no version or readiness yet and have not been
    left; a downgrade drops those three and keeps the rest."""
    url = database_url
    command.downgrade(alembic_config(url), "0006")
    assert "left_window_count" not in columns_of(schema_of(url))["attempts"]
    insert_row(url, "attempts", **attempt_values(first_allocation(url), paused=False, machine_name="room12-pc03"))
    Store.open(url, migrate=True).close()
    reported = ["app_version", "readiness", "left_window_count", "machine_name"]
    assert rows_of(url, {"attempts": reported}) == {"attempts": [(None, None, 0, "room12-pc03")]}
    command.downgrade(alembic_config(url), "0006")
    assert not {"app_version", "readiness", "left_window_count"} & set(columns_of(schema_of(url))["attempts"])
    assert rows_of(url, {"attempts": ["id", "machine_name"]}) == {"attempts": [("att-1", "room12-pc03")]}
