"""Player fixtures: the demo assessment's delivery form, a real journal file on the test's clock (FakeClock), a real
audio output (a PulseAudio null sink) for the player run in its own process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal
from resources import demo_assessment_path
from sync.server.content import load_package
from tests.helpers.clock import FakeClock
from tests.helpers.null_sink import NoSoundServer, null_sink_server


@pytest.fixture(scope="session")
def demo_delivery() -> object:
    return load_package(demo_assessment_path()).manifest.delivery_form()


@pytest.fixture
def journal_db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    db = open_database(tmp_path / "journal.sqlite3")
    yield db
    db.close()


@pytest.fixture
def journal(journal_db: sqlite_utils.Database, clock: FakeClock) -> Journal:
    return Journal(journal_db, now=clock.now)


@pytest.fixture(scope="module")
def null_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PULSE_SERVER of a running null sink: a real audio output on a machine with no sound card."""
    try:
        with null_sink_server(tmp_path_factory.mktemp("pulse")) as server:
            yield server
    except NoSoundServer as missing:
        pytest.fail(str(missing))
