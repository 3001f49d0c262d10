"""The room through the HTTP API in-process (FastAPI's TestClient): the view, heartbeats and actions."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers.server import API, Demo, bearer


def room(client: TestClient, demo: Demo, admin: dict[str, str]) -> dict[str, Any]:
    reply = client.get(f"{API}/staff/sittings/{demo.sitting_id}/room", headers=admin)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def student(view: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in view["students"] if s["student_name"] == name)
    return found


def send_beat(client: TestClient, login: dict[str, Any], **fields: Any) -> Any:
    """A heartbeat as sent, for a test that looks at a refusal."""
    return client.post(
        f"{API}/attempts/{login['attempt_id']}/heartbeat", json=fields, headers=bearer(login["attempt_token"])
    )


def beat(client: TestClient, login: dict[str, Any], **fields: Any) -> dict[str, Any]:
    reply = send_beat(client, login, **fields)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def act_on_room(client: TestClient, demo: Demo, admin: dict[str, str], **body: Any) -> Any:
    return client.post(f"{API}/staff/sittings/{demo.sitting_id}/actions", json=body, headers=admin)
