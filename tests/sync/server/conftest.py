"""The server suite runs on both engines: each test that uses the server's database runs once on SQLite and once on
a real PostgreSQL the run starts itself (tests/helpers/postgres.py). A test about the SQLite file itself (`db_path`)
or marked `sqlite_only` runs on SQLite alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Cli
from tests.helpers.clock import FakeClock
from tests.helpers.engines import ENGINES
from tests.helpers.postgres import Cluster


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" not in metafunc.fixturenames:
        return
    if "db_path" in metafunc.fixturenames or metafunc.definition.get_closest_marker("sqlite_only"):
        return
    metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture
def cli(request: pytest.FixtureRequest, engine: str, tmp_path: Path, clock: FakeClock) -> Iterator[Cli]:
    """Commands on an empty database of this test's own: an SQLite file not yet made, or a PostgreSQL database
    with no tables (made by the cluster, as an administrator would with `createdb`)."""
    if engine == "sqlite":
        db = tmp_path / "data" / "invigil.db"
        yield Cli(url=f"sqlite:///{db}", db_option=str(db), secret_file=Path(f"{db}.secret"), clock=clock)
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = cluster.new_database("cli")
    yield Cli(url=cluster.url(name), secret_file=tmp_path / "invigil.secret", clock=clock)
    cluster.drop_database(name)
