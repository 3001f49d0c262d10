"""Staff actions land in the audit log with who did them and when."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from sync.server.models import AuditEntry, Student
from sync.server.store import Store
from tests.helpers.clock import START, FakeClock
from tests.helpers.server import API, Demo, bearer, envelope, player_login, staff_headers


def entries(store: Store) -> list[AuditEntry]:
    with store.transaction() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_each_staff_action_is_logged_with_who_and_when(
    client: TestClient, demo: Demo, store: Store, clock: FakeClock
) -> None:
    seeded = len(entries(store))
    clock.advance(minutes=1)
    headers = staff_headers(client, "demo-admin", demo.data["staff"]["password"])
    student = client.post(
        f"{API}/staff/students", json={"unique_id": "A-1", "first_name": "Al", "last_name": "Audit"}, headers=headers
    ).json()
    clock.advance(minutes=1)
    client.patch(f"{API}/staff/students/{student['id']}", json={"active": False}, headers=headers)
    client.patch(f"{API}/staff/sittings/{demo.sitting_id}", json={"name": "Renamed"}, headers=headers)
    client.get(f"{API}/staff/sittings/{demo.sitting_id}/codes", headers=headers)
    login = player_login(client, demo.codes[0])
    receipt = client.post(
        f"{API}/attempts/{login['attempt_id']}/results",
        json=envelope(login["attempt_id"], {"mc-circles": "b"}, final=False),
        headers=bearer(login["attempt_token"]),
    ).json()
    client.post(f"{API}/staff/results/{receipt['result_id']}/remark", headers=headers)
    allocations = client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=headers).json()["allocations"]
    ada = next(a for a in allocations if a["student_name"] == "Ada Lovelace")
    released = client.post(
        f"{API}/staff/allocations/{ada['id']}/release",
        json={"reason_kind": "technical_problem", "reason": "froze"},
        headers=headers,
    )
    assert released.status_code == 200, released.text
    client.post(f"{API}/staff/sittings/{demo.sitting_id}/close", headers=headers)
    client.post(f"{API}/staff/logout", headers=headers)

    logged = entries(store)[seeded:]
    assert [e.action for e in logged] == [
        "staff_login", "add_student", "deactivate_student", "edit_sitting", "list_codes",
        "remark", "release_code", "close_sitting", "staff_logout",
    ]  # fmt: skip
    assert {(e.actor, e.school_id) for e in logged} == {("demo-admin", demo.school_id)}
    assert all(e.staff_id is not None for e in logged)
    assert logged[0].at == START + timedelta(minutes=1)
    assert logged[2].at == START + timedelta(minutes=2)
    assert logged[2].target == student["id"]
    assert (logged[6].reason_kind, logged[6].reason) == ("technical_problem", "froze")
    assert logged[6].sitting_id == demo.sitting_id
    assert logged[6].allocation_id == ada["id"]


def test_a_refused_action_leaves_no_audit_entry(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    before = len(entries(store))
    reply = client.post(f"{API}/staff/sittings/{demo.sitting_id}/close", headers=admin)
    assert reply.status_code == 200
    again = client.post(f"{API}/staff/sittings/{demo.sitting_id}/close", headers=admin)
    assert again.status_code == 409
    assert [e.action for e in entries(store)[before:]] == ["close_sitting"]


def test_a_write_is_committed_before_the_reply_is_sent(
    app: FastAPI, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    """A client told 201 must find the row, even if it asks over another connection at once."""
    seen_at_reply: list[bool] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b'{"unique_id":"C-1","first_name":"Co","last_name":"Mmit"}'}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            with store.transaction() as session:  # a separate connection, as another request would use
                seen_at_reply.append(session.scalar(select(Student).where(Student.unique_id == "C-1")) is not None)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": f"{API}/staff/students", "raw_path": f"{API}/staff/students".encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
        "headers": [(b"content-type", b"application/json"), (b"authorization", admin["Authorization"].encode())],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    assert seen_at_reply == [True]
