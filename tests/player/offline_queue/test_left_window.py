"""Departures from the test window in the journal: each kept with its time, counted per attempt, still there after
the journal is opened again, and refused for an attempt that is no longer open here."""

from __future__ import annotations

from pathlib import Path

import pytest

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal, JournalError
from player.offline_queue.left_window import LeftWindow, left_window_of
from tests.helpers.clock import START, FakeClock
from tests.helpers.player import make_login

SERVER = "https://invigil.example.org"


def test_each_departure_is_kept_with_its_time_and_counted_per_attempt(
    tmp_path: Path, clock: FakeClock, demo_delivery: object
) -> None:
    path = tmp_path / "journal.sqlite3"
    db = open_database(path)
    journal = Journal(db, now=clock.now)
    journal.start_attempt(make_login(demo_delivery, attempt_id="a-1"), server_url=SERVER)
    journal.start_attempt(make_login(demo_delivery, attempt_id="a-2"), server_url=SERVER)
    log = left_window_of(journal)

    assert log.record("a-1", "other_program") == 1
    clock.advance(seconds=42)
    assert log.record("a-1", "other_window") == 2
    assert log.record("a-2", "other_program") == 1
    db.close()

    again = left_window_of(Journal(open_database(path), now=clock.now))  # as after a kill: only what was committed
    assert again.count("a-1") == 2
    assert again.departures("a-1") == [
        LeftWindow(START, "other_program"),
        LeftWindow(START.replace(second=42), "other_window"),
    ]
    assert again.count("nobody") == 0


def test_a_finished_attempt_takes_no_more_departures(journal: Journal, demo_delivery: object) -> None:
    journal.start_attempt(make_login(demo_delivery, attempt_id="a-1"), server_url=SERVER)
    left_window_of(journal).record("a-1", "other_program")
    journal.finish_attempt("a-1")

    with pytest.raises(JournalError, match="finished"):
        left_window_of(journal).record("a-1", "other_program")
    assert left_window_of(journal).count("a-1") == 1
