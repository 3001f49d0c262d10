"""Departures from the test window in the journal: each kept with its time, counted per attempt, still there after
the journal is opened again, and refused for an attempt that is no longer open here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal, JournalError
from player.offline_queue.left_window import LeftWindow, left_window_of
from tests.helpers.clock import START, FakeClock
from tests.helpers.player import make_login

SERVER = "https://invigil.example.org"
REPO_ROOT = Path(__file__).resolve().parents[3]


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


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from player.offline_queue.db import open_database
    from player.offline_queue.journal import Journal
    from player.offline_queue.left_window import left_window_of

    departures = left_window_of(Journal(open_database(Path(sys.argv[1]))))
    for _ in range(100_000):
        print(departures.record(sys.argv[2], "other_program"), flush=True)
    """
)


def test_every_departure_reported_survives_kill_9(tmp_path: Path, clock: FakeClock, demo_delivery: object) -> None:
    """The count the player reported (to its log, to the heartbeat) is never above what a restart finds."""
    path = tmp_path / "journal.sqlite3"
    db = open_database(path)
    Journal(db, now=clock.now).start_attempt(make_login(demo_delivery, attempt_id="a-1"), server_url=SERVER)
    db.close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), "a-1"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert child.stdout is not None
    reported: list[str] = []
    try:
        while len(reported) < 25:
            line = child.stdout.readline()
            assert line, f"the child stopped early (exit code {child.poll()})"
            reported.append(line)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        reported.extend(line for line in child.stdout.readlines() if line.endswith("\n"))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    counted = left_window_of(Journal(open_database(path), now=clock.now)).count("a-1")
    assert counted >= int(reported[-1]) >= 25
