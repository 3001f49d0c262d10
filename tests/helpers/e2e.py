"""The real server and the real player, each as its own process: starting them, reading what they print."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
SERVER_BANNER = "Invigil server on "


class LineReader:
    """Every line a child prints, in order, as it comes: a thread feeds a queue so the test can wait with a timeout."""

    def __init__(self, stream: object) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()
        self.finished = False

    def _pump(self, stream: object) -> None:
        assert hasattr(stream, "readline")
        for line in iter(stream.readline, ""):
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next(self, timeout: float) -> str | None:
        """The next line, or None at the end of the output or when `timeout` passes first."""
        if self.finished:
            return None
        try:
            line = self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if line is None:
            self.finished = True
        return line

    def rest(self) -> list[str]:
        """After the child has died: whatever it printed that was not read yet (it all counts)."""
        self._thread.join(timeout=START_TIMEOUT_S)
        lines: list[str] = []
        while not self.finished:
            line = self._queue.get()
            if line is None:
                self.finished = True
            else:
                lines.append(line)
        return lines


def invigil_server() -> list[str]:
    """The installed `invigil-server` beside this Python (the venv's), as an admin would run it."""
    script = Path(sys.executable).with_name("invigil-server")
    if not script.is_file():
        pytest.fail(f"{script} is missing: install the project into this environment (pip install -e .)")
    return [str(script)]


@dataclass(frozen=True)
class E2EServer:
    url: str
    codes: list[str]
    db: Path


def isolated_env(folder: Path, **extra: str) -> dict[str, str]:
    """The parent's environment without any INVIGIL_* setting or config file of the developer's, plus `extra`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("INVIGIL_")}
    folder.mkdir(parents=True, exist_ok=True)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        INVIGIL_CONFIG=str(folder / "no-machine-config.toml"),
        XDG_CONFIG_HOME=str(folder / "user-config"),
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class DriverRun:
    """One life of the player process, from start to SIGKILL."""

    process: subprocess.Popen[str]
    lines: LineReader
    stderr_path: Path
    seen: list[str] = field(default_factory=list)

    def next(self, timeout: float) -> str | None:
        line = self.lines.next(timeout)
        if line is not None:
            self.seen.append(line)
        return line

    def kill(self) -> list[str]:
        """Pull the plug; returns the lines printed before it died that had not been read yet."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=START_TIMEOUT_S)
        rest = self.lines.rest()
        self.seen.extend(rest)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return rest

    def stderr_tail(self, lines: int = 15) -> str:
        text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        kept = [line for line in text.splitlines() if "symbolsresolver" not in line]
        return "\n".join(kept[-lines:])


def start_driver(
    *,
    server: E2EServer,
    code: str,
    data_dir: Path,
    seed: int,
    env: dict[str, str],
    log_path: Path,
    claim_saved_early: bool = False,
) -> DriverRun:
    command = [sys.executable, "-m", "tests.e2e.player_driver", "--code", code, "--seed", str(seed)]
    if claim_saved_early:
        command.append("--claim-saved-early")
    command += ["--", "--server", server.url, "--data-dir", str(data_dir)]
    with log_path.open("w") as stderr:  # the child keeps its own copy of the handle
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    return DriverRun(process=process, lines=LineReader(process.stdout), stderr_path=log_path)


@contextmanager
def serve_demo(folder: Path) -> Iterator[E2EServer]:
    """`invigil-server demo-seed --json`, then `serve --port 0` on a database in `folder`, as the quick start does;
    stopped on leaving. A test that uses up the demo's students may run its own."""
    db = folder / "server.db"
    env = isolated_env(folder / "env")
    seeded = subprocess.run(
        [*invigil_server(), "--db", str(db), "demo-seed", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert seeded.returncode == 0, f"demo-seed failed ({seeded.returncode}): {seeded.stderr}"
    codes = [student["access_code"] for student in json.loads(seeded.stdout)["students"]]
    with (folder / "serve.stderr").open("w") as stderr:  # the child keeps its own copy of the handle
        serve = subprocess.Popen(
            [*invigil_server(), "--db", str(db), "serve", "--port", "0", "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    lines = LineReader(serve.stdout)
    banner = lines.next(START_TIMEOUT_S) or ""
    if not banner.startswith(SERVER_BANNER):
        serve.kill()
        serve.wait()
        pytest.fail(f"the server did not start: {banner!r}; {(folder / 'serve.stderr').read_text()}")
    api = banner.removeprefix(SERVER_BANNER).split()[0]
    url = api.removesuffix("/").removesuffix("/api/v1")
    try:
        yield E2EServer(url=url, codes=codes, db=db)
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        lines.rest()
        if serve.stdout is not None:
            serve.stdout.close()
