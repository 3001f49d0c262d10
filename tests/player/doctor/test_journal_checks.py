"""doctor and the journal file itself (player/offline_queue/db.py journal_path), for real on this disk: something
other than a file where the journal belongs (the player then refuses to start), and reading the journal without
leaving SQLite's -wal/-shm companions behind, while still seeing what a running player has just written."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from player.config import PlayerConfig
from player.doctor.checks import run_doctor
from player.doctor.journal_checks import read_journal
from player.doctor.report import Status
from player.offline_queue.db import DatabaseSetupError, journal_path, open_database
from sync.error_catalogue import by_number, number_for
from tests.helpers.doctor import MakeConfig, check_of, closed_port_url, good_edges, write_unsent_result


@pytest.fixture
def config(make_config: MakeConfig) -> PlayerConfig:
    """A data folder that exists; the server a closed port (the journal checks need none)."""
    made = make_config(closed_port_url())
    made.data_dir.mkdir()
    return made


def contents(folder: Path) -> dict[str, tuple[int, int]]:
    """Each name in `folder` with its size and modification time: what doctor must leave as it found."""
    return {p.name: (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.iterdir()}


def folder_in_the_way(journal: Path) -> None:
    journal.mkdir()
    (journal / "notes.txt").write_text("someone's files\n")


def pipe_in_the_way(journal: Path) -> None:
    os.mkfifo(journal)


def link_to_a_folder_in_the_way(journal: Path) -> None:
    target = journal.parent.parent / "elsewhere"
    target.mkdir()
    journal.symlink_to(target)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (folder_in_the_way, "a folder"),
        (pipe_in_the_way, "a named pipe (FIFO)"),
        (link_to_a_folder_in_the_way, "a folder (it is a link to "),
    ],
    ids=["folder", "fifo", "link-to-folder"],
)
def test_something_other_than_a_file_at_the_journals_place_is_a_failure_with_its_number(
    config: PlayerConfig, make: Callable[[Path], None], kind: str
) -> None:
    journal = journal_path(config.data_dir)
    make(journal)
    before = contents(config.data_dir)

    report = run_doctor(config, edges=good_edges())

    wal = check_of(report, "wal")
    assert (wal.status, wal.number) == (Status.FAILURE, number_for("doctor.journal_not_a_file"))
    assert wal.number == "INV-5019"
    assert by_number(wal.number) is not None
    assert wal.detail.startswith(f"The journal's place {journal} is {kind}")
    assert "not a file: the player cannot open its journal there and refuses to start." in wal.detail
    assert f"Look at what {journal} holds, then move it out of the data folder" in wal.fix
    assert "Do not delete it unread" in wal.fix
    # Counting unsent results cannot run; the cause is the failure above, shown once with its number.
    unsent = check_of(report, "unsent_results")
    assert (unsent.status, unsent.number) == (Status.NOT_CHECKED, None)
    assert unsent.detail.startswith(f"Not checked: the journal's place {journal} is {kind}")
    assert unsent.detail.endswith(", not a file (see Journal safety).")
    assert report.exit_status == 2
    assert contents(config.data_dir) == before, "nothing changed in the data folder"


def test_the_player_refuses_the_journal_folder_doctor_fails(config: PlayerConfig) -> None:
    """What doctor's failure stands for: the player's own journal open (its start-up) refuses a folder there."""
    journal = journal_path(config.data_dir)
    folder_in_the_way(journal)

    assert check_of(run_doctor(config, edges=good_edges()), "wal").status is Status.FAILURE
    with pytest.raises(DatabaseSetupError, match="cannot open the journal"):
        open_database(journal).close()


def test_counting_unsent_results_leaves_nothing_beside_a_closed_journal(
    config: PlayerConfig, demo_delivery: object
) -> None:
    """The player stopped: its journal alone in the data folder. doctor (perhaps run with sudo) adds no -wal or
    -shm file and changes nothing, yet counts the result."""
    db = open_database(journal_path(config.data_dir))
    try:
        write_unsent_result(db, demo_delivery, config.server_url)
    finally:
        db.close()
    before = contents(config.data_dir)
    assert sorted(before) == ["journal.sqlite3"], "the player's clean close leaves the journal alone"

    unsent = check_of(run_doctor(config, edges=good_edges()), "unsent_results")

    assert unsent.status is Status.WARNING
    assert unsent.detail.startswith("1 result(s) made on this computer have not reached the server yet")
    assert contents(config.data_dir) == before, "no journal.sqlite3-wal/-shm left behind, nothing changed"


def test_a_running_players_latest_result_is_counted(config: PlayerConfig, demo_delivery: object) -> None:
    """The player has the journal open, its newest commit still only in the -wal file: doctor reads through it."""
    db = open_database(journal_path(config.data_dir))
    try:
        write_unsent_result(db, demo_delivery, config.server_url)
        assert (config.data_dir / "journal.sqlite3-wal").stat().st_size > 0, "the commit is in the WAL"

        unsent = check_of(run_doctor(config, edges=good_edges()), "unsent_results")

        assert unsent.status is Status.WARNING
        assert unsent.detail.startswith("1 result(s) made on this computer have not reached the server yet")
        assert sorted(contents(config.data_dir)) == ["journal.sqlite3", "journal.sqlite3-shm", "journal.sqlite3-wal"]
    finally:
        db.close()


def test_a_player_starting_while_doctor_reads_is_read_again_through_its_wal(tmp_path: Path) -> None:
    """The unlocked (immutable) read sees nothing a player writes meanwhile: when the journal changed during it,
    doctor reads again the ordinary way and gets the player's commit. The `read` doctor runs is the seam: here it
    starts a real writer, as a player starting at that moment would, during the first read."""
    path = tmp_path / "journal.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = wal")
    db.execute("CREATE TABLE outbox (n INTEGER)")
    db.execute("INSERT INTO outbox VALUES (1)")
    db.commit()
    db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.sqlite3"]
    player = sqlite3.connect(path)
    reads: list[int] = []

    def count_while_a_player_starts(conn: sqlite3.Connection) -> int:
        counted = int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        if not reads:  # the first read: the player starts and commits a result now
            player.execute("INSERT INTO outbox VALUES (2)")
            player.commit()
        reads.append(counted)
        return counted

    try:
        assert read_journal(path, count_while_a_player_starts) == 2
        assert reads == [1, 2], "read again after the journal changed"
    finally:
        player.close()
