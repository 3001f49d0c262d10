"""Results that arrive after the sitting closed: kept when answered in time, refused (and not stored) when not."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sync import protocol, resultcode
from sync.server.models import Result
from sync.server.results import LATE_GRACE
from sync.server.store import Store
from tests.helpers.clock import START, FakeClock
from tests.helpers.server import API, Demo, bearer, player_login

CLOSE = START + timedelta(hours=1)
WINDOW_END = START + timedelta(hours=8)  # the demo sitting's
EXTENDED = CLOSE + timedelta(days=30)


def answered(attempt_id: str, at: datetime, *, final: bool = False, finished: datetime | None = None) -> dict[str, Any]:
    return {
        "idempotency_key": str(uuid.uuid4()),
        "attempt_id": attempt_id,
        "section_ids": ["mc"],
        "answers": [{"item_id": "mc-circles", "value": "b", "answered_at": at.isoformat()}],
        "finished_at": (finished or at).isoformat(),
        "final": final,
    }


def send(client: TestClient, login: dict[str, Any], body: dict[str, Any]) -> Any:
    return client.post(
        f"{API}/attempts/{login['attempt_id']}/results", json=body, headers=bearer(login["attempt_token"])
    )


def stored_count(store: Store) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(Result)) or 0


def close_at(client: TestClient, clock: FakeClock, admin: dict[str, str], demo: Demo, moment: datetime) -> None:
    clock.set(moment)
    reply = client.post(f"{API}/staff/sittings/{demo.sitting_id}/close", headers=admin)
    assert reply.status_code == 200, reply.text


def test_results_answered_before_the_close_are_accepted_after_it(
    client: TestClient, clock: FakeClock, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    close_at(client, clock, admin, demo, CLOSE)
    clock.set(CLOSE + timedelta(hours=2))  # the computer was offline until after the close
    reply = send(client, login, answered(login["attempt_id"], START + timedelta(minutes=10), final=True))
    assert reply.status_code == 200, reply.text  # the attempt token still works after the close
    assert (reply.json()["duplicate"], reply.json()["status"]) == (False, "marked")


def test_the_extension_counts_up_to_the_grace_and_not_a_second_beyond(
    client: TestClient, clock: FakeClock, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    close_at(client, clock, admin, demo, CLOSE)  # Ada was part-way: 30 more days
    clock.set(EXTENDED + timedelta(hours=1))
    on_time = send(client, login, answered(login["attempt_id"], EXTENDED + LATE_GRACE))
    assert on_time.status_code == 200, on_time.text
    late = send(client, login, answered(login["attempt_id"], EXTENDED + LATE_GRACE + timedelta(seconds=1)))
    assert late.status_code == 409
    assert late.json()["error"] == "answered_too_late"
    assert "answered by Wed 31 Mar 2027 10:00 UTC" in late.json()["message"]
    assert "until Wed 31 Mar 2027 10:05 UTC" in late.json()["message"]
    # The answers were in time but the finish was not: still too late.
    finished_late = answered(login["attempt_id"], EXTENDED, final=True, finished=EXTENDED + timedelta(minutes=6))
    assert send(client, login, finished_late).json()["error"] == "answered_too_late"
    assert stored_count(store) == 1


def test_a_finished_students_deadline_is_the_close_also_for_a_result_code(
    client: TestClient, clock: FakeClock, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    clock.set(START + timedelta(minutes=30))
    assert send(client, login, answered(login["attempt_id"], clock(), final=True)).status_code == 200
    close_at(client, clock, admin, demo, CLOSE)  # Ada had finished: no extension
    clock.set(CLOSE + timedelta(hours=2))
    after_close = answered(login["attempt_id"], CLOSE + timedelta(minutes=30))
    reply = send(client, login, after_close)
    assert reply.status_code == 409
    assert "answered by Mon 1 Mar 2027 10:00 UTC" in reply.json()["message"]
    code = resultcode.encode(protocol.ResultEnvelope.model_validate(after_close), result_secret=login["result_secret"])
    by_code = client.post(f"{API}/staff/result-codes", json={"code": code}, headers=admin)
    assert by_code.status_code == 409
    assert by_code.json()["error"] == "answered_too_late"
    assert stored_count(store) == 1


def test_a_window_that_ended_unnoticed_still_gives_a_part_way_student_the_extension(
    client: TestClient, clock: FakeClock, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    clock.set(WINDOW_END + timedelta(hours=1))  # nobody looked at the sitting, so no close has run yet
    body = answered(login["attempt_id"], WINDOW_END + timedelta(minutes=20), final=True)
    reply = send(client, login, body)
    assert reply.status_code == 200, reply.text
    sitting = client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=admin).json()
    assert sitting["closed_at"] == sitting["window_end"]
    ada = next(a for a in sitting["allocations"] if a["student_name"] == "Ada Lovelace")
    assert ada["state"] == "finished"


def test_in_a_batch_the_deadline_holds_whatever_zone_the_times_are_written_in(
    client: TestClient, clock: FakeClock, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    close_at(client, clock, admin, demo, CLOSE)
    clock.set(EXTENDED + timedelta(hours=1))
    limit = EXTENDED + LATE_GRACE
    paris = timezone(timedelta(hours=1))
    bodies = [
        answered(login["attempt_id"], limit),  # UTC, on the limit
        answered(login["attempt_id"], limit.astimezone(paris)),  # the same moment written in Paris time
        answered(login["attempt_id"], (limit + timedelta(seconds=1)).astimezone(paris)),
        answered(login["attempt_id"], limit.replace(tzinfo=None)),  # no zone: ambiguous, refused
    ]
    reply = client.post(
        f"{API}/attempts/{login['attempt_id']}/results/batch",
        json={"envelopes": bodies},
        headers=bearer(login["attempt_token"]),
    )
    items = reply.json()["items"]
    assert [item["status"] for item in items] == [200, 200, 409, 422]
    assert items[2]["error"]["error"] == "answered_too_late"
    assert "until Wed 31 Mar 2027 10:05 UTC" in items[2]["error"]["message"]
    assert "has no time zone; add one" in items[3]["error"]["message"]
    assert stored_count(store) == 2
