"""Listening after a power cut: SIGKILL the real player while a recording plays; the restarted player owes that play,
does not play it by itself, says why, and the server's sitting log names the play given back.

Each life is a separate process (tests/e2e/listening_driver.py) running the real `player.app.main` on one data dir
against the real server process, with a PulseAudio null sink as the sound card (tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils

from player.offline_queue.db import journal_path
from player.offline_queue.journal import Journal
from player.ui.item_audio import READY, STOPPED_CUT_PLAY
from tests.helpers.e2e import REPO, START_TIMEOUT_S, DriverRun, E2EServer, LineReader, isolated_env, serve_demo
from tests.helpers.waiting import wait_until

FIRST, SECOND = "dict-cat", "dict-library"
"""The demo's dictation items, two plays each."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EServer]:
    # Its own server: the session's e2e server hands each demo student to another test.
    with serve_demo(tmp_path_factory.mktemp("listening-server")) as running:
        yield running


def start_listener(server: E2EServer, *, script: str, data_dir: Path, folder: Path) -> DriverRun:
    env = isolated_env(folder / "env", INVIGIL_CHECKPOINT_INTERVAL_SECONDS="1")
    command = [sys.executable, "-m", "tests.e2e.listening_driver", "--code", server.codes[0], "--script", script]
    command += ["--", "--server", server.url, "--data-dir", str(data_dir)]
    log_path = folder / f"player-{script}.stderr"
    with log_path.open("w") as stderr:  # the child keeps its own copy of the handle
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    return DriverRun(process=process, lines=LineReader(process.stdout), stderr_path=log_path)


def read_until(run: DriverRun, prefix: str) -> str:
    """The next line starting with `prefix`; fails on STUCK, an early exit or START_TIMEOUT_S without it."""
    while True:
        line = run.next(START_TIMEOUT_S)
        if line is None or line.startswith("STUCK"):
            run.kill()
            pytest.fail(f"waiting for {prefix}: got {line!r} after {run.seen}\n{run.stderr_tail()}")
        if line.startswith(prefix):
            return line


def journal_facts(data_dir: Path) -> tuple[dict[str, int], list[tuple[str, str]], int, dict[str, str]]:
    """(used plays, given-back plays as (item, reason), plays still open, answers) as the next start finds them,
    read through a read-only connection so the test cannot repair anything."""
    connection = sqlite3.connect(f"file:{journal_path(data_dir)}?mode=ro", uri=True)
    with closing(connection):
        journal = Journal(sqlite_utils.Database(connection))
        attempt = journal.open_attempt_on_this_machine()
        assert attempt is not None
        given = [(play.item_id, play.reason) for play in journal.play_record().given_back(attempt.attempt_id)]
        still_open = connection.execute("SELECT count(*) FROM play_log WHERE outcome IS NULL").fetchone()[0]
        answers = {item: str(value) for item, value in journal.answers(attempt.attempt_id).items()}
        return journal.plays(attempt.attempt_id), given, still_open, answers


def sitting_log_plays(db: Path) -> list[dict[str, object]]:
    """The server's sitting-log entries for plays given back (what the console's Log tab lists)."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            "SELECT actor, detail FROM audit_log WHERE action = 'play_given_back' ORDER BY at"
        ).fetchall()
    return [{"actor": actor, **json.loads(detail)} for actor, detail in rows]


def test_a_play_cut_by_a_kill_is_given_back_and_never_replays_by_itself(server: E2EServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    # Life 1: the dictation's first recording plays by itself; the plug is pulled while it is audibly playing.
    first = start_listener(server, script="listen", data_dir=data_dir, folder=tmp_path)
    assert read_until(first, "SHOWN") == f"SHOWN {FIRST} playing Play again (1 left)|Playing…"
    assert read_until(first, "PLAYING") == f"PLAYING {FIRST} Play again (1 left)"
    first.kill()
    # On disk: the play was written down as it started, and not counted (it never reached its end).
    assert journal_facts(data_dir)[:3] == ({}, [], 1)

    # Life 2, the same data dir: the play is owed, nothing plays by itself, and the student is told why.
    second = start_listener(server, script="resume", data_dir=data_dir, folder=tmp_path)
    try:
        assert read_until(second, "SHOWN") == f"SHOWN {FIRST} still Play again (2 left)|{STOPPED_CUT_PLAY}"
        # Space on the focused Play again plays; heard to the end, it is used.
        assert read_until(second, "FINISHED") == f"FINISHED {FIRST} Play again (1 left)"
        # The focus went back to the answer box, so letters typed next land there.
        assert read_until(second, "TYPED") == f"TYPED {FIRST} Your answer|the cat sat"
        # The next recording plays by itself on its first visit; coming back to the first one does not.
        assert read_until(second, "SHOWN") == f"SHOWN {SECOND} playing Play again (1 left)|Playing…"
        read_until(second, "PLAYING")
        assert read_until(second, "SHOWN") == f"SHOWN {FIRST} still Play again (1 left)|{READY}"
        read_until(second, "DONE")
        # The restarted player's checkpoint tells the server, which puts the play in the sitting's log.
        wait_until(
            lambda: len(sitting_log_plays(server.db)) == 1,
            what="the given-back play in the server's sitting log",
            timeout=START_TIMEOUT_S,
            give_up_if=lambda: second.process.poll() is not None,
        )
    finally:
        second.kill()
    [entry] = sitting_log_plays(server.db)
    assert (entry["actor"], entry["item_id"], entry["cause"]) == ("player", FIRST, "player_stopped")
    # Leaving the second recording mid-play was the student's choice: that play is used.
    plays, given, still_open, answers = journal_facts(data_dir)
    assert plays == {FIRST: 1, SECOND: 1}
    assert given == [(FIRST, "player_stopped")]
    assert still_open == 0
    assert answers[FIRST] == "the cat sat"
