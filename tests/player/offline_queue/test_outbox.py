"""The outbox on a real journal file: claiming, retries, refusals, restarts, and coalesced checkpoints."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import given
from hypothesis import strategies as st

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal
from player.offline_queue.outbox import Outbox, checkpoint_key
from player.session import SittingSession
from sync.protocol import Checkpoint, ResultEnvelope
from tests.helpers.clock import FakeClock
from tests.helpers.player import make_login


def sit(
    journal: Journal, clock: FakeClock, delivery: object, *, sections: int = 3, attempt_id: str = "attempt-1"
) -> SittingSession:
    attempt = journal.start_attempt(make_login(delivery, attempt_id=attempt_id), server_url="http://server")
    session = SittingSession(journal=journal, attempt=attempt, clock=clock)
    for _ in range(sections):
        if session.item.type == "single_choice":
            session.set_answer("b")
        session.end_section()
    return session


@pytest.fixture
def outbox(journal_db: sqlite_utils.Database, clock: FakeClock) -> Outbox:
    return Outbox(journal_db, now=clock.now)


def test_each_finished_section_is_one_pending_result_in_the_outbox(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=2)
    results = outbox.entries(kind="result")
    assert [e.state for e in results] == ["pending", "pending"]
    assert outbox.depth() == 2
    envelope = ResultEnvelope.model_validate_json(results[0].body)
    assert envelope.idempotency_key == results[0].idempotency_key
    assert envelope.final is False


def test_claimed_rows_are_not_claimed_twice(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery)
    first = outbox.claim_due(2, clock.now())
    second = outbox.claim_due(10, clock.now())
    assert [e.state for e in first] == ["sending", "sending"]
    assert len(second) == 1
    assert not {e.idempotency_key for e in first} & {e.idempotency_key for e in second}
    assert outbox.claim_due(10, clock.now()) == []


def test_a_send_cut_off_by_a_crash_is_pending_again_after_restart(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object, tmp_path: Path
) -> None:
    sit(journal, clock, demo_delivery, sections=1)
    [claimed] = outbox.claim_due(5, clock.now())
    # The app dies here; a new process opens the same file.
    reopened = Outbox(open_database(tmp_path / "journal.sqlite3"), now=clock.now)
    assert reopened.reset_sending_to_pending() == 1
    [again] = reopened.claim_due(5, clock.now())
    assert again.idempotency_key == claimed.idempotency_key
    assert again.body == claimed.body


def test_a_retried_row_waits_until_its_time_and_counts_the_failure(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=1)
    [claimed] = outbox.claim_due(5, clock.now())
    assert outbox.mark_retry(claimed.idempotency_key, "Cannot reach the server", clock.now() + timedelta(seconds=4))
    clock.advance(3.9)
    assert outbox.claim_due(5, clock.now()) == []
    assert outbox.next_due_at() == clock.now() + timedelta(seconds=0.1)
    clock.advance(0.1)
    [again] = outbox.claim_due(5, clock.now())
    assert again.attempts == 1
    assert again.last_error == "Cannot reach the server"


def test_a_clock_set_far_back_does_not_strand_a_retry(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=1)
    [claimed] = outbox.claim_due(5, clock.now())
    outbox.mark_retry(claimed.idempotency_key, "timeout", clock.now() + timedelta(seconds=30))
    assert len(outbox.claim_due(5, clock.now() - timedelta(days=1))) == 1


def test_a_refused_result_is_kept_for_staff_and_never_claimed_by_itself(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=1)
    [claimed] = outbox.claim_due(5, clock.now())
    outbox.mark_needs_attention(claimed.idempotency_key, "This test has already been finished.")
    [held] = outbox.needs_attention()
    assert held.idempotency_key == claimed.idempotency_key
    assert held.last_error == "This test has already been finished."
    assert outbox.depth() == 1, "a refused result is still on this machine, unsent"
    clock.advance(3600)
    assert outbox.claim_due(5, clock.now()) == []
    assert outbox.retry_needs_attention(claimed.idempotency_key) == 1
    assert [e.idempotency_key for e in outbox.claim_due(5, clock.now())] == [claimed.idempotency_key]


def test_sent_rows_stay_until_purged_and_leave_the_depth(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=2)
    for entry in outbox.claim_due(5, clock.now()):
        assert outbox.mark_sent(entry.idempotency_key)
    assert outbox.depth() == 0
    assert [e.state for e in outbox.entries()] == ["sent", "sent"]
    assert outbox.purge_sent(clock.now() - timedelta(days=1)) == 0
    assert outbox.purge_sent(clock.now() + timedelta(seconds=1)) == 2
    assert outbox.entries() == []


def test_only_a_row_being_sent_can_be_marked(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=1)
    [entry] = outbox.entries()
    assert not outbox.mark_sent(entry.idempotency_key), "a pending row was never sent, so it cannot be confirmed"
    assert outbox.entries()[0].state == "pending"


def checkpoint(clock: FakeClock, remaining: int, *, item: str = "q1") -> Checkpoint:
    return Checkpoint(section_id="mc", item_id=item, remaining_seconds=remaining, taken_at=clock.now())


def test_checkpoints_coalesce_to_the_newest_per_attempt(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    journal.start_attempt(make_login(demo_delivery), server_url="http://server")
    old = checkpoint(clock, 590)
    assert outbox.queue_checkpoint("attempt-1", old)
    clock.advance(5)
    assert outbox.queue_checkpoint("attempt-1", checkpoint(clock, 585))
    assert not outbox.queue_checkpoint("attempt-1", old), "an older checkpoint must not replace a newer one"
    [row] = outbox.entries(kind="checkpoint")
    assert Checkpoint.model_validate_json(row.body).remaining_seconds == 585
    assert outbox.depth() == 0, "checkpoints are not results: the depth staff see counts results only"


def test_a_checkpoint_overwritten_in_flight_is_sent_again(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    journal.start_attempt(make_login(demo_delivery), server_url="http://server")
    outbox.queue_checkpoint("attempt-1", checkpoint(clock, 590))
    [in_flight] = outbox.claim_due(5, clock.now())
    clock.advance(5)
    outbox.queue_checkpoint("attempt-1", checkpoint(clock, 585))
    outbox.mark_sent(in_flight.idempotency_key, body=in_flight.body)
    [again] = outbox.claim_due(5, clock.now())
    assert Checkpoint.model_validate_json(again.body).remaining_seconds == 585
    outbox.mark_sent(again.idempotency_key, body=again.body)
    assert outbox.entry(checkpoint_key("attempt-1")).state == "sent"  # type: ignore[union-attr]


def test_refresh_copies_the_journal_checkpoint_and_drops_it_once_finished(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    session = sit(journal, clock, demo_delivery, sections=0)
    clock.advance(7)
    session.checkpoint()
    assert outbox.refresh_checkpoints(journal) == 1
    assert outbox.refresh_checkpoints(journal) == 0, "the same checkpoint is not queued twice"
    [row] = outbox.entries(kind="checkpoint")
    sent = Checkpoint.model_validate_json(row.body)
    assert (sent.section_id, sent.item_id, sent.remaining_seconds) == (session.section.id, session.item.id, 593)
    journal.finish_attempt(session.attempt_id)
    outbox.refresh_checkpoints(journal)
    assert outbox.entries(kind="checkpoint") == []


def test_the_uploader_thread_and_the_ui_thread_write_the_same_file_without_locking_errors(
    journal: Journal, clock: FakeClock, demo_delivery: object, tmp_path: Path
) -> None:
    session = sit(journal, clock, demo_delivery, sections=0)
    errors: list[BaseException] = []
    done = threading.Event()

    def uploader_thread() -> None:
        own_db = open_database(tmp_path / "journal.sqlite3")
        own = Outbox(own_db, now=clock.now)
        try:
            while not done.is_set():
                for entry in own.claim_due(5, clock.now()):
                    own.mark_retry(entry.idempotency_key, "offline", clock.now())
                own.refresh_checkpoints(Journal(own_db, now=clock.now))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=uploader_thread)
    thread.start()
    try:
        for index in range(60):
            session.set_answer("a" if index % 2 else "b")
            session.checkpoint()
        session.end_section()
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert len(journal.saved_answers(session.attempt_id)) >= 1


def test_a_batch_reply_marks_its_rows_sent_together_and_leaves_the_rest(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=3)
    first, second, third = outbox.claim_due(10)
    assert outbox.mark_sent_many([first.idempotency_key, third.idempotency_key, "not-a-key"]) == 2
    states = {e.idempotency_key: e.state for e in outbox.entries(kind="result")}
    assert states == {first.idempotency_key: "sent", second.idempotency_key: "sending", third.idempotency_key: "sent"}
    assert outbox.depth() == 1
    assert outbox.mark_sent_many([]) == 0


def test_a_claim_takes_results_due_now_in_queue_order_then_retries_then_checkpoints(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=3)
    first, second, third = (e.idempotency_key for e in outbox.entries(kind="result"))
    [tried] = outbox.claim_due(1, clock.now())
    assert tried.idempotency_key == first
    outbox.mark_retry(first, "offline", clock.now() + timedelta(seconds=1))
    clock.advance(2)
    outbox.queue_checkpoint("attempt-1", checkpoint(clock, 500))

    claimed = outbox.claim_due(10, clock.now())

    assert [e.idempotency_key for e in claimed] == [second, third, first, checkpoint_key("attempt-1")]
    assert {e.state for e in claimed} == {"sending"}
    assert [e.attempts for e in claimed] == [0, 0, 1, 0]
    assert claimed[2].last_error == "offline"
    assert {e.idempotency_key: e for e in outbox.entries()} == {e.idempotency_key: e for e in claimed}


def test_a_claim_stops_at_its_limit_taking_results_before_a_checkpoint(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=2)
    outbox.queue_checkpoint("attempt-1", checkpoint(clock, 500))
    assert [e.kind for e in outbox.claim_due(2, clock.now())] == ["result", "result"]
    assert [e.kind for e in outbox.claim_due(2, clock.now())] == ["checkpoint"]


def test_the_depth_counts_unsent_results_in_every_state_and_never_a_checkpoint(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=3)
    outbox.queue_checkpoint("attempt-1", checkpoint(clock, 500))
    _sending, refused, sent = outbox.claim_due(3, clock.now())
    outbox.mark_needs_attention(refused.idempotency_key, "refused")
    outbox.mark_sent(sent.idempotency_key)
    assert outbox.depth() == 2, "one sending, one needing attention; the checkpoint (pending) is not a result"
    [in_flight] = outbox.claim_due(5, clock.now())
    assert in_flight.kind == "checkpoint"
    assert outbox.depth() == 2, "nor is a checkpoint being sent"


@given(st.text(max_size=40))
def test_every_checkpoint_key_lies_in_the_range_the_queries_read(attempt_id: str) -> None:
    assert "checkpoint:" <= checkpoint_key(attempt_id) < "checkpoint;"


def test_releasing_several_rows_puts_back_only_those_being_sent(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    sit(journal, clock, demo_delivery, sections=3)
    first, second, third = outbox.claim_due(10, clock.now())
    outbox.mark_sent(third.idempotency_key)
    assert outbox.release_many([first.idempotency_key, third.idempotency_key, "not-a-key"]) == 1
    states = {e.idempotency_key: (e.state, e.attempts) for e in outbox.entries(kind="result")}
    assert states == {
        first.idempotency_key: ("pending", 0),
        second.idempotency_key: ("sending", 0),
        third.idempotency_key: ("sent", 0),
    }
    assert outbox.release_many([]) == 0
    assert [e.idempotency_key for e in outbox.claim_due(10, clock.now())] == [first.idempotency_key]


def test_a_refused_checkpoint_is_not_queued_again_until_a_newer_one_is_taken(
    journal: Journal, outbox: Outbox, clock: FakeClock, demo_delivery: object
) -> None:
    """The attempt is still open here but the server refuses its checkpoints (e.g. it finished there)."""
    session = sit(journal, clock, demo_delivery, sections=0)
    clock.advance(7)
    session.checkpoint()
    assert outbox.refresh_checkpoints(journal) == 1
    [sending] = outbox.claim_due(5, clock.now())
    assert outbox.settle_refused_checkpoint(sending.idempotency_key, "attempt_finished")
    assert outbox.refresh_checkpoints(journal) == 0, "the refused checkpoint would be sent and refused again at once"
    assert outbox.claim_due(5, clock.now()) == []
    assert outbox.entry(checkpoint_key(session.attempt_id)).last_error == "attempt_finished"  # type: ignore[union-attr]
    clock.advance(5)
    session.checkpoint()
    assert outbox.refresh_checkpoints(journal) == 1, "a newer checkpoint still goes"
    [newer] = outbox.claim_due(5, clock.now())
    assert Checkpoint.model_validate_json(newer.body).remaining_seconds == 588
