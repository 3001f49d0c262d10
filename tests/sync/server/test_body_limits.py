"""Request body limits against the real server under uvicorn: refused with 413 before the body is read."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sync import staff_protocol as sp
from sync.server.app import create_app
from sync.server.bodylimit import KB, MB, BodyLimits, parse_override
from sync.server.cli import Env, main
from sync.server.models import LoginFailure, Result
from sync.server.settings import ServerSettings
from sync.server.store import Store
from tests.helpers.clock import FakeClock
from tests.helpers.live_server import LiveServer
from tests.helpers.server import API, Demo, bearer, envelope

TIMEOUT = 30
LIMITS = BodyLimits()
WRONG_LOGIN = {"access_code": "ZZZZ-ZZZZ", "machine_id": "m"}
JSON = {"Content-Type": "application/json"}


def padded(body: dict[str, Any], size: int) -> bytes:
    """`body` as JSON of exactly `size` bytes (spaces before the last brace: still the same, valid body)."""
    raw = json.dumps(body).encode()
    assert size >= len(raw)
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def chunked(data: bytes, size: int = 64 * KB) -> Iterator[bytes]:
    """A generator body: requests sends it with Transfer-Encoding: chunked and no Content-Length."""
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield bytes(view[start : start + size])


def count(store: Store, model: type[LoginFailure] | type[Result]) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def refusal(limit: str, sent: str, route: str) -> str:
    return (
        f"The request body {sent}; this route accepts at most {limit}. Send a smaller body. If the request is "
        f"genuine, the server's administrator can raise the limit with `invigil-server serve --max-body {route}=SIZE`."
    )


def test_a_login_over_the_limit_is_refused_from_its_content_length(
    live_server: LiveServer, demo: Demo, store: Store
) -> None:
    url = f"{live_server.url}{API}/login"
    reply = requests.post(url, data=padded(WRONG_LOGIN, LIMITS.login + 1), headers=JSON, timeout=TIMEOUT)
    assert reply.status_code == 413
    assert reply.json() == {
        "error": "body_too_large",
        "message": refusal("8 KB", "is 8,193 bytes", "login"),
        "retry_after_seconds": None,
        "number": "INV-2105",
    }
    assert count(store, LoginFailure) == 0  # never parsed, so never counted as a wrong code
    # The same wrong code at exactly the limit is read, refused as unknown and counted.
    at_limit = requests.post(url, data=padded(WRONG_LOGIN, LIMITS.login), headers=JSON, timeout=TIMEOUT)
    assert at_limit.json()["error"] == "unknown_code"
    assert count(store, LoginFailure) > 0


def test_a_chunked_login_over_the_limit_is_refused_while_it_streams(
    live_server: LiveServer, demo: Demo, store: Store
) -> None:
    url = f"{live_server.url}{API}/login"
    body = padded(WRONG_LOGIN, 1 * MB)
    reply = requests.post(url, data=chunked(body, 1000), headers=JSON, timeout=TIMEOUT)
    assert "Content-Length" not in reply.request.headers
    assert reply.status_code == 413
    assert reply.json()["message"] == refusal("8 KB", "is more than 8 KB", "login")
    assert count(store, LoginFailure) == 0
    # A chunked body under the limit is read as usual.
    code = {"access_code": demo.codes[0], "machine_id": "pc-1"}
    under = requests.post(url, data=chunked(padded(code, LIMITS.login), 1000), headers=JSON, timeout=TIMEOUT)
    assert under.status_code == 200, under.text


def test_results_over_the_limit_are_refused_and_nothing_is_stored(
    live_server: LiveServer, demo: Demo, store: Store
) -> None:
    api = live_server.url + API
    login = requests.post(f"{api}/login", json={"access_code": demo.codes[2], "machine_id": "pc"}, timeout=TIMEOUT)
    attempt, auth = login.json()["attempt_id"], {**JSON, **bearer(login.json()["attempt_token"])}
    url = f"{api}/attempts/{attempt}/results"
    result = envelope(attempt, {"mc-circles": "b"})
    over = padded(result, LIMITS.results + 1)
    declared = requests.post(url, data=over, headers=auth, timeout=TIMEOUT)
    assert (declared.status_code, declared.json()["error"]) == (413, "body_too_large")
    assert declared.json()["message"] == refusal("4 MB", "is 4,194,305 bytes", "results")
    streamed = requests.post(url, data=chunked(over), headers=auth, timeout=TIMEOUT)
    assert (streamed.status_code, streamed.json()["message"]) == (413, refusal("4 MB", "is more than 4 MB", "results"))
    assert count(store, Result) == 0
    at_limit = requests.post(url, data=padded(result, LIMITS.results), headers=auth, timeout=TIMEOUT)
    assert at_limit.status_code == 200, at_limit.text
    assert count(store, Result) == 1


def test_a_batch_over_its_limit_is_refused_and_one_at_the_limit_is_stored(
    live_server: LiveServer, demo: Demo, store: Store
) -> None:
    api = live_server.url + API
    login = requests.post(f"{api}/login", json={"access_code": demo.codes[2], "machine_id": "pc"}, timeout=TIMEOUT)
    attempt, auth = login.json()["attempt_id"], {**JSON, **bearer(login.json()["attempt_token"])}
    url = f"{api}/attempts/{attempt}/results/batch"
    batch = {"envelopes": [envelope(attempt, {"mc-circles": "b"}, final=False)]}
    assert LIMITS.results_batch == 200 * 64 * KB
    over = requests.post(url, data=chunked(padded(batch, LIMITS.results_batch + 1)), headers=auth, timeout=TIMEOUT)
    assert over.status_code == 413
    assert over.json()["message"] == refusal("12.5 MB", "is more than 12.5 MB", "results-batch")
    assert count(store, Result) == 0
    at_limit = requests.post(url, data=padded(batch, LIMITS.results_batch), headers=auth, timeout=TIMEOUT)
    assert at_limit.status_code == 200, at_limit.text
    assert count(store, Result) == 1


@pytest.mark.parametrize(
    ("method", "path", "route", "shown"),
    [("POST", "heartbeat", "heartbeat", "16 KB"), ("PUT", "checkpoint", "checkpoint", "64 KB")],
)
def test_heartbeats_and_checkpoints_have_small_limits(
    live_server: LiveServer, demo: Demo, method: str, path: str, route: str, shown: str
) -> None:
    api = live_server.url + API
    login = requests.post(f"{api}/login", json={"access_code": demo.codes[0], "machine_id": "pc"}, timeout=TIMEOUT)
    attempt, auth = login.json()["attempt_id"], {**JSON, **bearer(login.json()["attempt_token"])}
    limit = getattr(LIMITS, route)
    body = padded({"section_id": "mc", "section_title": "x", "item_id": "mc-circles"}, limit + 1)
    reply = requests.request(method, f"{api}/attempts/{attempt}/{path}", data=body, headers=auth, timeout=TIMEOUT)
    assert reply.status_code == 413
    assert reply.json()["message"] == refusal(shown, f"is {limit + 1:,} bytes", route)


def test_a_body_longer_than_its_content_length_is_never_read_past_it(
    live_server: LiveServer, demo: Demo, store: Store
) -> None:
    """uvicorn reads exactly the declared bytes as the body; what follows is a broken next request, refused."""
    start = json.dumps(WRONG_LOGIN).encode()[:20]  # a body that is not JSON unless the rest were read too
    rest = b" " * (1 * MB) + json.dumps(WRONG_LOGIN).encode()[20:]
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as conn:
        head = f"POST {API}/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        conn.sendall(f"{head}Content-Length: {len(start)}\r\n\r\n".encode() + start)
        first = b""
        while not first.endswith(b"}"):  # the whole first reply (its body is one JSON object)
            first += conn.recv(65536)
        later = b""
        try:
            conn.sendall(rest)
            while chunk := conn.recv(65536):
                later += chunk
        except ConnectionResetError:
            pass  # the server closed on the garbage while some of it was unread: also a refusal
    assert first.startswith(b"HTTP/1.1 422 "), first[:300]
    assert b'"error":"invalid_request"' in first
    assert later == b"" or later.startswith(b"HTTP/1.1 400 "), later[:300]  # the rest was no request at all
    assert count(store, LoginFailure) == 0


async def _hand_fed(app: Any, path: str, declared: int, parts: list[bytes]) -> tuple[int, dict[str, Any]]:
    """Drive the ASGI app as a server that does not hold a body to its Content-Length would."""
    feed = [{"type": "http.request", "body": p, "more_body": n < len(parts) - 1} for n, p in enumerate(parts)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return feed.pop(0) if feed else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(declared).encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


def test_a_lying_content_length_does_not_lift_the_limit(app: Any, demo: Demo, store: Store) -> None:
    body = padded(WRONG_LOGIN, 64 * KB)
    parts = [body[n : n + 4096] for n in range(0, len(body), 4096)]
    status, reply = asyncio.run(_hand_fed(app, f"{API}/login", 100, parts))
    assert (status, reply["error"]) == (413, "body_too_large")
    assert reply["message"] == refusal("8 KB", "is more than 8 KB", "login")
    assert count(store, LoginFailure) == 0


def test_evidence_keeps_its_own_limit_and_message(
    live_server: LiveServer, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    api = live_server.url + API
    room = requests.get(f"{api}/staff/sittings/{demo.sitting_id}/room", headers=admin, timeout=TIMEOUT).json()
    allocation = room["students"][0]["allocation_id"]
    url = f"{api}/staff/allocations/{allocation}/evidence"
    headers = {**admin, "Content-Type": "image/png", "X-Filename": "huge.png"}
    over = b"\x89PNG\r\n\x1a\n" + bytes(sp.MAX_EVIDENCE_BYTES)
    for data in (over, chunked(over)):
        reply = requests.post(url, data=data, headers=headers, timeout=TIMEOUT)
        assert reply.status_code == 413
        assert reply.json()["error"] == "too_large"
        assert reply.json()["message"].startswith("This file is 10.0 MB; evidence files can be at most 10 MB.")
    manual = requests.get(f"{api}/staff/allocations/{allocation}/manual", headers=admin, timeout=TIMEOUT)
    assert manual.json()["evidence"] == []


def test_the_api_description_declares_the_413_on_every_route_that_takes_a_body(client: TestClient) -> None:
    described = client.get(f"{API}/openapi.json").json()
    with_body = [
        (path, method, op)
        for path, ops in described["paths"].items()
        for method, op in ops.items()
        if "requestBody" in op
    ]
    assert len(with_body) >= 15
    for path, method, op in with_body:
        declared = op["responses"].get("413", {})
        assert declared.get("content", {}).get("application/json", {}).get("schema") == {
            "$ref": "#/components/schemas/ErrorBody"
        }, (path, method)
    login = described["paths"][f"{API}/login"]["post"]["responses"]["413"]["description"]
    assert "at most 8 KB (8192 bytes)" in login
    assert "413" not in described["paths"][f"{API}/staff/students"]["get"]["responses"]


@pytest.mark.parametrize("path", ["/staff/students/%0A", "/attempts/%0A/results", "/%0A%0D"])
def test_a_line_break_in_the_path_is_routed_like_any_other_character(client: TestClient, path: str) -> None:
    # The limits' patterns once stopped at a decoded line break: no entry matched, and the request was a 500.
    reply = client.patch(f"{API}{path}", json={"active": False})
    assert reply.status_code < 500, reply.text
    assert set(reply.json()) >= {"error", "message"}


def test_limits_are_configurable(settings: ServerSettings, store: Store, clock: FakeClock, demo: Demo) -> None:
    limits = BodyLimits().overridden([parse_override("login=1KB")])
    with TestClient(create_app(replace(settings, body_limits=limits), store=store, clock=clock)) as client:
        reply = client.post(f"{API}/login", content=padded(WRONG_LOGIN, 1025), headers=JSON)
        assert reply.status_code == 413
        assert reply.json()["message"] == refusal("1 KB", "is 1,025 bytes", "login")
        assert client.post(f"{API}/login", content=padded(WRONG_LOGIN, 1024), headers=JSON).status_code == 401


@pytest.mark.parametrize(
    ("given", "parsed"),
    [
        ("results=8MB", ("results", 8 * MB)),
        ("results-batch=20mb", ("results_batch", 20 * MB)),
        ("login = 4 KB", ("login", 4 * KB)),
        ("staff=2000000", ("staff", 2_000_000)),
        ("default=1.5MB", ("default", 3 * MB // 2)),
    ],
)
def test_serve_reads_max_body_overrides(given: str, parsed: tuple[str, int]) -> None:
    assert parse_override(given) == parsed


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (
            "logn=4KB",
            "ROUTE one of login, heartbeat, checkpoint, results, results-batch, result-codes, content, staff, default",
        ),
        ("login", "is not ROUTE=SIZE"),
        ("login=lots", "'lots' is not a size like 64KB, 8MB or 1000000 (bytes)"),
        ("login=10", "between 1 KB and 1 GB, not 10"),
        ("evidence=20MB", "evidence uploads follow MAX_EVIDENCE_BYTES (10 MB) and cannot be changed"),
    ],
)
def test_a_bad_max_body_is_a_usage_error_that_says_why(given: str, says: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["serve", "--max-body", given], Env(stdout=out, stderr=err, stdin=io.StringIO()))
    assert code == 2
    assert says in err.getvalue()
