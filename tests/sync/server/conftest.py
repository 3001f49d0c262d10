"""Server fixtures: a real SQLite file, the real app (in-process and under uvicorn), a clock the test owns."""

from __future__ import annotations

import secrets
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sync.server.app import create_app
from sync.server.crypto import Keyring
from sync.server.demo import seed
from sync.server.settings import LoginLimits, ServerSettings
from sync.server.store import Store

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand, so window and lockout rules are tested without waiting."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrations run once; each test copies the resulting file (a real, fully migrated database)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    Store.open(f"sqlite:///{path}", migrate=True).close()
    return path


@pytest.fixture(scope="session")
def server_key() -> bytes:
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class DemoTemplate:
    path: Path
    data: dict[str, Any]
    admin_token: str


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, migrated_template: Path, server_key: bytes) -> DemoTemplate:
    """The demo seeded (and its admin signed in) once: argon2 hashing would otherwise cost ~0.5 s per test."""
    from sync.server import accounts

    path = tmp_path_factory.mktemp("demo-template") / "demo.db"
    shutil.copy(migrated_template, path)
    store = Store.open(f"sqlite:///{path}", migrate=False)
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
    return DemoTemplate(path=path, data=data, admin_token=issued.token)


@pytest.fixture
def db_path(request: pytest.FixtureRequest, tmp_path: Path, migrated_template: Path) -> Path:
    path = tmp_path / "server.db"
    # A test that asks for the demo starts from the seeded copy (same ids, codes and passwords every time).
    source = request.getfixturevalue("demo_template").path if "demo" in request.fixturenames else migrated_template
    shutil.copy(source, path)
    return path


@pytest.fixture
def settings(db_path: Path, server_key: bytes) -> ServerSettings:
    return ServerSettings(
        database_url=f"sqlite:///{db_path}",
        secret_key=server_key,
        login_limits=LoginLimits(per_machine=10, per_address=100),
    )


@pytest.fixture
def store(settings: ServerSettings) -> Iterator[Store]:
    opened = Store.open(settings.database_url, migrate=False)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(settings: ServerSettings, store: Store, clock: FakeClock) -> FastAPI:
    return create_app(settings, store=store, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


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


@pytest.fixture
def demo(store: Store, demo_template: DemoTemplate, clock: FakeClock) -> Demo:
    """The demo school, seeded at START (db_path copied it from the template)."""
    assert clock() == START, "the demo is seeded at START; move the clock inside the test"
    return Demo(demo_template.data)


def staff_headers(client: TestClient, username: str, password: str) -> dict[str, str]:
    reply = client.post("/api/v1/staff/login", json={"username": username, "password": password})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['token']}"}


@pytest.fixture
def admin(client: TestClient, demo: Demo, demo_template: DemoTemplate) -> dict[str, str]:
    """The demo admin, signed in at START (the token is in the template, valid 12 h)."""
    return {"Authorization": f"Bearer {demo_template.admin_token}"}


@dataclass
class LiveServer:
    url: str


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The real app under uvicorn on 127.0.0.1, port 0 (the kernel picks a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it Nagle plus delayed ACKs add ~40 ms to every reply.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while not server.started:
        if datetime.now(UTC) > deadline:
            raise RuntimeError("uvicorn did not start within 10 s")
        threading.Event().wait(0.01)
    yield LiveServer(url=f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


# ---- helpers shared by the API tests -------------------------------------------------------------

API = "/api/v1"


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
    import uuid

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
