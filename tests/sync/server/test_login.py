"""Access-code login through the real app: admission, each distinct refusal and resume (limits: test_login_limits)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from sync.protocol import LoginResponse
from sync.server.store import Store
from tests.helpers.clock import FakeClock
from tests.helpers.server import Demo

LOGIN = "/api/v1/login"


def login(client: TestClient, code: str, machine: str | None = "machine-1") -> tuple[int, dict]:
    body: dict[str, str] = {"access_code": code}
    if machine is not None:
        body["machine_id"] = machine
    reply = client.post(LOGIN, json=body)
    return reply.status_code, reply.json()


def test_a_printed_code_logs_in_and_returns_the_delivery_form(client: TestClient, demo: Demo) -> None:
    status, body = login(client, demo.codes[0])
    assert status == 200, body
    reply = LoginResponse.model_validate(body)
    assert reply.student == "Ada Lovelace"
    assert [s.title for s in reply.assessment.sections] == ["Multiple choice", "Short answers", "Dictation"]
    assert reply.attempt_token
    assert reply.result_secret
    assert reply.accommodations.extra_time_percent == 0


def test_the_delivery_form_carries_no_answer_keys(client: TestClient, demo: Demo) -> None:
    _, body = login(client, demo.codes[0])
    text = json.dumps(body).lower()
    for marker in ('"key"', '"correct"', '"accept"', '"scoring"', '"points"'):
        assert marker not in text


def test_extra_time_reaches_the_player(client: TestClient, demo: Demo) -> None:
    _, body = login(client, demo.codes[1])
    assert body["accommodations"]["extra_time_percent"] == 25


@pytest.mark.parametrize("spelling", ["{}", "{lower}", " {plain} ", "{plain_o}"])
def test_codes_are_read_however_they_are_typed(client: TestClient, demo: Demo, spelling: str) -> None:
    code = demo.codes[0]
    plain = code.replace("-", "")
    typed = spelling.format(code, lower=code.lower(), plain=plain, plain_o=plain.replace("0", "O").replace("1", "l"))
    status, body = login(client, typed)
    assert status == 200, body


def test_unknown_code_says_to_check_the_code_and_the_server(client: TestClient, demo: Demo) -> None:
    status, body = login(client, "ZZZZ-ZZZZ")
    assert status == 401
    assert body["error"] == "unknown_code"
    assert "check" in body["message"].lower()
    assert "server" in body["message"].lower()


def test_an_impossible_code_is_refused_with_the_reason(client: TestClient, demo: Demo) -> None:
    status, body = login(client, "ABC")
    assert status == 401
    assert body["error"] == "malformed_code"
    assert "8" in body["message"]


def test_not_open_yet_names_the_opening_time(client: TestClient, demo: Demo, clock: FakeClock) -> None:
    clock.advance(minutes=-10)  # the demo sitting opened 5 minutes before the seed's "now"
    status, body = login(client, demo.codes[0])
    assert status == 403
    assert body["error"] == "not_open_yet"
    assert "08:55" in body["message"]


def test_closed_sitting_refuses_a_student_who_never_started(client: TestClient, demo: Demo, clock: FakeClock) -> None:
    clock.advance(hours=9)
    status, body = login(client, demo.codes[0])
    assert status == 403
    assert body["error"] == "sitting_closed"


def test_a_started_student_gets_30_more_days_with_the_same_code(
    client: TestClient, demo: Demo, clock: FakeClock
) -> None:
    assert login(client, demo.codes[0])[0] == 200
    clock.advance(hours=9)  # the window has ended
    status, body = login(client, demo.codes[0])
    assert status == 200, body
    clock.advance(days=30)
    status, body = login(client, demo.codes[0])
    assert status == 403
    assert body["error"] == "extension_over"
    assert "new sitting" in body["message"]


def test_in_use_on_another_computer_until_staff_release_it(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    assert login(client, demo.codes[0], machine="room-1-pc-3")[0] == 200
    status, body = login(client, demo.codes[0], machine="room-1-pc-4")
    assert status == 409
    assert body["error"] == "in_use_elsewhere"
    assert "invigilator" in body["message"]
    allocation = next(
        a
        for a in client.get(f"/api/v1/staff/sittings/{demo.sitting_id}", headers=admin).json()["allocations"]
        if a["student_name"] == "Ada Lovelace"
    )
    released = client.post(
        f"/api/v1/staff/allocations/{allocation['id']}/release", json={"reason_kind": "moved_machine"}, headers=admin
    )
    assert released.status_code == 200
    assert login(client, demo.codes[0], machine="room-1-pc-4")[0] == 200


def test_the_same_machine_resumes_with_the_same_attempt_and_result_secret(client: TestClient, demo: Demo) -> None:
    _, first = login(client, demo.codes[0])
    _, again = login(client, demo.codes[0])
    assert again["attempt_id"] == first["attempt_id"]
    assert again["result_secret"] == first["result_secret"]
    assert again["attempt_token"] != first["attempt_token"]


def test_a_client_without_machine_id_counts_as_a_machine_of_its_own(client: TestClient, demo: Demo) -> None:
    assert login(client, demo.codes[0], machine=None)[0] == 200
    status, body = login(client, demo.codes[0], machine=None)
    assert (status, body["error"]) == (409, "in_use_elsewhere")


def test_a_machine_locked_by_one_worker_is_locked_for_another(
    client: TestClient, demo: Demo, settings: object, clock: FakeClock
) -> None:
    from sync.server.app import create_app

    for n in range(10):
        login(client, f"ZZZZ-ZZZ{n}", machine="pc-9")
    second_store = Store.open(settings.database_url, migrate=False)  # type: ignore[attr-defined]
    try:
        with TestClient(create_app(settings, store=second_store, clock=clock)) as worker_two:  # type: ignore[arg-type]
            assert login(worker_two, demo.codes[0], machine="pc-9")[0] == 429
    finally:
        second_store.close()


def test_already_finished_is_refused(client: TestClient, demo: Demo) -> None:
    import uuid

    _, body = login(client, demo.codes[0])
    envelope = {
        "idempotency_key": str(uuid.uuid4()),
        "attempt_id": body["attempt_id"],
        "section_ids": ["mc", "short", "dictation"],
        "answers": [],
        "finished_at": "2027-03-01T09:30:00Z",
        "final": True,
    }
    headers = {"Authorization": f"Bearer {body['attempt_token']}"}
    assert (
        client.post(f"/api/v1/attempts/{body['attempt_id']}/results", json=envelope, headers=headers).status_code == 200
    )
    status, refused = login(client, demo.codes[0])
    assert (status, refused["error"]) == (409, "already_finished")


def test_codes_never_reach_the_log(client: TestClient, demo: Demo, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    login(client, demo.codes[0])
    login(client, demo.codes[1].lower())
    for code in demo.codes:
        assert code not in caplog.text
        assert code.replace("-", "") not in caplog.text
