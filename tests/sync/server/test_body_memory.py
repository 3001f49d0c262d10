"""The server process's memory stays bounded under eight parallel 50 MB bodies (declared and chunked)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers.served import demo_seed, serving
from tests.helpers.server import envelope

TIMEOUT = 120
PARALLEL = 8
HUGE = 50 * 1024 * 1024
GROWTH_ALLOWED = 50 * 1024 * 1024
JSON = {"Content-Type": "application/json"}
OVERRIDE = ("--max-body", "results-batch=13MB")  # a limit the storms do not use, to see the option take effect


def padded(body: dict[str, Any], size: int) -> bytes:
    raw = json.dumps(body).encode()
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def chunked(data: bytes, size: int = 1024 * 1024) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield bytes(view[start : start + size])


def memory_kb(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (the peak so far) of a process, in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, dict[str, Any], Path]]:
    """`invigil-server serve --port 0` on a seeded demo: (process, API base URL, the demo, database file)."""
    db = tmp_path / "demo.db"
    demo = demo_seed(db)
    with serving(db, *OVERRIDE) as served:
        yield served.process, served.api, demo, db


def test_eight_parallel_50_mb_bodies_leave_the_servers_memory_bounded(
    server: tuple[subprocess.Popen[str], str, dict[str, Any], Path],
) -> None:
    process, api, demo, db = server
    with requests.Session() as http:
        login = http.post(
            f"{api}login", json={"access_code": demo["students"][0]["access_code"], "machine_id": "pc"}, timeout=TIMEOUT
        )
        assert login.status_code == 200, login.text
        attempt, token = login.json()["attempt_id"], login.json()["attempt_token"]
        described = http.get(f"{api}openapi.json", timeout=TIMEOUT).json()
    batch_413 = described["paths"]["/api/v1/attempts/{attempt_id}/results/batch"]["post"]["responses"]["413"]
    assert "at most 13 MB" in batch_413["description"]  # the --max-body override reached the running server
    results_url = f"{api}attempts/{attempt}/results"
    auth = {**JSON, "Authorization": f"Bearer {token}"}
    # Bodies that would be read as a wrong code (counted) and a stored result, were they read at all.
    login_body = padded({"access_code": "ZZZZ-ZZZZ", "machine_id": "m"}, HUGE)
    result_body = padded(envelope(attempt, {"mc-circles": "b"}), HUGE)
    storms = [
        ("login, declared", f"{api}login", JSON, lambda: login_body),
        ("login, chunked", f"{api}login", JSON, lambda: chunked(login_body)),
        ("results, declared", results_url, auth, lambda: result_body),
        ("results, chunked", results_url, auth, lambda: chunked(result_body)),
    ]

    def send(url: str, headers: dict[str, str], data: Any) -> tuple[int, str]:
        with requests.Session() as http:
            reply = http.post(url, data=data, headers=headers, timeout=TIMEOUT)
            return reply.status_code, reply.json()["error"]

    # Once small, so what the refusals need is loaded before the baseline is read.
    for _, url, headers, _body in storms:
        assert send(url, headers, chunked(b" " * (5 * 1024 * 1024))) == (413, "body_too_large")
    before = memory_kb(process.pid, "VmRSS")
    with ThreadPoolExecutor(PARALLEL) as pool:
        for name, url, headers, body in storms:
            futures = [pool.submit(send, url, headers, body()) for _ in range(PARALLEL)]
            replies = [future.result() for future in futures]
            assert replies == [(413, "body_too_large")] * PARALLEL, name
    peak = memory_kb(process.pid, "VmHWM")
    growth = (peak - before) * 1024
    sent = len(storms) * PARALLEL * HUGE
    assert growth < GROWTH_ALLOWED, f"peak grew {growth / 2**20:.1f} MB (from {before / 1024:.0f} MB) for {sent} B"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM login_failures").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM results").fetchone() == (0,)
