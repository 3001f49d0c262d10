"""`invigil-server` as a real process for tests: a seeded demo database, and `serve --port 0` until a block ends.

The process imports this checkout's code (PYTHONPATH), not whichever checkout the venv was installed from: run from
a git worktree, the installed script would otherwise serve another branch's server.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
REPO = Path(__file__).resolve().parents[2]


def command() -> Path:
    """The installed `invigil-server` beside this interpreter (the venv's)."""
    script = Path(sys.executable).with_name("invigil-server")
    if not script.is_file():
        pytest.fail(f"{script} is missing: install the project into this environment (pip install -e .)")
    return script


def this_checkout(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with PYTHONPATH set to this checkout, and unbuffered output."""
    return {**env, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def demo_seed(db: Path) -> dict[str, Any]:
    """`invigil-server demo-seed --json` into `db`: the demo school, its staff login and students with codes."""
    seeded = subprocess.run(
        [str(command()), "demo-seed", "--json", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        env=this_checkout(os.environ),
    )
    assert seeded.returncode == 0, seeded.stderr
    data: dict[str, Any] = json.loads(seeded.stdout)
    return data


@dataclass
class Served:
    process: subprocess.Popen[str]
    api: str
    """The API's base URL as the banner prints it, with its trailing slash: http://127.0.0.1:PORT/api/v1/"""
    banner: str
    output_after_banner: list[str] = field(default_factory=list)
    """What the process printed on stdout after its banner, once it has stopped (filled when the block ends)."""


@contextmanager
def serving(
    db: Path | str, *extra: str, env: Mapping[str, str] | None = None, stderr: Path | None = None
) -> Iterator[Served]:
    """`invigil-server serve --port 0` on `db` (a file or a database URL, with `extra` options) until the block
    ends, then Ctrl-C as an operator would stop it. The banner is printed once the socket listens, so the URL can be
    used at once.

    `env`: the process's environment (default: this one's); `stderr`: a file for its stderr (default: dropped)."""
    with open(stderr, "w") if stderr else open(os.devnull, "w") as errors:
        process = subprocess.Popen(
            [str(command()), "--db", str(db), "serve", "--port", "0", "--log-level", "warning", *extra],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=this_checkout(os.environ if env is None else env),
        )
    served: Served | None = None
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        banner = process.stdout.readline() if ready else ""
        assert banner.startswith("Invigil server on http://"), f"no banner from serve: {banner!r}"
        served = Served(process=process, api=banner.split()[3], banner=banner.rstrip("\n"))
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        try:
            rest, _ = process.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, _ = process.communicate()
        if served is not None:
            served.output_after_banner = rest.splitlines()
