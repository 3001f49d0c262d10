"""A machine staff released the code from may still hand in its results (never its progress), in time only."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sync.server.models import Result
from sync.server.results import LATE_GRACE
from sync.server.store import Store
from tests.helpers.clock import START, FakeClock
from tests.helpers.server import API, Demo, bearer, player_login

CLOSE = START + timedelta(hours=1)


def answered(attempt_id: str, at: datetime, *, final: bool = True) -> dict[str, Any]:
    return {
        "idempotency_key": str(uuid.uuid4()),
        "attempt_id": attempt_id,
        "section_ids": ["mc"],
        "answers": [{"item_id": "mc-circles", "value": "b", "answered_at": at.isoformat()}],
        "finished_at": at.isoformat(),
        "final": final,
    }


def release(client: TestClient, admin: dict[str, str], demo: Demo, student: str = "Ada Lovelace") -> None:
    allocations = client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=admin).json()["allocations"]
    allocation = next(a for a in allocations if a["student_name"] == student)
    reply = client.post(
        f"{API}/staff/allocations/{allocation['id']}/release",
        json={"reason_kind": "technical_problem", "reason": "PC 1 froze"},
        headers=admin,
    )
    assert reply.status_code == 200, reply.text


def results(client: TestClient, login: dict[str, Any], body: dict[str, Any], *, batch: bool = False) -> Any:
    path = f"{API}/attempts/{login['attempt_id']}/results"
    if batch:
        return client.post(f"{path}/batch", json={"envelopes": [body]}, headers=bearer(login["attempt_token"]))
    return client.post(path, json=body, headers=bearer(login["attempt_token"]))


def test_the_released_machine_still_hands_in_its_results_but_not_its_progress(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    old = player_login(client, demo.codes[0], machine="pc-1")
    clock.advance(minutes=10)
    release(client, admin, demo)
    new = player_login(client, demo.codes[0], machine="pc-2")  # the student carries on elsewhere
    clock.advance(minutes=5)

    section = results(client, old, answered(old["attempt_id"], START + timedelta(minutes=9), final=False))
    batched = results(client, old, answered(old["attempt_id"], START + timedelta(minutes=9), final=False), batch=True)
    beat = client.post(f"{API}/attempts/{old['attempt_id']}/heartbeat", json={}, headers=bearer(old["attempt_token"]))
    checkpoint = client.put(
        f"{API}/attempts/{old['attempt_id']}/checkpoint",
        json={"section_id": "mc", "item_id": "mc-circles", "remaining_seconds": 60, "taken_at": START.isoformat()},
        headers=bearer(old["attempt_token"]),
    )
    media = client.get(f"{API}/attempts/{old['attempt_id']}/media/{'0' * 64}", headers=bearer(old["attempt_token"]))

    assert section.status_code == 200, section.text
    assert section.json()["duplicate"] is False
    assert batched.json()["items"][0]["status"] == 200, batched.text
    assert [r.status_code for r in (beat, checkpoint, media)] == [401, 401, 401]
    assert "no longer valid" in beat.json()["message"]
    held = client.get(f"{API}/staff/sittings/{demo.sitting_id}/results", headers=admin).json()
    assert [r["student_name"] for r in held] == ["Ada Lovelace", "Ada Lovelace"]
    # The machine now holding the attempt is unaffected.
    ok = client.post(f"{API}/attempts/{new['attempt_id']}/heartbeat", json={}, headers=bearer(new["attempt_token"]))
    assert ok.status_code == 200, ok.text


def test_the_released_machines_results_still_meet_the_late_answer_rule(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock, store: Store
) -> None:
    old = player_login(client, demo.codes[0], machine="pc-1")
    release(client, admin, demo)
    clock.set(CLOSE)
    assert client.post(f"{API}/staff/sittings/{demo.sitting_id}/close", headers=admin).status_code == 200
    clock.set(CLOSE + timedelta(days=40))  # long after any extension

    late = results(client, old, answered(old["attempt_id"], clock() - timedelta(days=1)))
    late_in_batch = results(client, old, answered(old["attempt_id"], clock() - timedelta(days=1)), batch=True)

    assert late.status_code == 409
    assert late.json()["error"] == "answered_too_late"
    assert late_in_batch.json()["items"][0]["error"]["error"] == "answered_too_late"
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Result)) == 0, "nothing late was stored"


def test_the_released_machines_answers_in_time_count_after_the_close(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    old = player_login(client, demo.codes[0], machine="pc-1")
    release(client, admin, demo)
    clock.set(CLOSE)
    assert client.post(f"{API}/staff/sittings/{demo.sitting_id}/close", headers=admin).status_code == 200
    # Answered within the grace after the close (the computer's clock may run a little fast), sent later.
    reply = results(client, old, answered(old["attempt_id"], CLOSE + LATE_GRACE))
    assert reply.status_code == 200, reply.text


def test_a_token_that_was_never_released_opens_nothing(client: TestClient, demo: Demo) -> None:
    login = player_login(client, demo.codes[0], machine="pc-1")
    forged = {**login, "attempt_token": "not-a-token"}
    reply = results(client, forged, answered(login["attempt_id"], START))
    assert reply.status_code == 401
    assert reply.json()["error"] == "attempt_token_invalid"
