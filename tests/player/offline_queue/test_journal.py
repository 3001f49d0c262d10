"""The answer journal: what was saved survives another connection, a killed process and a failed step."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal, JournalError
from sync.protocol import (
    Accommodations,
    AnswerValue,
    Checkpoint,
    ChoiceOption,
    DeliveryAssessment,
    DeliveryItem,
    DeliverySection,
    LoginResponse,
)
from tests.helpers.clock import FakeClock

SERVER = "https://invigil.example.org"
REPO_ROOT = Path(__file__).resolve().parents[3]


def make_login(
    attempt_id: str = "att-1", *, token: str = "token-1", checkpoint: Checkpoint | None = None
) -> LoginResponse:
    items = [
        DeliveryItem(
            id=f"q{n}",
            type="single_choice",
            prompt=f"Question {n}",
            options=[ChoiceOption(id="a", text="A"), ChoiceOption(id="b", text="B")],
        )
        for n in range(1, 4)
    ]
    return LoginResponse(
        attempt_id=attempt_id,
        attempt_token=token,
        student="Ada Lovelace",
        sitting_name="Year 9 French",
        window_end=datetime(2030, 6, 3, 12, 0, tzinfo=UTC),
        accommodations=Accommodations(),
        assessment=DeliveryAssessment(
            id="fr9",
            version="1",
            content_hash="0" * 64,
            title="French",
            sections=[
                DeliverySection(id="s1", title="Listening", time_limit_seconds=600, items=items),
                DeliverySection(id="s2", title="Reading", time_limit_seconds=900, items=items),
            ],
        ),
        result_secret="c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=",
        checkpoint=checkpoint,
    )


def envelope(key: str = "11111111-2222-3333-4444-555555555555", **extra: object) -> dict[str, object]:
    return {
        "idempotency_key": key,
        "attempt_id": "att-1",
        "section_ids": ["s1"],
        "answers": [{"item_id": "q1", "value": "a", "answered_at": "2030-06-03T09:01:00+00:00"}],
        "finished_at": "2030-06-03T09:10:00+00:00",
        "final": False,
        **extra,
    }


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2030, 6, 3, 9, 0, tzinfo=UTC))


@pytest.fixture
def journal(db_path: Path, clock: FakeClock) -> Iterator[Journal]:
    db = open_database(db_path)
    yield Journal(db, now=clock)
    db.close()


@pytest.fixture
def reopen(db_path: Path) -> Iterator[Callable[[], Journal]]:
    """Opens a second connection, as a restarted player would."""
    opened: list[sqlite_utils.Database] = []

    def open_again() -> Journal:
        opened.append(open_database(db_path))
        return Journal(opened[-1])

    yield open_again
    for db in opened:
        db.close()


def plain_query(db_path: Path, sql: str) -> list[dict[str, object]]:
    with closing(sqlite3.connect(db_path)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql)]


def test_a_started_attempt_is_the_one_to_resume(journal: Journal, reopen: Callable[[], Journal]) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)

    resumed = reopen().open_attempt_on_this_machine()

    assert resumed is not None
    assert resumed.attempt_id == "att-1"
    assert resumed.login == make_login()
    assert resumed.attempt_token == "token-1"
    assert resumed.state == "open"
    assert "token-1" not in repr(resumed)
    assert make_login().result_secret not in repr(resumed)


def test_no_attempt_to_resume_on_a_fresh_machine(journal: Journal) -> None:
    assert journal.open_attempt_on_this_machine() is None


def test_a_saved_answer_is_visible_from_a_second_connection(journal: Journal, reopen: Callable[[], Journal]) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)
    other = reopen()

    saved = journal.save_answer("att-1", "q1", "b")

    assert other.answers("att-1") == {"q1": "b"}
    assert saved.value == "b"
    assert saved.answered_at == datetime(2030, 6, 3, 9, 0, tzinfo=UTC)


def test_a_changed_answer_replaces_the_old_one_and_orders_after_it(journal: Journal, clock: FakeClock) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)
    journal.save_answer("att-1", "q1", "a")
    clock.advance(5)
    journal.save_answer("att-1", "q2", ["a", "b"])
    clock.advance(5)
    last = journal.save_answer("att-1", "q1", "b")

    assert journal.answers("att-1") == {"q1": "b", "q2": ["a", "b"]}
    assert [(s.item_id, s.seq) for s in journal.saved_answers("att-1")] == [("q2", 2), ("q1", 3)]
    assert last.answered_at == datetime(2030, 6, 3, 9, 0, 10, tzinfo=UTC)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(value=st.one_of(st.text(), st.lists(st.text(max_size=10), max_size=5)))
def test_any_answer_value_comes_back_unchanged(journal: Journal, value: AnswerValue) -> None:
    if journal.open_attempt_on_this_machine() is None:
        journal.start_attempt(make_login(), server_url=SERVER)

    journal.save_answer("att-1", "q1", value)

    assert journal.answers("att-1") == {"q1": value}


def test_a_value_that_is_not_an_answer_is_refused_and_not_stored(journal: Journal) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)

    with pytest.raises(JournalError, match="answer to item q1 must be text or a list of option ids, not int 3"):
        journal.save_answer("att-1", "q1", 3)  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="not list"):
        journal.save_answer("att-1", "q1", ["a", None])  # type: ignore[list-item]

    assert journal.answers("att-1") == {}


def test_answers_to_an_unknown_attempt_are_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="attempt ghost is not in this computer's journal"):
        journal.save_answer("ghost", "q1", "a")


def test_a_moved_attempt_refuses_answers_and_checkpoints_and_says_why(journal: Journal) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)
    journal.save_answer("att-1", "q1", "a")
    journal.mark_moved("att-1")

    for write in (
        lambda: journal.save_answer("att-1", "q1", "b"),
        lambda: journal.checkpoint("att-1", "s1", "q2", 10),
    ):
        with pytest.raises(JournalError, match="attempt att-1 was moved to another computer"):
            write()
    assert journal.answers("att-1") == {"q1": "a"}
    assert journal.attempt("att-1").current_item_id != "q2"


def test_each_attempt_numbers_its_own_changes(journal: Journal) -> None:
    """The order of changes (seq) is per attempt: another student's answers on this machine do not skip it."""
    journal.start_attempt(make_login("att-1"), server_url=SERVER)
    journal.start_attempt(make_login("att-2", token="token-2"), server_url=SERVER)
    seqs = [
        journal.save_answer(attempt, item, "a").seq
        for attempt, item in (("att-1", "q1"), ("att-2", "q1"), ("att-1", "q2"), ("att-1", "q1"), ("att-2", "q2"))
    ]

    assert seqs == [1, 1, 2, 3, 2]
    assert [s.seq for s in journal.saved_answers("att-1")] == [2, 3]


def test_plays_are_counted_when_settled_and_survive_a_restart(journal: Journal, reopen: Callable[[], Journal]) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)
    plays = journal.play_record()

    for item, end in (("q1", "heard"), ("q1", "left"), ("q2", "heard"), ("q2", "paused"), ("q3", "audio_device")):
        plays.settle(plays.begin("att-1", item), end)  # type: ignore[arg-type]
    playing = plays.begin("att-1", "q3")
    assert reopen().plays("att-1") == {"q1": 2, "q2": 1}  # the play still going is not counted yet

    plays.settle(playing, "heard")
    plays.settle(playing, "paused")  # a play is settled once: the second end changes nothing
    assert reopen().plays("att-1") == {"q1": 2, "q2": 1, "q3": 1}
    assert [(p.item_id, p.reason) for p in reopen().play_record().given_back("att-1")] == [
        ("q2", "paused"),
        ("q3", "audio_device"),
    ]


def test_flags_can_be_set_and_cleared(journal: Journal) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)

    journal.set_flag("att-1", "q1", True)
    journal.set_flag("att-1", "q1", True)
    journal.set_flag("att-1", "q3", True)
    journal.set_flag("att-1", "q3", False)

    assert journal.flags("att-1") == {"q1"}


def test_a_checkpoint_is_where_a_restart_resumes(
    journal: Journal, reopen: Callable[[], Journal], clock: FakeClock
) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)
    clock.advance(30)

    journal.checkpoint("att-1", "s1", "q2", 570)

    resumed = reopen().open_attempt_on_this_machine()
    assert resumed is not None
    assert (resumed.current_section_id, resumed.current_item_id, resumed.remaining_seconds) == ("s1", "q2", 570)
    assert resumed.checkpoint_at == datetime(2030, 6, 3, 9, 0, 30, tzinfo=UTC)
    with pytest.raises(JournalError, match="must not be negative"):
        journal.checkpoint("att-1", "s1", "q2", -1)


def test_a_server_checkpoint_seeds_a_new_attempt(journal: Journal) -> None:
    server_checkpoint = Checkpoint(
        section_id="s2",
        item_id="q3",
        remaining_seconds=120,
        taken_at=datetime(2030, 6, 3, 9, 30, tzinfo=UTC),
        plays={"q1": 2},
    )

    stored = journal.start_attempt(make_login(checkpoint=server_checkpoint), server_url=SERVER)

    assert (stored.current_section_id, stored.current_item_id, stored.remaining_seconds) == ("s2", "q3", 120)
    assert journal.plays("att-1") == {"q1": 2}


def test_logging_in_again_keeps_the_progress_made_here(journal: Journal) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)
    journal.save_answer("att-1", "q1", "a")
    journal.checkpoint("att-1", "s1", "q2", 500)

    again = journal.start_attempt(make_login(token="token-2"), server_url=SERVER)

    assert again.attempt_token == "token-2"
    assert again.remaining_seconds == 500
    assert journal.answers("att-1") == {"q1": "a"}


def outbox_rows(db_path: Path) -> list[dict[str, object]]:
    return plain_query(db_path, "SELECT * FROM outbox")


def test_finishing_a_section_queues_its_envelope(journal: Journal, db_path: Path) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)

    journal.finish_section("att-1", "s1", envelope=envelope())

    stored = journal.attempt("att-1")
    assert stored.finished_sections == ("s1",)
    assert stored.state == "open"
    [row] = outbox_rows(db_path)
    assert row["idempotency_key"] == "11111111-2222-3333-4444-555555555555"
    assert (row["kind"], row["state"], row["attempts"]) == ("result", "pending", 0)
    assert json.loads(str(row["body"])) == envelope()


def test_a_section_end_and_its_envelope_are_written_together_or_not_at_all(
    journal: Journal, db_path: Path, reopen: Callable[[], Journal]
) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)

    # A set cannot be JSON-encoded: the step after the section end fails.
    with pytest.raises(JournalError, match="the result envelope of attempt att-1 is not JSON"):
        journal.finish_section("att-1", "s1", envelope=envelope(answers={"not", "json"}), ends_attempt=True)

    assert reopen().attempt("att-1").finished_sections == ()
    assert reopen().attempt("att-1").state == "open"
    assert outbox_rows(db_path) == []


def test_an_envelope_key_already_in_the_outbox_rolls_the_section_end_back(
    journal: Journal, db_path: Path, reopen: Callable[[], Journal]
) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)
    journal.finish_section("att-1", "s1", envelope=envelope())

    with pytest.raises(JournalError, match="already holds an envelope with idempotency key 11111111-"):
        journal.finish_section("att-1", "s2", envelope=envelope(section_ids=["s2"]))

    assert reopen().attempt("att-1").finished_sections == ("s1",)
    assert len(outbox_rows(db_path)) == 1


def test_an_envelope_without_a_key_or_for_another_attempt_is_refused(journal: Journal, db_path: Path) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)

    with pytest.raises(JournalError, match="has no idempotency_key"):
        journal.finish_section("att-1", "s1", envelope={"attempt_id": "att-1"})
    with pytest.raises(JournalError, match="names attempt att-9, not att-1"):
        journal.finish_section("att-1", "s1", envelope=envelope(attempt_id="att-9"))

    assert journal.attempt("att-1").finished_sections == ()


def test_the_last_section_can_end_the_attempt_in_the_same_transaction(
    journal: Journal, reopen: Callable[[], Journal]
) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)
    journal.finish_section("att-1", "s1", envelope=None)
    with pytest.raises(JournalError, match="section s1 of attempt att-1 is already finished"):
        journal.finish_section("att-1", "s1", envelope=None)

    journal.finish_section("att-1", "s2", envelope=envelope(final=True), ends_attempt=True)

    assert reopen().open_attempt_on_this_machine() is None
    assert journal.attempt("att-1").finished_sections == ("s1", "s2")


def test_a_finished_attempt_can_change_no_more(journal: Journal) -> None:
    journal.start_attempt(make_login(), server_url=SERVER)
    journal.save_answer("att-1", "q1", "a")

    journal.finish_attempt("att-1")

    for write in (
        lambda: journal.save_answer("att-1", "q1", "b"),
        lambda: journal.play_record().begin("att-1", "q1"),
        lambda: journal.set_flag("att-1", "q1", True),
        lambda: journal.checkpoint("att-1", "s1", "q1", 10),
    ):
        with pytest.raises(JournalError, match="attempt att-1 is finished"):
            write()
    with pytest.raises(JournalError, match="already finished on this computer"):
        journal.start_attempt(make_login(), server_url=SERVER)
    assert journal.answers("att-1") == {"q1": "a"}
    assert journal.attempt("att-1").finished_at is not None


def test_a_write_waits_for_another_connection_instead_of_failing(journal: Journal, db_path: Path) -> None:
    """The uploader writes the outbox from its own connection while the student keeps answering."""
    journal.start_attempt(make_login(), server_url=SERVER)
    other_writer = sqlite3.connect(db_path, isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")
    other_writer.execute("UPDATE outbox SET attempts = attempts + 1")
    writing = threading.Event()
    outcome: list[object] = []

    def answer_meanwhile() -> None:
        db = open_database(db_path)  # a connection belongs to the thread that opened it
        # SQLite calls this as each statement starts; the lock is needed at BEGIN IMMEDIATE or the first write.
        takes_lock = ("BEGIN IMMEDIATE", "UPDATE", "INSERT")
        db.conn.set_trace_callback(lambda sql: writing.set() if sql.lstrip().startswith(takes_lock) else None)
        try:
            outcome.append(Journal(db).save_answer("att-1", "q1", "a"))
        except Exception as exc:
            outcome.append(exc)
        finally:
            writing.set()
            db.close()

    thread = threading.Thread(target=answer_meanwhile)
    thread.start()
    assert writing.wait(timeout=30)
    other_writer.execute("COMMIT")
    other_writer.close()
    thread.join(timeout=30)

    assert [type(result).__name__ for result in outcome] == ["SavedAnswer"], outcome
    assert journal.answers("att-1") == {"q1": "a"}


# ---- the no-loss property: a player killed at any moment loses nothing it reported as saved -----------

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from player.offline_queue.db import open_database
    from player.offline_queue.journal import Journal

    journal = Journal(open_database(Path(sys.argv[1])))
    attempt = sys.argv[2]
    for i in range(100_000):
        item = f"q{i % 7}"
        journal.save_answer(attempt, item, f"v{i}" if i % 2 else [f"v{i}", "x"])
        print(f"answer {item} {i}", flush=True)
        if i % 3 == 0:
            plays = journal.play_record()
            plays.settle(plays.begin(attempt, f"q{i % 5}"), "heard")
            print(f"play q{i % 5} {journal.plays(attempt)[f'q{i % 5}']}", flush=True)
        journal.checkpoint(attempt, "s1", item, 100_000 - i)
        print(f"checkpoint {i}", flush=True)
    """
)


def index_of(value: AnswerValue) -> int:
    text = value if isinstance(value, str) else value[0]
    return int(text.removeprefix("v"))


def run_and_kill(db_path: Path, attempt_id: str, *, lines_before_kill: int) -> list[str]:
    """Start a player that saves answers, SIGKILL it mid-stream, and return every line it reported."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db_path), attempt_id],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    reported: list[str] = []
    try:
        while len(reported) < lines_before_kill:
            line = child.stdout.readline()
            assert line, f"the child player stopped early (exit code {child.poll()})"
            reported.append(line)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        # Lines already in the pipe were printed after their commit, so they count as reported too.
        reported.extend(line for line in child.stdout.readlines() if line.endswith("\n"))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return [line.rstrip("\n") for line in reported]


def test_nothing_reported_saved_is_lost_when_the_player_is_killed(db_path: Path, reopen: Callable[[], Journal]) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    setup = reopen()

    for kill in range(20):
        attempt_id = f"att-{kill}"
        setup.start_attempt(make_login(attempt_id), server_url=SERVER)
        reported = run_and_kill(db_path, attempt_id, lines_before_kill=rng.choice([1, 2, 5, rng.randint(1, 150)]))

        after = reopen()
        context = f"(seed {seed}, kill {kill}, {len(reported)} lines reported)"
        answers, plays = after.answers(attempt_id), after.plays(attempt_id)
        for line in reported:
            kind, *rest = line.split()
            if kind == "answer":
                item, i = rest[0], int(rest[1])
                assert item in answers, f"answer {i} to {item} was lost {context}"
                assert index_of(answers[item]) >= i, f"answer {i} to {item} was rolled back {context}"
                assert index_of(answers[item]) % 7 == int(item[1:]), f"{item} holds another item's answer {context}"
            elif kind == "play":
                assert plays.get(rest[0], 0) >= int(rest[1]), f"a play of {rest[0]} was lost {context}"
            else:
                resumed = after.open_attempt_on_this_machine()
                assert resumed is not None
                assert resumed.attempt_id == attempt_id
                assert resumed.remaining_seconds is not None
                assert resumed.remaining_seconds <= 100_000 - int(rest[0]), f"checkpoint {rest[0]} lost {context}"
                assert resumed.current_item_id == f"q{(100_000 - resumed.remaining_seconds) % 7}", context
        assert plain_query(db_path, "PRAGMA integrity_check") == [{"integrity_check": "ok"}], context
