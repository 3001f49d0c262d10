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


@pytest.fixture
def db_path(tmp_path: Path, migrated_template: Path) -> Path:
    path = tmp_path / "server.db"
    shutil.copy(migrated_template, path)
    return path


@pytest.fixture
def settings(db_path: Path) -> ServerSettings:
    return ServerSettings(
        database_url=f"sqlite:///{db_path}",
        secret_key=secrets.token_bytes(32),
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
def demo(store: Store, settings: ServerSettings, clock: FakeClock) -> Demo:
    with store.transaction() as session:
        return Demo(seed(session, Keyring(settings.secret_key), now=clock(), host="127.0.0.1", port=0))


def staff_headers(client: TestClient, username: str, password: str) -> dict[str, str]:
    reply = client.post("/api/v1/staff/login", json={"username": username, "password": password})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['token']}"}


@pytest.fixture
def admin(client: TestClient, demo: Demo) -> dict[str, str]:
    return staff_headers(client, demo.data["staff"]["username"], demo.data["staff"]["password"])


@dataclass
class LiveServer:
    url: str


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The real app under uvicorn on 127.0.0.1, port 0 (the kernel picks a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
