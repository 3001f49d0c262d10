"""The server suite runs on both engines: each test that uses the server's database runs once on SQLite and once on
a real PostgreSQL the run starts itself (tests/helpers/postgres.py). A test about the SQLite file itself (`db_path`)
or marked `sqlite_only` runs on SQLite alone."""

from __future__ import annotations

import pytest

from tests.helpers.engines import ENGINES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" not in metafunc.fixturenames:
        return
    if "db_path" in metafunc.fixturenames or metafunc.definition.get_closest_marker("sqlite_only"):
        return
    metafunc.parametrize("engine", ENGINES, indirect=True)
