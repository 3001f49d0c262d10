"""The staff API: sign-in and its end (expiry, logout), roles, students, and how refusals are shaped."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sync.server.store import Store
from tests.helpers.clock import FakeClock
from tests.helpers.server import API, Demo, role_headers, staff_headers

STUDENT = {"unique_id": "UPN-1", "first_name": "Mary", "last_name": "Anning"}


def test_sign_in_says_who_and_which_school(client: TestClient, demo: Demo) -> None:
    reply = client.post(
        f"{API}/staff/login", json={"username": "DEMO-ADMIN", "password": demo.data["staff"]["password"]}
    )
    assert reply.status_code == 200
    staff = reply.json()["staff"]
    assert (staff["username"], staff["role"], staff["school_name"]) == ("demo-admin", "admin", "Demo Primary School")


def test_a_wrong_password_is_refused_without_saying_which_part(client: TestClient, demo: Demo) -> None:
    reply = client.post(f"{API}/staff/login", json={"username": "demo-admin", "password": "wrong-password"})
    assert reply.status_code == 401
    assert reply.json()["error"] == "bad_credentials"
    unknown = client.post(f"{API}/staff/login", json={"username": "nobody", "password": "wrong-password"})
    assert unknown.json() == reply.json()


def test_a_staff_token_ends_after_12_hours(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    clock.advance(hours=11, minutes=59)
    assert client.get(f"{API}/staff/students", headers=admin).status_code == 200
    clock.advance(minutes=2)
    reply = client.get(f"{API}/staff/students", headers=admin)
    assert reply.status_code == 401
    assert reply.json()["error"] == "token_expired"
    assert "sign in again" in reply.json()["message"].lower()


def test_logout_revokes_the_token_and_only_that_token(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    other = staff_headers(client, "demo-admin", demo.data["staff"]["password"])
    assert client.post(f"{API}/staff/logout", headers=admin).status_code == 204
    assert client.get(f"{API}/staff/students", headers=admin).status_code == 401
    assert client.get(f"{API}/staff/students", headers=other).status_code == 200


def test_a_request_without_a_token_is_told_to_sign_in(client: TestClient, demo: Demo) -> None:
    reply = client.get(f"{API}/staff/students")
    assert reply.status_code == 401
    assert reply.json()["error"] == "no_token"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/staff/students", STUDENT),
        ("post", "/staff/sittings", {"assessment": "x", "name": "n", "window_start": "2027-03-01T09:00:00Z",
                                     "window_end": "2027-03-01T10:00:00Z", "student_ids": []}),
    ],
)  # fmt: skip
def test_an_invigilator_may_not_add_students_or_create_sittings(
    client: TestClient, demo: Demo, store: Store, method: str, path: str, body: dict[str, object]
) -> None:
    headers = role_headers(client, store, school_id=demo.school_id, role="invigilator")
    reply = client.request(method, f"{API}{path}", json=body, headers=headers)
    assert reply.status_code == 403
    assert reply.json()["error"] == "forbidden"
    assert "admin or teacher" in reply.json()["message"]
    assert "invigilator" in reply.json()["message"]


def test_an_invigilator_may_look_at_sittings_and_codes(client: TestClient, demo: Demo, store: Store) -> None:
    headers = role_headers(client, store, school_id=demo.school_id, role="invigilator")
    codes = client.get(f"{API}/staff/sittings/{demo.sitting_id}/codes", headers=headers)
    assert codes.status_code == 200
    assert sorted(c["code"] for c in codes.json()) == sorted(demo.codes)


def test_a_teacher_adds_a_student_who_is_then_listed(client: TestClient, demo: Demo, store: Store) -> None:
    headers = role_headers(client, store, school_id=demo.school_id, role="teacher")
    reply = client.post(
        f"{API}/staff/students",
        json={**STUDENT, "groups": ["7B", " 7B "], "date_of_birth": "2014-05-21"},
        headers=headers,
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["groups"] == ["7B"]
    listed = client.get(f"{API}/staff/students", headers=headers).json()
    assert "UPN-1" in [s["unique_id"] for s in listed]


def test_a_unique_id_is_unique_within_the_school(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    assert client.post(f"{API}/staff/students", json=STUDENT, headers=admin).status_code == 201
    reply = client.post(f"{API}/staff/students", json={**STUDENT, "first_name": "Other"}, headers=admin)
    assert reply.status_code == 409
    assert "UPN-1" in reply.json()["message"]


def test_a_unique_id_over_100_characters_is_refused_naming_the_field(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    reply = client.post(f"{API}/staff/students", json={**STUDENT, "unique_id": "x" * 101}, headers=admin)
    assert reply.status_code == 422
    body = reply.json()
    assert body["error"] == "invalid_request"
    assert "unique_id" in body["message"]
    assert "100" in body["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"first_name": "A", "last_name": "B"}, "unique_id"),
        ({**STUDENT, "extra_time_percent": 500}, "extra_time_percent"),
        ({**STUDENT, "date_of_birth": "21/05/2014"}, "date_of_birth"),
        ({**STUDENT, "nickname": "Mo"}, "nickname"),
    ],
)
def test_validation_errors_name_the_field(
    client: TestClient, demo: Demo, admin: dict[str, str], body: dict[str, object], field: str
) -> None:
    reply = client.post(f"{API}/staff/students", json=body, headers=admin)
    assert reply.status_code == 422
    assert set(reply.json()) == {"error", "message", "retry_after_seconds", "number"}
    assert reply.json()["error"] == "invalid_request"
    assert field in reply.json()["message"]


def test_a_deactivated_student_is_kept_but_cannot_be_allocated(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    student = client.post(f"{API}/staff/students", json=STUDENT, headers=admin).json()
    patched = client.patch(f"{API}/staff/students/{student['id']}", json={"active": False}, headers=admin)
    assert patched.json()["active"] is False
    reply = client.post(
        f"{API}/staff/sittings",
        json={
            "assessment": demo.data["assessment"]["id"],
            "name": "Retake",
            "window_start": "2027-03-02T09:00:00Z",
            "window_end": "2027-03-02T10:00:00Z",
            "student_ids": [student["id"]],
        },
        headers=admin,
    )
    assert reply.status_code == 422
    assert "Mary Anning" in reply.json()["message"]
    assert "deactivated" in reply.json()["message"]


def test_unknown_routes_and_methods_answer_with_the_error_body(client: TestClient, demo: Demo) -> None:
    missing = client.get(f"{API}/staff/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"] == "no_such_route"
    wrong = client.delete(f"{API}/login")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
    assert "POST" in wrong.headers["allow"]


def test_the_api_is_described_under_the_version_prefix(client: TestClient) -> None:
    spec = client.get(f"{API}/openapi.json").json()
    assert f"{API}/login" in spec["paths"]
    assert f"{API}/staff/sittings/{{sitting_id}}/close" in spec["paths"]
