"""Failed-login limits through the real app: per machine, per code prefix, and the address backstop that never
locks a school out (the limits in conftest: 10 per machine, 20 per prefix, 100 per address, 10 minutes)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sync.accesscode import normalize
from sync.crockford import ALPHABET
from sync.server.models import LoginFailure
from sync.server.store import Store
from tests.helpers.clock import FakeClock
from tests.helpers.server import Demo

LOGIN = "/api/v1/login"


def login(client: TestClient, code: str, machine: str | None) -> httpx.Response:
    body: dict[str, str] = {"access_code": code}
    if machine is not None:
        body["machine_id"] = machine
    return client.post(LOGIN, json=body)


def wrong_codes(demo: Demo, *, prefix: str | None = None) -> Iterator[str]:
    """Codes no student holds: each with its own prefix (none a demo code's), or all beginning with `prefix`."""
    taken = {normalize(code) for code in demo.codes}
    taken_prefixes = {code[:4] for code in taken}
    for n in count():
        digits = "".join(ALPHABET[(n >> (5 * place)) & 31] for place in reversed(range(4)))
        code = f"{prefix}{digits}".ljust(8, "Z") if prefix is not None else f"{digits}ZZZZ"
        if code not in taken and (prefix is not None or code[:4] not in taken_prefixes):
            yield code


def refused(reply: httpx.Response) -> tuple[int, str, int]:
    """(status, error, Retry-After) of a refusal that must say when to try again, in the header and the body."""
    body = reply.json()
    assert body["retry_after_seconds"] == int(reply.headers["Retry-After"]), body
    return reply.status_code, body["error"], int(reply.headers["Retry-After"])


def test_ten_failures_lock_the_machine_even_for_a_correct_code(
    client: TestClient, demo: Demo, clock: FakeClock
) -> None:
    guesses = wrong_codes(demo)
    for _ in range(10):
        assert login(client, next(guesses), "pc-7").status_code == 401
    reply = login(client, demo.codes[0], "pc-7")
    assert refused(reply) == (429, "locked_out", 600)
    message = reply.json()["message"]
    assert message.startswith("Too many wrong access codes were typed on this computer. Try again after ")
    assert "Mon 1 Mar 2027 09:10 UTC (in 10 minutes)" in message
    assert "ask your invigilator to sign you in on another computer" in message
    # Another machine behind the same school address is not affected.
    assert login(client, demo.codes[0], "pc-8").status_code == 200


def test_a_machine_lock_ends_when_its_oldest_failure_leaves_the_window(
    client: TestClient, demo: Demo, clock: FakeClock
) -> None:
    guesses = wrong_codes(demo)
    for _ in range(10):
        assert login(client, next(guesses), "pc-7").status_code == 401
        clock.advance(minutes=1)
    # Ten failures at 09:00 .. 09:09. A failure counts while younger than 10 minutes: locked until 09:10.
    clock.advance(seconds=-30)  # 09:09:30
    assert refused(login(client, demo.codes[1], "pc-7")) == (429, "locked_out", 30)
    clock.advance(seconds=30)
    assert login(client, demo.codes[1], "pc-7").status_code == 200


def test_unreadable_codes_count_towards_the_machine_limit(client: TestClient, demo: Demo) -> None:
    for _ in range(10):
        reply = login(client, "ABC", "pc-7")
        assert (reply.status_code, reply.json()["error"]) == (401, "malformed_code")
    assert refused(login(client, demo.codes[0], "pc-7"))[:2] == (429, "locked_out")


def test_a_school_behind_one_address_is_never_locked_out_by_a_guessing_script(
    client: TestClient, demo: Demo, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Student 2 typed a wrong code on pc-typo a minute before the script started.
    assert login(client, next(wrong_codes(demo, prefix="Q")), "pc-typo").status_code == 401
    clock.advance(minutes=1)
    # The script: 150 wrong codes, a fresh machine id and a fresh prefix each, all from the school's address.
    guesses = wrong_codes(demo)
    statuses = [login(client, next(guesses), f"script-{n}").status_code for n in range(150)]
    assert statuses[:99] == [401] * 99  # the backstop is 100 failures per address (one was the typo)
    assert set(statuses[99:]) == {429}
    # The operator hears of it once, not once per guess.
    crossings = [r.getMessage() for r in caplog.records if "Failed logins from" in r.getMessage()]
    assert crossings == ["Failed logins from testclient reached 100 within 0:10:00"]
    # A student at another machine of the school types their correct code: admitted.
    assert login(client, demo.codes[0], "pc-1").status_code == 200
    # The script stays refused: a fresh machine id with a new wrong code ...
    reply = login(client, next(guesses), "script-new")
    assert refused(reply) == (429, "locked_out", 600)  # the address is over its limit until the 09:01 ones expire
    assert reply.json()["message"].startswith(
        "This access code was not recognised, and so many wrong codes have come from your school's network that "
        "this computer must wait until Mon 1 Mar 2027 09:11 UTC (in 10 minutes) before trying another."
    )
    # ... and any machine id it has used, even with a correct code.
    reply = login(client, demo.codes[1], "script-3")
    assert refused(reply)[:2] == (429, "locked_out")
    assert reply.json()["message"].startswith("This computer typed a wrong access code recently")
    assert "sign you in on another computer" in reply.json()["message"]
    # The student who mistyped is refused on that machine while the school is over the backstop, until the
    # typo (09:00) leaves the window ...
    reply = login(client, demo.codes[1], "pc-typo")
    assert refused(reply) == (429, "locked_out", 60 * 9)
    # ... but signs in on a machine that has typed no wrong code.
    assert login(client, demo.codes[1], "pc-2").status_code == 200
    # When the window has passed, everything is as before.
    clock.advance(minutes=10)
    assert login(client, demo.codes[2], "pc-typo").status_code == 200
    assert login(client, next(guesses), "script-new").status_code == 401


def test_a_room_of_mistyping_students_stays_under_the_backstop(client: TestClient, demo: Demo) -> None:
    # 30 machines, 3 typos each: 90 failures from one address, under its backstop of 100.
    guesses = wrong_codes(demo)
    for pc in range(30):
        for _ in range(3):
            assert login(client, next(guesses), f"pc-{pc}").status_code == 401
    # The typists' own correct codes still work on their machines.
    assert login(client, demo.codes[0], "pc-0").status_code == 200


def test_too_many_wrong_codes_with_one_prefix_pause_that_prefix_only(
    client: TestClient, demo: Demo, clock: FakeClock
) -> None:
    target = normalize(demo.codes[0])
    other = next(code for code in demo.codes if normalize(code)[:4] != target[:4])
    # 20 wrong codes beginning like student 1's, each from a fresh machine.
    guesses = wrong_codes(demo, prefix=target[:4])
    for n in range(20):
        assert login(client, next(guesses), f"guesser-{n}").status_code == 401
    # Student 1's own code from a fresh machine: paused, with the time and what to do.
    reply = login(client, demo.codes[0], "pc-1")
    assert refused(reply) == (429, "locked_out", 600)
    assert reply.json()["message"] == (
        f"Too many wrong access codes beginning {target[:4]} were typed, so codes beginning {target[:4]} are "
        "refused until Mon 1 Mar 2027 09:10 UTC (in 10 minutes). Check the code on your slip and try again then; "
        "if this code is yours, tell your invigilator."
    )
    # The guesser's next try is refused the same way, whether or not the code exists: it learns nothing.
    guess = login(client, next(guesses), "guesser-new")
    assert (guess.status_code, guess.json()) == (reply.status_code, reply.json())
    # Students whose codes begin otherwise are not affected.
    assert login(client, other, "pc-2").status_code == 200
    clock.advance(minutes=10)
    assert login(client, demo.codes[0], "pc-1").status_code == 200


def test_a_student_resumes_on_the_machine_holding_the_attempt_while_the_prefix_is_paused(
    client: TestClient, demo: Demo
) -> None:
    target = normalize(demo.codes[0])
    first = login(client, demo.codes[0], "pc-1")
    assert first.status_code == 200
    guesses = wrong_codes(demo, prefix=target[:4])
    for n in range(20):
        assert login(client, next(guesses), f"guesser-{n}").status_code == 401
    again = login(client, demo.codes[0], "pc-1")
    assert again.status_code == 200, again.text
    assert again.json()["attempt_id"] == first.json()["attempt_id"]
    # Another machine presenting that code is refused as any guess is (not told that the code is in use).
    assert refused(login(client, demo.codes[0], "pc-9"))[:2] == (429, "locked_out")


def test_refusals_by_a_lock_do_not_prolong_it(client: TestClient, demo: Demo, clock: FakeClock) -> None:
    guesses = wrong_codes(demo)
    for _ in range(10):
        login(client, next(guesses), "pc-7")
    clock.advance(minutes=5)
    for _ in range(20):
        assert login(client, next(guesses), "pc-7").status_code == 429
    clock.advance(minutes=5)
    assert login(client, demo.codes[0], "pc-7").status_code == 200


def test_the_failure_table_holds_no_part_of_any_code(client: TestClient, demo: Demo, store: Store) -> None:
    typo = normalize(demo.codes[0])[:7] + ("0" if normalize(demo.codes[0])[7] != "0" else "1")
    assert login(client, typo, "pc-1").status_code == 401
    with store.transaction() as session:
        rows = session.execute(select(LoginFailure.scope, LoginFailure.key)).all()
    assert sorted(scope for scope, _ in rows) == ["address", "machine", "prefix"]
    for _, key in rows:
        assert typo[:4] not in key.upper()


@pytest.mark.parametrize("machine", [None, ""])
def test_clients_without_a_machine_id_count_by_their_address(
    client: TestClient, demo: Demo, machine: str | None
) -> None:
    guesses = wrong_codes(demo)
    for _ in range(10):
        assert login(client, next(guesses), machine).status_code == 401
    assert refused(login(client, demo.codes[0], machine))[:2] == (429, "locked_out")
    assert login(client, demo.codes[0], "pc-1").status_code == 200


def test_failures_that_left_the_window_are_trimmed_by_the_next_one(
    client: TestClient, demo: Demo, store: Store, clock: FakeClock
) -> None:
    guesses = wrong_codes(demo)
    for n in range(5):
        assert login(client, next(guesses), f"script-{n}").status_code == 401
    clock.advance(minutes=10)
    assert login(client, next(guesses), "pc-1").status_code == 401
    with store.transaction() as session:
        rows = session.execute(select(LoginFailure.key, LoginFailure.at)).all()
    assert sorted(key for key, _ in rows if key.startswith("id:")) == ["id:pc-1"]
    assert {at for _, at in rows} == {clock()}


def test_the_trim_reads_an_index_and_its_migration_goes_both_ways(db_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    from alembic import command

    from sync.server.store import alembic_config

    def plan() -> str:
        # A connection of its own each time: a pooled one may answer with the plan it prepared before a migration.
        with closing(sqlite3.connect(db_path)) as conn:
            rows = conn.execute("EXPLAIN QUERY PLAN DELETE FROM login_failures WHERE at <= '2027-03-01'").fetchall()
        return " ".join(str(row[-1]) for row in rows)

    url = f"sqlite:///{db_path}"
    assert plan().startswith("SEARCH login_failures USING INDEX ix_login_failures_at")
    command.downgrade(alembic_config(url), "0003")
    assert plan().startswith("SCAN login_failures")  # every row read, on every failed login
    Store.open(url, migrate=True).close()
    assert plan().startswith("SEARCH login_failures USING INDEX ix_login_failures_at")
