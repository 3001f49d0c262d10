"""`invigil-server` as a real process for tests: a seeded demo database, and `serve --port 0` until a block ends."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 30.0


def command() -> Path:
    """The installed `invigil-server` beside this interpreter (the venv's)."""
    script = Path(sys.executable).with_name("invigil-server")
    if not script.is_file():
        pytest.fail(f"{script} is missing: install the project into this environment (pip install -e .)")
    return script


def demo_seed(db: Path) -> dict[str, Any]:
    """`invigil-server demo-seed --json` into `db`: the demo school, its staff login and students with codes."""
    seeded = subprocess.run(
        [str(command()), "demo-seed", "--json", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert seeded.returncode == 0, seeded.stderr
    data: dict[str, Any] = json.loads(seeded.stdout)
    return data


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[str]
    api: str
    """The API's base URL as the banner prints it, with its trailing slash: http://127.0.0.1:PORT/api/v1/"""


@contextmanager
def serving(db: Path, *extra: str, env: Mapping[str, str] | None = None) -> Iterator[Served]:
    """`invigil-server serve --port 0` on `db` (with `extra` options) until the block ends, then Ctrl-C as an
    operator would stop it. The banner is printed once the socket listens, so the URL can be used at once.

    `env`: the process's whole environment (default: this one's, unbuffered)."""
    process = subprocess.Popen(
        [str(command()), "--db", str(db), "serve", "--port", "0", "--log-level", "warning", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(env) if env is not None else {**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        banner = process.stdout.readline() if ready else ""
        assert banner.startswith("Invigil server on http://"), f"no banner from serve: {banner!r}"
        yield Served(process=process, api=banner.split()[3])
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
