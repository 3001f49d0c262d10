"""Whose address a failed login counts under, with a real `invigil-server serve` process on loopback:
X-Forwarded-For is believed only from `--forwarded-allow-ips`, never by default and never from the environment."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sync.crockford import ALPHABET
from sync.server.cli import Env, main
from sync.server.settings import LoginLimits
from tests.helpers.served import serving

BACKSTOP = LoginLimits().per_address  # the real server runs with the default limits


@dataclass(frozen=True)
class Served:
    url: str
    codes: list[str]


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    db = tmp_path_factory.mktemp("proxy") / "server.db"
    out = io.StringIO()
    assert main(["--db", str(db), "demo-seed", "--json"], Env(stdout=out, stderr=out, stdin=io.StringIO())) == 0
    return db, [student["access_code"] for student in json.loads(out.getvalue())["students"]]


def serve(db: Path, codes: list[str], *extra: str) -> Iterator[Served]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("INVIGIL_")}
    # uvicorn reads this when `serve` does not say otherwise: trusting everyone must not come in this way.
    env["FORWARDED_ALLOW_IPS"] = "*"
    with serving(db, *extra, env=env) as served:
        yield Served(url=served.api.rstrip("/"), codes=codes)  # the banner comes once the socket listens


@pytest.fixture
def default_server(seeded_db: tuple[Path, list[str]], tmp_path: Path) -> Iterator[Served]:
    yield from serve(*fresh_copy(seeded_db, tmp_path))


@pytest.fixture
def behind_proxy(seeded_db: tuple[Path, list[str]], tmp_path: Path) -> Iterator[Served]:
    yield from serve(*fresh_copy(seeded_db, tmp_path), "--forwarded-allow-ips", "127.0.0.1")


def fresh_copy(seeded: tuple[Path, list[str]], tmp_path: Path) -> tuple[Path, list[str]]:
    """Each test gets the seeded database (and its key file) as it was, with no failures counted yet."""
    db, codes = seeded
    for suffix in ("", ".secret"):
        (tmp_path / f"server.db{suffix}").write_bytes(Path(f"{db}{suffix}").read_bytes())
    return tmp_path / "server.db", codes


def wrong_code(n: int) -> str:
    """A code no demo student holds (ending ZZZZ keeps it away from 3 random codes) with its own prefix."""
    return "".join(ALPHABET[(n >> (5 * place)) & 31] for place in reversed(range(4))) + "ZZZZ"


def guess(http: requests.Session, served: Served, n: int, *, forwarded_for: str) -> requests.Response:
    return http.post(
        f"{served.url}/login",
        json={"access_code": wrong_code(n), "machine_id": f"script-{n}"},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=10,
    )


def test_by_default_a_rotated_forwarded_for_is_ignored(default_server: Served) -> None:
    with requests.Session() as http:
        for n in range(BACKSTOP):
            reply = guess(http, default_server, n, forwarded_for=f"10.0.{n // 250}.{n % 250 + 1}")
            assert reply.status_code == 401, reply.text
        # Every failure counted against 127.0.0.1, whatever the header said: the backstop is reached.
        reply = guess(http, default_server, BACKSTOP, forwarded_for="10.99.99.99")
        assert reply.status_code == 429
        assert reply.json()["error"] == "locked_out"
        assert "so many wrong codes have come from your school's network" in reply.json()["message"]
        assert int(reply.headers["Retry-After"]) > 0
        # A correct code from a machine that typed no wrong code still signs in.
        ok = http.post(
            f"{default_server.url}/login",
            json={"access_code": default_server.codes[0], "machine_id": "pc-1"},
            timeout=10,
        )
        assert ok.status_code == 200, ok.text


def test_behind_a_named_proxy_the_forwarded_address_counts(behind_proxy: Served) -> None:
    with requests.Session() as http:
        for n in range(BACKSTOP):
            assert guess(http, behind_proxy, n, forwarded_for="10.0.0.7").status_code == 401
        # 10.0.0.7 is over the backstop; another student address behind the same proxy is not.
        assert guess(http, behind_proxy, BACKSTOP, forwarded_for="10.0.0.7").status_code == 429
        assert guess(http, behind_proxy, BACKSTOP + 1, forwarded_for="10.0.0.8").status_code == 401
        # A client behind 10.0.0.7 that sends its own header (the proxy appends the real address) gains nothing.
        forged = guess(http, behind_proxy, BACKSTOP + 2, forwarded_for="10.0.0.9, 10.0.0.7")
        assert forged.status_code == 429


def test_a_forwarded_allow_ips_typo_is_refused_before_serving(seeded_db: tuple[Path, list[str]]) -> None:
    db, _ = seeded_db
    out, err = io.StringIO(), io.StringIO()
    argv = ["--db", str(db), "serve", "--port", "0", "--forwarded-allow-ips", "127.0.0.1,proxy.local"]
    assert main(argv, Env(stdout=out, stderr=err, stdin=io.StringIO())) == 1
    assert err.getvalue() == (
        "invigil-server serve: --forwarded-allow-ips: 'proxy.local' is not an IP address or network "
        "(like 10.0.0.5 or 10.0.0.0/24). Name the address your reverse proxy connects from. (INV-8014)\n"
    )
    assert out.getvalue() == ""
