"""Player fixtures: the demo assessment's delivery form as a login reply, a real journal file, a hand-moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal
from resources import demo_assessment_path
from sync.protocol import Accommodations, LoginResponse
from sync.server.content import load_package


class ManualClock:
    """Monotonic and wall time that move only when the test says so."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.wall = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.wall += timedelta(seconds=seconds)


@pytest.fixture(scope="session")
def demo_delivery() -> object:
    return load_package(demo_assessment_path()).manifest.delivery_form()


def make_login(delivery: object, *, attempt_id: str = "attempt-1", extra_time: int = 0) -> LoginResponse:
    return LoginResponse.model_validate(
        {
            "attempt_id": attempt_id,
            "attempt_token": "token-secret",
            "student": "Ada Lovelace",
            "sitting_name": "Demo sitting",
            "window_end": "2027-03-01T17:00:00Z",
            "accommodations": Accommodations(extra_time_percent=extra_time).model_dump(),
            "assessment": delivery.model_dump(mode="json"),  # type: ignore[attr-defined]
            "result_secret": "c2VjcmV0",
        }
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def journal_db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    db = open_database(tmp_path / "journal.sqlite3")
    yield db
    db.close()


@pytest.fixture
def journal(journal_db: sqlite_utils.Database, clock: ManualClock) -> Journal:
    return Journal(journal_db, now=clock.now)
