"""The section clock after a crash: the tick's time-left record, the journal's checkpoint to the millisecond, and
which of them a restart believes (never one that takes time away)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlite_utils

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal
from player.offline_queue.migrations import MIGRATIONS, apply_migrations
from player.offline_queue.time_left import RECORD_BYTES, TimeLeftRecord, time_left_at_resume, time_left_path
from player.session import SittingSession
from tests.helpers.clock import FakeClock
from tests.helpers.player import make_login

TICK = 0.25
"""The player's tick (ControllerSettings.tick_interval_ms)."""


def start(journal: Journal, clock: FakeClock, delivery: object, record: TimeLeftRecord) -> SittingSession:
    attempt = journal.start_attempt(make_login(delivery), server_url="http://server")
    session = SittingSession(journal=journal, attempt=attempt, clock=clock, time_left=record)
    session.checkpoint()  # what the controller does as the section appears
    return session


def after_kill(journal: Journal, clock: FakeClock, data_dir: Path) -> SittingSession:
    """A new process: a new record object on the same file, the attempt read back from the journal."""
    attempt = journal.open_attempt_on_this_machine()
    assert attempt is not None
    return SittingSession(
        journal=journal, attempt=attempt, clock=clock, time_left=TimeLeftRecord(time_left_path(data_dir))
    )


def run_for(session: SittingSession, clock: FakeClock, seconds: float) -> None:
    for _ in range(round(seconds / TICK)):
        clock.advance(TICK)
        session.tick()


def test_a_kill_between_checkpoints_costs_at_most_one_tick_in_the_students_favour(
    journal: Journal, clock: FakeClock, demo_delivery: object, tmp_path: Path
) -> None:
    record = TimeLeftRecord(time_left_path(tmp_path))
    session = start(journal, clock, demo_delivery, record)
    run_for(session, clock, 13.0)  # periodic checkpoints at 0, 5 and 10 s: the last one is 3 s old
    clock.advance(0.2)  # killed 0.2 s after the last tick
    true_left = session.remaining_seconds()

    resumed = after_kill(journal, clock, tmp_path)

    assert 0 <= resumed.started_with - true_left <= TICK
    assert resumed.started_with == pytest.approx(600 - 13.0)
    # Without the record the checkpoint 3 s earlier would have been used.
    assert journal.attempt(resumed.attempt_id).remaining_ms == 590_000


def test_without_a_record_the_checkpoint_is_used_to_the_millisecond(
    journal: Journal, clock: FakeClock, demo_delivery: object, tmp_path: Path
) -> None:
    record = TimeLeftRecord(time_left_path(tmp_path))
    session = start(journal, clock, demo_delivery, record)
    clock.advance(2.345)
    session.go_next()  # an item change checkpoints
    time_left_path(tmp_path).unlink()  # a power cut lost the record (it is never fsynced)

    resumed = after_kill(journal, clock, tmp_path)

    assert resumed.started_with == pytest.approx(600 - 2.345)
    assert resumed.item_index == 1


def test_a_torn_record_is_ignored(journal: Journal, clock: FakeClock, demo_delivery: object, tmp_path: Path) -> None:
    record = TimeLeftRecord(time_left_path(tmp_path))
    session = start(journal, clock, demo_delivery, record)
    run_for(session, clock, 3.0)
    raw = bytearray(time_left_path(tmp_path).read_bytes())
    raw[40] ^= 0x01  # a half-written block after a power cut
    time_left_path(tmp_path).write_bytes(bytes(raw))

    assert after_kill(journal, clock, tmp_path).started_with == 600  # the checkpoint at the start


def test_an_old_record_beside_a_newer_checkpoint_never_takes_extra_time_away(
    journal: Journal, clock: FakeClock, demo_delivery: object, tmp_path: Path
) -> None:
    """A power cut can keep the record from before extra time was given, beside the (fsynced) checkpoint after it."""
    path = time_left_path(tmp_path)
    session = start(journal, clock, demo_delivery, TimeLeftRecord(path))
    run_for(session, clock, 4.0)
    before_extra_time = path.read_bytes()
    session.add_time(300)
    run_for(session, clock, 1.0)
    path.write_bytes(before_extra_time)

    resumed = after_kill(journal, clock, tmp_path)

    assert resumed.started_with == pytest.approx(600 - 4.0 + 300)  # the checkpoint taken when the time was added


def test_a_record_above_its_checkpoint_is_not_believed(
    journal: Journal, clock: FakeClock, demo_delivery: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    session = start(journal, clock, demo_delivery, TimeLeftRecord(time_left_path(tmp_path)))
    attempt = journal.attempt(session.attempt_id)
    assert attempt.checkpoint_at is not None
    TimeLeftRecord(time_left_path(tmp_path)).write(session.attempt_id, session.section.id, attempt.checkpoint_at, 700)

    assert time_left_at_resume(attempt, TimeLeftRecord(time_left_path(tmp_path))) == 600
    assert "above its checkpoint" in caplog.text


def test_a_record_that_cannot_be_written_is_reported_once_and_the_sitting_goes_on(
    journal: Journal, clock: FakeClock, demo_delivery: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data folder should be")
    session = start(journal, clock, demo_delivery, TimeLeftRecord(time_left_path(blocked)))
    with caplog.at_level(logging.WARNING):
        run_for(session, clock, 2.0)

    assert session.remaining_seconds() == 598
    warnings = [r.getMessage() for r in caplog.records if "Cannot record the time left" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert str(time_left_path(blocked)) in warnings[0]


def test_every_record_is_the_same_size_so_a_shorter_one_leaves_nothing_of_a_longer_one(
    journal: Journal, clock: FakeClock, demo_delivery: object, tmp_path: Path
) -> None:
    session = start(journal, clock, demo_delivery, TimeLeftRecord(time_left_path(tmp_path)))
    run_for(session, clock, 1.0)
    checkpoint_at = journal.attempt(session.attempt_id).checkpoint_at
    assert checkpoint_at is not None
    record = TimeLeftRecord(time_left_path(tmp_path))
    record.write("a" * 200, "s", checkpoint_at, 10_000_000)
    record.write("a", "s", checkpoint_at, 1)
    record.close()

    assert time_left_path(tmp_path).stat().st_size == RECORD_BYTES
    stored = record.read()
    assert stored is not None
    assert (stored.attempt_id, stored.left_ms) == ("a", 1000)


def test_a_journal_from_before_the_migration_keeps_its_checkpoint_and_gains_milliseconds(
    tmp_path: Path, clock: FakeClock, demo_delivery: object
) -> None:
    path = tmp_path / "journal.sqlite3"
    before = sqlite_utils.Database(path)  # a journal written by the release before 0004
    apply_migrations(before, [m for m in MIGRATIONS if m.name != "0004_time_left_ms"], now=clock)
    journal = Journal(before, now=clock)
    attempt = journal.start_attempt(make_login(demo_delivery), server_url="http://server")
    before.execute(
        "UPDATE attempts SET current_section_id = 'mc', current_item_id = 'mc-circles', remaining_seconds = 421, "
        "checkpoint_at = ? WHERE attempt_id = ?",
        [clock.wall.isoformat(), attempt.attempt_id],
    )
    before.close()

    migrated = Journal(open_database(path), now=clock)
    resumed = migrated.attempt(attempt.attempt_id)
    assert (resumed.remaining_seconds, resumed.remaining_ms, resumed.current_item_id) == (421, None, "mc-circles")
    session = SittingSession(journal=migrated, attempt=resumed, clock=clock)
    assert session.started_with == 421  # the whole seconds, as before the migration
    clock.advance(1.5)
    session.checkpoint()
    assert migrated.attempt(attempt.attempt_id).remaining_ms == 419_500
    assert migrated.attempt(attempt.attempt_id).remaining_seconds == 420  # rounded up for the server
