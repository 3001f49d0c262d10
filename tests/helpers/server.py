"""Builders for the server tests: the seeded demo, staff and student sign-ins, bearer headers and result bodies."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sync.server.crypto import Keyring
from sync.server.demo import seed
from sync.server.store import Store
from tests.helpers.clock import START

API = "/api/v1"


def migrate_template(path: Path) -> Path:
    """A real, fully migrated database at `path` (tests copy it rather than migrate again)."""
    Store.open(f"sqlite:///{path}", migrate=True).close()
    return path


@dataclass(frozen=True)
class DemoTemplate:
    """The seeded demo: an SQLite file (`path`) or a PostgreSQL template database (`database`)."""

    data: dict[str, Any]
    admin_token: str
    path: Path = Path()
    database: str = ""


def seed_demo_template(url: str, server_key: bytes, *, path: Path = Path(), database: str = "") -> DemoTemplate:
    """The demo seeded at START into the migrated database at `url`, and its admin signed in (token valid 12 h)."""
    from sync.server import accounts

    store = Store.open(url, migrate=False)
    with store.transaction() as session:
        data = seed(session, Keyring(server_key), now=START, host="127.0.0.1", port=0)
        issued = accounts.staff_login(
            session,
            username=data["staff"]["username"],
            password=data["staff"]["password"],
            now=START,
            lifetime_hours=12,
        )
    store.close()
    return DemoTemplate(data=data, admin_token=issued.token, path=path, database=database)


@dataclass
class Demo:
    data: dict[str, Any]

    @property
    def codes(self) -> list[str]:
        return [s["access_code"] for s in self.data["students"]]

    @property
    def school_id(self) -> str:
        return str(self.data["school"]["id"])

    @property
    def sitting_id(self) -> str:
        return str(self.data["sitting"]["id"])


def staff_headers(client: TestClient, username: str, password: str) -> dict[str, str]:
    reply = client.post("/api/v1/staff/login", json={"username": username, "password": password})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def new_staff(store: Store, *, school_id: str, role: str, username: str | None = None) -> tuple[str, str]:
    """Add a staff login straight to the store; returns (username, password)."""
    from sync.server import accounts

    username = username or f"{role}-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    with store.transaction() as session:
        accounts.add_staff(session, school_id=school_id, username=username, password=password, role=role)
    return username, password


def role_headers(client: TestClient, store: Store, *, school_id: str, role: str) -> dict[str, str]:
    username, password = new_staff(store, school_id=school_id, role=role)
    return staff_headers(client, username, password)


def player_login(client: TestClient, code: str, machine: str = "pc-1") -> dict[str, Any]:
    reply = client.post(f"{API}/login", json={"access_code": code, "machine_id": machine})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def envelope(attempt_id: str, answers: dict[str, Any], *, final: bool = True, key: str | None = None) -> dict[str, Any]:
    return {
        "idempotency_key": key or str(uuid.uuid4()),
        "attempt_id": attempt_id,
        "section_ids": ["mc", "short", "dictation"],
        "answers": [
            {"item_id": item, "value": value, "answered_at": START.isoformat()} for item, value in answers.items()
        ],
        "finished_at": (START + timedelta(minutes=30)).isoformat(),
        "final": final,
    }
