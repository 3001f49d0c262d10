"""Sittings through the staff API: credits taken and refused, editing until a login, closing and its refunds."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient

from sync.server import accounts
from sync.server.audit import Actor
from sync.server.store import Store
from tests.helpers.clock import START, FakeClock
from tests.helpers.server import API, Demo, player_login

PACKAGE = "demo-literacy"


def credits(client: TestClient, headers: dict[str, str]) -> int:
    rows = client.get(f"{API}/staff/credits", headers=headers).json()
    return int(next((r["balance"] for r in rows if r["package_id"] == PACKAGE), 0))


def sitting_count(client: TestClient, headers: dict[str, str]) -> int:
    return len(client.get(f"{API}/staff/sittings", headers=headers).json())


def new_students(client: TestClient, headers: dict[str, str], count: int) -> list[str]:
    ids = []
    for n in range(count):
        body = {"unique_id": f"S-{n}", "first_name": f"First{n}", "last_name": "Student"}
        reply = client.post(f"{API}/staff/students", json=body, headers=headers)
        assert reply.status_code == 201, reply.text
        ids.append(reply.json()["id"])
    return ids


def sitting_body(demo: Demo, student_ids: list[str], **over: Any) -> dict[str, Any]:
    return {
        "assessment": PACKAGE,
        "name": "Year 7 spelling",
        "window_start": (START + timedelta(hours=1)).isoformat(),
        "window_end": (START + timedelta(hours=3)).isoformat(),
        "student_ids": student_ids,
        **over,
    }


def set_credits(store: Store, demo: Demo, *, balance: int, expires_on: date | None) -> None:
    with store.transaction() as session:
        credit = accounts.credits_for(session, demo.school_id, PACKAGE)
        assert credit is not None
        credit.balance = balance
        credit.expires_on = expires_on
        accounts.grant_credits(session, Actor.cli(demo.school_id), package_id=PACKAGE, amount=0, expires_on=None)


def test_creating_a_sitting_takes_one_credit_per_student_and_issues_one_code_each(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    before = credits(client, admin)
    students = new_students(client, admin, 3)
    reply = client.post(f"{API}/staff/sittings", json=sitting_body(demo, students), headers=admin)
    assert reply.status_code == 201, reply.text
    created = reply.json()
    assert credits(client, admin) == before - 3
    assert sorted(c["student_id"] for c in created["codes"]) == sorted(students)
    assert len({c["code"] for c in created["codes"]}) == 3
    slips = client.get(f"{API}/staff/sittings/{created['sitting']['id']}/codes", headers=admin).json()
    assert sorted(s["code"] for s in slips) == sorted(c["code"] for c in created["codes"])


def refused_and_nothing_changed(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], *, error: str, says: str
) -> None:
    balance, count = credits(client, admin), sitting_count(client, admin)
    reply = client.post(f"{API}/staff/sittings", json=body, headers=admin)
    assert reply.status_code == 409, reply.text
    assert reply.json()["error"] == error
    assert says in reply.json()["message"]
    assert (credits(client, admin), sitting_count(client, admin)) == (balance, count)


def test_no_credits_is_refused_and_nothing_changes(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    students = new_students(client, admin, 2)
    set_credits(store, demo, balance=0, expires_on=None)
    refused_and_nothing_changed(client, admin, sitting_body(demo, students), error="no_credits", says="0 credits left")


def test_too_few_credits_is_refused_saying_how_many_and_nothing_changes(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    students = new_students(client, admin, 3)
    set_credits(store, demo, balance=2, expires_on=None)
    refused_and_nothing_changed(
        client, admin, sitting_body(demo, students), error="insufficient_credits", says="2 credits left"
    )
    assert "3 needed" in client.post(f"{API}/staff/sittings", json=sitting_body(demo, students), headers=admin).text


def test_an_expired_service_is_refused_saying_when_and_nothing_changes(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    students = new_students(client, admin, 1)
    set_credits(store, demo, balance=50, expires_on=date(2027, 2, 28))
    refused_and_nothing_changed(client, admin, sitting_body(demo, students), error="service_expired", says="expired")


def test_a_school_that_never_bought_the_assessment_is_refused(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    students = new_students(client, admin, 1)
    with store.transaction() as session:
        credit = accounts.credits_for(session, demo.school_id, PACKAGE)
        session.delete(credit)
    refused_and_nothing_changed(client, admin, sitting_body(demo, students), error="no_credits", says="no credits")


def test_a_sitting_is_editable_until_a_student_logs_in(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    students = new_students(client, admin, 2)
    created = client.post(f"{API}/staff/sittings", json=sitting_body(demo, students[:1]), headers=admin).json()
    url = f"{API}/staff/sittings/{created['sitting']['id']}"
    balance = credits(client, admin)
    edited = client.patch(url, json={"name": "Renamed", "add_student_ids": [students[1]]}, headers=admin)
    assert edited.status_code == 200, edited.text
    assert edited.json()["sitting"]["name"] == "Renamed"
    assert credits(client, admin) == balance - 1
    removed = client.patch(url, json={"remove_student_ids": [students[0]]}, headers=admin)
    assert [a["student_id"] for a in removed.json()["sitting"]["allocations"]] == [students[1]]
    assert credits(client, admin) == balance  # the removed student's credit came back

    late = client.patch(
        f"{API}/staff/sittings/{demo.sitting_id}", json={"name": "x"}, headers=admin
    )  # the demo sitting is still editable: nobody has logged in
    assert late.status_code == 200
    player_login(client, demo.codes[0])
    refused = client.patch(f"{API}/staff/sittings/{demo.sitting_id}", json={"name": "y"}, headers=admin)
    assert refused.status_code == 409
    assert refused.json()["error"] == "sitting_locked"
    assert "1 student has already logged in" in refused.json()["message"]
    assert client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=admin).json()["editable"] is False


def test_a_window_that_ends_before_it_starts_is_refused(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    body = sitting_body(demo, [demo.data["students"][0]["id"]], window_end=START.isoformat())
    reply = client.post(f"{API}/staff/sittings", json=body, headers=admin)
    assert reply.status_code == 422
    assert reply.json()["error"] == "bad_window"


def states(client: TestClient, admin: dict[str, str], demo: Demo) -> dict[str, dict[str, Any]]:
    sitting = client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=admin).json()
    return {a["student_name"]: a for a in sitting["allocations"]}


def test_closing_refunds_the_never_started_and_gives_part_way_students_30_days(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    player_login(client, demo.codes[0])  # Ada starts; Alan and Grace never do
    balance = credits(client, admin)
    clock.advance(minutes=30)
    closed = client.post(f"{API}/staff/sittings/{demo.sitting_id}/close", headers=admin)
    assert closed.status_code == 200, closed.text
    assert credits(client, admin) == balance + 2
    by_name = states(client, admin, demo)
    assert by_name["Ada Lovelace"]["extended_until"].startswith((clock() + timedelta(days=30)).date().isoformat())
    assert by_name["Alan Turing"]["extended_until"] is None

    again = client.post(f"{API}/staff/sittings/{demo.sitting_id}/close", headers=admin)
    assert again.status_code == 409
    assert again.json()["error"] == "already_closed"
    assert credits(client, admin) == balance + 2  # no second refund

    refused = client.post(f"{API}/login", json={"access_code": demo.codes[1], "machine_id": "pc-9"})
    assert refused.json()["error"] == "sitting_closed"
    assert player_login(client, demo.codes[0])["attempt_id"]  # same code, within the 30 days
    clock.advance(days=31)
    over = client.post(f"{API}/login", json={"access_code": demo.codes[0], "machine_id": "pc-1"})
    assert over.status_code == 403
    assert "new sitting" in over.json()["message"]


def test_the_end_of_the_window_closes_the_sitting_by_itself(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    balance = credits(client, admin)
    clock.advance(hours=9)  # the demo window was 8 hours; the staff sign-in lasts 12
    [sitting] = client.get(f"{API}/staff/sittings", headers=admin).json()
    assert sitting["closed_at"] is not None
    assert sitting["editable"] is False
    assert credits(client, admin) == balance + 3
