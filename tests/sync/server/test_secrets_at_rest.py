"""A copy of the database alone reveals no access code, token, result secret or password (nor do the logs)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers.server import API, Demo, bearer, player_login


def database_bytes(db_path: Path) -> bytes:
    """The main file and the write-ahead log, read raw as a thief with a copy would."""
    files = [db_path, db_path.with_name(db_path.name + "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def spellings(code: str) -> list[bytes]:
    plain = code.replace("-", "")
    return [s.encode() for s in (code, plain, code.lower(), plain.lower())]


def test_no_secret_appears_in_the_database_files(
    client: TestClient, demo: Demo, admin: dict[str, str], db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    login = player_login(client, demo.codes[0])
    client.post(f"{API}/attempts/{login['attempt_id']}/heartbeat", json={}, headers=bearer(login["attempt_token"]))
    client.post(f"{API}/login", json={"access_code": "ZZZZ-ZZZZ", "machine_id": "pc"})  # a failed try is kept too
    staff = client.post(
        f"{API}/staff/login", json={"username": "demo-admin", "password": demo.data["staff"]["password"]}
    ).json()
    slips = client.get(f"{API}/staff/sittings/{demo.sitting_id}/codes", headers=admin).json()
    assert sorted(s["code"] for s in slips) == sorted(demo.codes)  # the codes are still recoverable with the key

    secrets = {
        "staff token": [staff["token"].encode(), admin["Authorization"].split()[1].encode()],
        "attempt token": [login["attempt_token"].encode()],
        "result secret": [login["result_secret"].encode()],
        "staff password": [demo.data["staff"]["password"].encode()],
        **{f"access code {c}": spellings(c) for c in demo.codes},
    }
    raw = database_bytes(db_path)
    assert b"Ada" in raw  # the files really were read (names are not secret)
    found = [name for name, forms in secrets.items() if any(form in raw for form in forms)]
    assert not found, f"readable in the database files: {found}"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    leaked = [name for name, forms in secrets.items() if any(form.decode() in logged for form in forms)]
    assert not leaked, f"written to the log: {leaked}"
