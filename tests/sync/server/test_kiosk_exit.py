"""Kiosk mode's exit on the real server, through the calls the console and the player make: a one-time code per
machine and school that expires, wrong codes refused and limited, and staff signed in on the machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from player.kiosk.exit_calls import exit_as_staff, exit_with_code, request_exit_code
from sync.client import ClientError, InvigilClient, Refused, ServerBusy, client_for
from sync.server import accounts
from sync.server.kiosk_exit import EXIT_TRIES
from sync.server.models import AuditEntry, KioskExitCode
from sync.server.store import Store
from tests.helpers.clock import START, FakeClock
from tests.helpers.live_server import LiveServer
from tests.helpers.server import Demo, new_staff

MACHINE = "room1-pc07"


@pytest.fixture
def console(live_server: LiveServer) -> Iterator[InvigilClient]:
    with client_for(live_server.url, machine_id="console", timeout=5.0, ca_bundle=None) as client:
        yield client


@pytest.fixture
def machine(live_server: LiveServer, demo: Demo) -> Iterator[InvigilClient]:
    """The kiosk machine, with a student of the demo sitting signed in on it."""
    with client_for(live_server.url, machine_id=MACHINE, timeout=5.0, ca_bundle=None) as client:
        client.login(demo.codes[0])
        yield client


@pytest.fixture
def token(console: InvigilClient, demo: Demo) -> str:
    return console.staff_login(demo.data["staff"]["username"], demo.data["staff"]["password"]).token


def refusal(call: object) -> ClientError:
    assert callable(call)
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def test_a_code_from_the_console_lets_that_machine_exit_once(
    console: InvigilClient, machine: InvigilClient, token: str, demo: Demo, store: Store
) -> None:
    issued = request_exit_code(console, token, MACHINE)
    assert issued.machine_id == MACHINE
    assert issued.expires_at == START.replace(minute=15)
    digits = issued.code.replace(" ", "")
    assert len(digits) == 8
    assert digits.isdigit()

    allowed = exit_with_code(machine, MACHINE, issued.code)
    assert (allowed.by, allowed.staff) == ("exit_code", demo.data["staff"]["username"])

    again = refusal(lambda: exit_with_code(machine, MACHINE, digits))
    assert isinstance(again, Refused)
    assert again.error == "exit_code_used"
    assert "used already" in str(again)
    with store.transaction() as session:
        stored = session.scalars(select(KioskExitCode.code_hash)).all()
        log = session.scalars(select(AuditEntry).where(AuditEntry.action.like("kiosk_exit%"))).all()
    assert digits not in "".join(stored)  # only a keyed hash is kept
    assert [(e.action, e.actor, e.sitting_id) for e in log] == [
        ("kiosk_exit_code", demo.data["staff"]["username"], demo.sitting_id),
        ("kiosk_exit", "player", demo.sitting_id),
    ]
    assert all(digits not in str(e.detail) for e in log)


def test_the_code_of_one_machine_does_not_let_another_exit(
    console: InvigilClient, machine: InvigilClient, token: str, live_server: LiveServer
) -> None:
    issued = request_exit_code(console, token, MACHINE)
    with client_for(live_server.url, machine_id="room1-pc08", timeout=5.0, ca_bundle=None) as other:
        wrong = refusal(lambda: exit_with_code(other, "room1-pc08", issued.code))
    assert isinstance(wrong, Refused)
    assert (wrong.status, wrong.error) == (403, "wrong_exit_code")
    assert exit_with_code(machine, MACHINE, issued.code).by == "exit_code"  # still good on its own machine


def test_an_expired_code_is_refused_and_says_to_ask_again(
    console: InvigilClient, machine: InvigilClient, token: str, clock: FakeClock
) -> None:
    issued = request_exit_code(console, token, MACHINE)
    clock.advance(minutes=15)
    expired = refusal(lambda: exit_with_code(machine, MACHINE, issued.code))
    assert isinstance(expired, Refused)
    assert (expired.status, expired.error) == (410, "exit_code_expired")
    assert "Ask for a new one" in str(expired)


def test_a_newer_code_replaces_the_older(console: InvigilClient, machine: InvigilClient, token: str) -> None:
    first = request_exit_code(console, token, MACHINE)
    second = request_exit_code(console, token, MACHINE)
    if first.code != second.code:  # one chance in 10^8 that they are the same
        older = refusal(lambda: exit_with_code(machine, MACHINE, first.code))
        assert isinstance(older, Refused)
        assert older.error == "exit_code_replaced"
    assert exit_with_code(machine, MACHINE, second.code).by == "exit_code"


def test_wrong_codes_are_refused_then_limited_like_failed_logins(
    console: InvigilClient, machine: InvigilClient, token: str, clock: FakeClock
) -> None:
    issued = request_exit_code(console, token, MACHINE)
    digits = issued.code.replace(" ", "")
    wrong_code = f"{(int(digits) + 1) % 10**8:08d}"
    for typed in [wrong_code, "abcd efgh", *[wrong_code] * (EXIT_TRIES - 2)]:
        wrong = refusal(lambda typed=typed: exit_with_code(machine, MACHINE, typed))
        assert isinstance(wrong, Refused)
        assert wrong.error == "wrong_exit_code"
        assert "not right for this computer" in str(wrong)

    limited = refusal(lambda: exit_with_code(machine, MACHINE, issued.code))  # even the right one, for now
    assert isinstance(limited, ServerBusy)
    assert (limited.status, limited.error) == (429, "too_many_exit_codes")
    assert "Wait 10 minutes" in str(limited)
    assert limited.retry_after == 600

    clock.advance(minutes=10)
    assert exit_with_code(machine, MACHINE, issued.code).by == "exit_code"


def test_another_schools_staff_cannot_make_a_code_for_this_schools_machine(
    console: InvigilClient, machine: InvigilClient, token: str, store: Store
) -> None:
    with store.transaction() as session:
        school = accounts.create_school(session, name="Other School")
        accounts.add_staff(session, school_id=school.id, username="b-inv", password="b-password", role="invigilator")
    other = console.staff_login("b-inv", "b-password").token

    refused = refusal(lambda: request_exit_code(console, other, MACHINE))
    assert isinstance(refused, Refused)
    assert (refused.status, refused.error) == (404, "unknown_machine")
    unknown = refusal(lambda: request_exit_code(console, token, "no-such-pc"))
    assert str(unknown) == str(refused).replace(MACHINE, "no-such-pc")  # the same answer: nothing leaks
    signed_in_there = refusal(lambda: exit_as_staff(machine, "b-inv", "b-password", MACHINE))
    assert isinstance(signed_in_there, Refused)
    assert signed_in_there.status == 404


def test_staff_signed_in_on_the_machine_let_it_exit_and_a_teacher_may_not(
    machine: InvigilClient, demo: Demo, store: Store
) -> None:
    allowed = exit_as_staff(machine, demo.data["staff"]["username"], demo.data["staff"]["password"], MACHINE)
    assert (allowed.by, allowed.staff) == ("staff_sign_in", demo.data["staff"]["username"])

    teacher, password = new_staff(store, school_id=demo.school_id, role="teacher")
    refused = refusal(lambda: exit_as_staff(machine, teacher, password, MACHINE))
    assert isinstance(refused, Refused)
    assert refused.status == 403
    assert "invigilator or admin" in str(refused)
    wrong = refusal(lambda: exit_as_staff(machine, demo.data["staff"]["username"], "not-the-password", MACHINE))
    assert isinstance(wrong, Refused)
    assert wrong.status == 401
    with store.transaction() as session:
        exits = session.scalars(select(AuditEntry).where(AuditEntry.action == "kiosk_exit")).all()
    assert [(e.actor, e.detail["by"]) for e in exits] == [(demo.data["staff"]["username"], "staff_sign_in")]


def test_a_teacher_cannot_make_an_exit_code(
    console: InvigilClient, machine: InvigilClient, demo: Demo, store: Store
) -> None:
    teacher, password = new_staff(store, school_id=demo.school_id, role="teacher")
    token = console.staff_login(teacher, password).token
    refused = refusal(lambda: request_exit_code(console, token, MACHINE))
    assert isinstance(refused, Refused)
    assert (refused.status, refused.error) == (403, "forbidden")
