"""The sitting state machine on a real journal: navigation, answers, plays, time, ending, and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal
from player.session import SittingSession
from player.session_events import Phase, SectionEnded, SessionError, TimeWarning
from tests.helpers.clock import FakeClock
from tests.helpers.player import make_login


def new_session(journal: Journal, clock: FakeClock, delivery: object, *, extra_time: int = 0) -> SittingSession:
    attempt = journal.start_attempt(make_login(delivery, extra_time=extra_time), server_url="http://server")
    return SittingSession(journal=journal, attempt=attempt, clock=clock)


def reopen(journal: Journal, clock: FakeClock) -> SittingSession:
    attempt = journal.open_attempt_on_this_machine()
    assert attempt is not None
    return SittingSession(journal=journal, attempt=attempt, clock=clock)


def test_starts_at_the_first_item_with_the_full_time(journal: Journal, clock: FakeClock, demo_delivery: object) -> None:
    session = new_session(journal, clock, demo_delivery)
    assert session.section.title == "Multiple choice"
    assert session.item_index == 0
    assert session.remaining_seconds() == 600


def test_extra_time_lengthens_every_section(journal: Journal, clock: FakeClock, demo_delivery: object) -> None:
    session = new_session(journal, clock, demo_delivery, extra_time=25)
    assert session.remaining_seconds() == 750


def test_a_choice_is_on_disk_when_set_answer_returns(
    journal: Journal, clock: FakeClock, demo_delivery: object, tmp_path: Path
) -> None:
    session = new_session(journal, clock, demo_delivery)
    session.set_answer("b")
    # A second, independent connection sees it: it was committed, not just cached.
    other = Journal(open_database(tmp_path / "journal.sqlite3"))
    assert other.answers(session.attempt_id) == {session.item.id: "b"}


def test_typing_is_committed_within_two_seconds_and_on_leaving(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = new_session(journal, clock, demo_delivery)
    session.end_section()  # on to short answers
    item_id = session.item.id
    session.set_draft("hel")
    assert not session.is_saved(item_id)
    clock.advance(1.0)
    session.set_draft("hello")
    session.tick()
    assert journal.answers(session.attempt_id).get(item_id) is None
    clock.advance(1.0)
    session.tick()
    assert journal.answers(session.attempt_id)[item_id] == "hello"
    assert session.is_saved(item_id)
    session.set_draft("hello world")
    session.go_next()
    assert journal.answers(session.attempt_id)[item_id] == "hello world"


def test_plays_are_capped_and_survive_a_restart(journal: Journal, clock: FakeClock, demo_delivery: object) -> None:
    session = new_session(journal, clock, demo_delivery)
    session.end_section()
    session.end_section()  # dictation
    item = session.item
    assert item.max_plays == 2
    for _ in range(2):
        assert session.start_play()
        session.end_play("heard")
    assert not session.start_play()
    assert session.plays_left(item) == 0
    assert reopen(journal, clock).plays_left(item) == 0


def test_warnings_at_five_minutes_and_one_minute_then_time_up_ends_the_section(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = new_session(journal, clock, demo_delivery)
    session.set_answer("b")
    clock.advance(299)
    assert session.tick() == []
    clock.advance(2)
    assert session.tick() == [TimeWarning("mc", 300)]
    clock.advance(240)
    assert session.tick() == [TimeWarning("mc", 60)]
    clock.advance(60)
    assert session.tick() == [SectionEnded("mc", by_timeout=True, finished=False)]
    assert session.section.id == "short"
    outbox = list(journal._db.query("SELECT body FROM outbox"))
    assert [a["value"] for a in json.loads(outbox[0]["body"])["answers"]] == ["b"]


def test_a_restart_resumes_at_the_same_item_with_the_checkpointed_time(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = new_session(journal, clock, demo_delivery)
    session.go_next()
    session.set_answer("b")
    clock.advance(42)
    session.tick()
    clock.advance(3)  # lost: after the last checkpoint, before the power cut
    again = reopen(journal, clock)
    assert (again.section.id, again.item_index) == ("mc", 1)
    assert again.remaining_seconds() == 600 - 42
    assert again.answer(again.item.id) == "b"


def test_pause_stops_the_clock_and_added_time_counts(journal: Journal, clock: FakeClock, demo_delivery: object) -> None:
    session = new_session(journal, clock, demo_delivery)
    session.pause()
    clock.advance(100)
    assert session.remaining_seconds() == 600
    assert session.tick() == []
    session.resume()
    clock.advance(10)
    session.add_time(120)
    assert session.remaining_seconds() == 710


def test_review_lists_unanswered_and_flagged_items(journal: Journal, clock: FakeClock, demo_delivery: object) -> None:
    session = new_session(journal, clock, demo_delivery)
    session.set_answer("b")
    session.go_next()
    session.toggle_flag()
    review = session.review()
    assert [(r.number, r.answered, r.flagged) for r in review] == [
        (1, True, False),
        (2, False, True),
        (3, False, False),
    ]


def test_ending_the_last_section_finishes_and_nothing_can_change(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = new_session(journal, clock, demo_delivery)
    ended = [session.end_section() for _ in range(3)]
    assert ended[-1].finished
    assert session.phase is Phase.FINISHED
    with pytest.raises(SessionError):
        session.set_answer("a")
    assert journal.open_attempt_on_this_machine() is None
    bodies = [json.loads(r["body"]) for r in journal._db.query("SELECT body FROM outbox ORDER BY created_at")]
    assert [b["final"] for b in bodies] == [False, False, True]


class RestartMachine(RuleBasedStateMachine):
    """Any sequence of actions, with power cuts in between, loses nothing that was committed."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        from resources import demo_assessment_path
        from sync.server.content import load_package

        self.dir = tempfile.TemporaryDirectory()
        self.clock = FakeClock()
        self.db = open_database(Path(self.dir.name) / "j.sqlite3")
        self.journal = Journal(self.db, now=self.clock.now)
        delivery = load_package(demo_assessment_path()).manifest.delivery_form()
        self.session = new_session(self.journal, self.clock, delivery)
        self.committed: dict[str, object] = {}

    def teardown(self) -> None:
        self.db.close()
        self.dir.cleanup()

    @precondition(lambda self: self.session.phase is Phase.ANSWERING)
    @rule(text=st.text(max_size=20))
    def answer(self, text: str) -> None:
        item = self.session.item
        value: object = text
        if item.type == "single_choice":
            value = item.options[0].id
        elif item.type == "multiple_choice":
            value = [item.options[0].id]
        self.session.set_answer(value)  # type: ignore[arg-type]
        self.committed[item.id] = value

    @precondition(lambda self: self.session.phase is Phase.ANSWERING)
    @rule(forward=st.booleans())
    def move(self, forward: bool) -> None:
        _ = self.session.go_next() if forward else self.session.go_previous()

    # No precondition: time-outs can finish the sitting, and then waiting is the only thing left to do.
    @rule(seconds=st.floats(min_value=0, max_value=120))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.session.tick()

    @precondition(lambda self: self.session.phase is Phase.ANSWERING and not self.session.is_last_section())
    @rule()
    def end_section(self) -> None:
        self.session.end_section()

    @precondition(lambda self: self.session.phase is Phase.ANSWERING)
    @rule()
    def power_cut(self) -> None:
        before = (self.session.section.id, self.session.item_index, self.session.remaining_seconds())
        self.session.checkpoint()  # what the last tick would have written
        self.session = reopen(self.journal, self.clock)
        after = (self.session.section.id, self.session.item_index, self.session.remaining_seconds())
        assert after[:2] == before[:2]
        assert abs(after[2] - before[2]) <= 1

    @invariant()
    def nothing_committed_is_lost(self) -> None:
        assert self.journal.answers(self.session.attempt_id) == self.committed


TestRestart = RestartMachine.TestCase
TestRestart.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
