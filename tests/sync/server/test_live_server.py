"""The real server over real HTTP: uvicorn on a free port driven with `requests`, and the installed command."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from sync.server.models import LoginFailure
from sync.server.store import Store
from tests.helpers.live_server import LiveServer, serve_app
from tests.helpers.served import this_checkout
from tests.helpers.server import API, Demo, envelope

TIMEOUT = 10


def test_a_student_sits_a_test_over_http(live_server: LiveServer, demo: Demo, admin: dict[str, str]) -> None:
    api = live_server.url + API
    with requests.Session() as http:
        login = http.post(f"{api}/login", json={"access_code": demo.codes[2], "machine_id": "pc"}, timeout=TIMEOUT)
        assert login.status_code == 200, login.text
        body: dict[str, Any] = login.json()
        auth = {"Authorization": f"Bearer {body['attempt_token']}"}
        sha = next(m["sha256"] for s in body["assessment"]["sections"] for i in s["items"] for m in i["media"])
        media = http.get(f"{api}/attempts/{body['attempt_id']}/media/{sha}", headers=auth, timeout=TIMEOUT)
        assert hashlib.sha256(media.content).hexdigest() == sha
        cached = http.get(
            f"{api}/attempts/{body['attempt_id']}/media/{sha}",
            headers={**auth, "If-None-Match": media.headers["ETag"]},
            timeout=TIMEOUT,
        )
        assert cached.status_code == 304
        result = envelope(body["attempt_id"], {"mc-circles": "b"})
        url = f"{api}/attempts/{body['attempt_id']}/results"
        first = http.post(url, json=result, headers=auth, timeout=TIMEOUT).json()
        second = http.post(url, json=result, headers=auth, timeout=TIMEOUT).json()
        assert (first["duplicate"], second["duplicate"], second["result_id"]) == (False, True, first["result_id"])
        held = http.get(f"{api}/staff/sittings/{demo.sitting_id}/results", headers=admin, timeout=TIMEOUT).json()
        assert [r["student_name"] for r in held] == ["Grace Hopper"]
        assert held[0]["marks"]["items"]["mc-circles"]["score"] == 1


def test_refusals_over_http_carry_the_error_body_and_retry_after(live_server: LiveServer, demo: Demo) -> None:
    api = live_server.url + API
    for n in range(10):
        http_reply = requests.post(
            f"{api}/login", json={"access_code": f"ZZZZ-ZZZ{n}", "machine_id": "m"}, timeout=TIMEOUT
        )
        assert http_reply.json()["error"] == "unknown_code"
    locked = requests.post(f"{api}/login", json={"access_code": demo.codes[0], "machine_id": "m"}, timeout=TIMEOUT)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) == locked.json()["retry_after_seconds"] > 0


def test_the_installed_command_seeds_a_demo_and_serves_it_on_a_free_port(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    command = Path(sys.executable).with_name("invigil-server")
    env = this_checkout(os.environ)
    seeded = subprocess.run(
        [str(command), "demo-seed", "--json", "--db", str(db)], capture_output=True, text=True, timeout=60, env=env
    )
    assert seeded.returncode == 0, seeded.stderr
    demo = json.loads(seeded.stdout)
    server = subprocess.Popen(
        [str(command), "serve", "--port", "0", "--db", str(db), "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()  # printed and flushed before the server starts listening
        assert banner.startswith("Invigil server on http://127.0.0.1:"), banner
        base = banner.split()[3]
        assert base.endswith("/api/v1/")
        assert not base.endswith(":0/api/v1/")
        login = requests.post(
            f"{base}login",
            json={"access_code": demo["students"][0]["access_code"], "machine_id": "pc"},
            timeout=TIMEOUT,
        )
        assert login.status_code == 200, login.text
        assert login.json()["student"] == demo["students"][0]["name"]
        staff = requests.post(
            f"{base}staff/login",
            json={"username": demo["staff"]["username"], "password": demo["staff"]["password"]},
            timeout=TIMEOUT,
        )
        assert staff.status_code == 200
    finally:
        server.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            rest, errors = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            rest, errors = server.communicate()
    assert server.returncode == 0, errors
    assert "Traceback" not in errors
    assert "stopped" in rest


def test_the_live_server_counts_a_failed_login_under_the_connecting_address_not_a_forwarded_one(
    live_server: LiveServer, demo: Demo, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uvicorn's own default would believe this header from 127.0.0.1, and FORWARDED_ALLOW_IPS from anywhere.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    reply = requests.post(
        f"{live_server.url}{API}/login",
        json={"access_code": "ZZZZ-ZZZZ", "machine_id": "pc-1"},
        headers={"X-Forwarded-For": "203.0.113.7"},
        timeout=TIMEOUT,
    )
    assert reply.status_code == 401, reply.text
    with store.transaction() as session:
        addresses = session.scalars(select(LoginFailure.key).where(LoginFailure.scope == "address")).all()
    assert addresses == ["127.0.0.1"]


async def client_address(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that replies with the client address uvicorn handed it."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": scope["client"][0].encode()})


def test_a_test_server_believes_forwarded_for_only_from_the_proxies_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # the environment must not widen what the test asked for
    spoofed = {"X-Forwarded-For": "203.0.113.7"}
    with serve_app(client_address) as url:
        assert requests.get(url, headers=spoofed, timeout=TIMEOUT).text == "127.0.0.1"
    with serve_app(client_address, forwarded_allow_ips=["192.0.2.1"]) as url:
        assert requests.get(url, headers=spoofed, timeout=TIMEOUT).text == "127.0.0.1"
    with serve_app(client_address, forwarded_allow_ips=["127.0.0.1"]) as url:
        assert requests.get(url, headers=spoofed, timeout=TIMEOUT).text == "203.0.113.7"
