"""The session shows the attempt's own order (sync.ordering) and keeps it through a power cut and a move to another
machine: the same item is current, numbered the same, with its options in the same order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal
from player.session import SittingSession
from sync.ordering import presented
from sync.protocol import Checkpoint, DeliveryAssessment, DeliveryItem
from tests.helpers.clock import FakeClock
from tests.helpers.ordered_package import FIXED_ITEM, FIXED_POSITION, NONE_OF_THESE, delivery
from tests.helpers.player import make_login
from tests.player.test_session import reopen

ATTEMPT = "attempt-2"
"""An attempt whose order differs from the package's in items and options (asserted), so the test can fail."""


def new_session(journal: Journal, clock: FakeClock, form: DeliveryAssessment) -> SittingSession:
    attempt = journal.start_attempt(make_login(form, attempt_id=ATTEMPT), server_url="http://server")
    return SittingSession(journal=journal, attempt=attempt, clock=clock)


def shown_items(session: SittingSession) -> list[str]:
    return [entry.item_id for entry in session.review()]


def option_ids(item: DeliveryItem) -> list[str]:
    return [option.id for option in item.options]


def walk(session: SittingSession) -> dict[str, list[str]]:
    """Every item of the current section as the student meets it going forward: its options in screen order."""
    seen = {session.item.id: option_ids(session.item)}
    while session.go_next():
        seen[session.item.id] = option_ids(session.item)
    return seen


def test_the_screens_follow_the_attempts_order_and_a_power_cut_keeps_it(
    journal: Journal, clock: FakeClock, tmp_path: Path
) -> None:
    form = delivery(tmp_path / "package")
    session = new_session(journal, clock, form)
    expected = presented(form, seed=session.attempt_id).sections[0]
    package = form.sections[0]
    assert [i.id for i in expected.items] != [i.id for i in package.items]
    assert option_ids(expected.items[2]) != option_ids(package.items[0])  # q-capital, moved to third
    assert shown_items(session) == [item.id for item in expected.items]
    assert shown_items(session)[FIXED_POSITION] == FIXED_ITEM
    seen = walk(session)
    assert list(seen) == shown_items(session)
    assert seen == {item.id: option_ids(item) for item in expected.items}
    assert seen["q-capital"][-1] == NONE_OF_THESE

    session.go_to(3)
    at = session.item.id
    session.set_answer(["b"] if session.item.type == "multiple_choice" else "a")
    clock.advance(7)
    session.tick()

    again = reopen(journal, clock)  # the plug pulled, the player started again on the same journal file
    assert (again.item_index, again.item.id) == (3, at)
    assert shown_items(again) == shown_items(session)
    assert [e.number for e in again.review() if e.answered] == [4]
    again.go_to(0)
    assert walk(again) == seen


def test_a_move_to_another_machine_shows_the_same_order_at_the_same_item(
    journal: Journal, clock: FakeClock, tmp_path: Path
) -> None:
    form: DeliveryAssessment = delivery(tmp_path / "package")
    here = new_session(journal, clock, form)
    here.go_to(2)
    order, current = shown_items(here), here.item
    assert order == [item.id for item in presented(form, seed=ATTEMPT).sections[0].items]

    # The other machine's journal starts from the server's login reply, with the checkpoint the first one sent.
    db = open_database(tmp_path / "other-machine.sqlite3")
    try:
        other_journal = Journal(db, now=clock.now)
        checkpoint = Checkpoint(
            section_id="shuffled", item_id=current.id, remaining_seconds=500, taken_at=datetime(2027, 3, 1, tzinfo=UTC)
        )
        login = make_login(form, attempt_id=ATTEMPT).model_copy(update={"checkpoint": checkpoint})
        attempt = other_journal.start_attempt(login, server_url="http://server")
        there = SittingSession(journal=other_journal, attempt=attempt, clock=clock)
        assert there.attempt_id == here.attempt_id
        assert (shown_items(there), there.item_index) == (order, 2)
        assert option_ids(there.item) == option_ids(current)
    finally:
        db.close()
