"""Several real `invigil-server serve` processes on one PostgreSQL database, as a trust runs them behind a proxy.

Each process is started on a fixed 127.0.0.1 port of its own (so a restarted one is found at the same address),
with the database set up by the real `init` and `demo-seed` commands (the demo seeded at the real time: these
servers keep the real clock). `restart()` kills one with SIGKILL, as a crash would, and starts it again.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from tests.helpers.postgres import free_port
from tests.helpers.served import START_TIMEOUT_S, STOP_TIMEOUT_S, command, this_checkout
from tests.helpers.waiting import NotMet, wait_until


def run_cli(url: str, secret: Path, *argv: str) -> str:
    """One `invigil-server` command on the database; returns its stdout (fails the test on a non-zero exit)."""
    done = subprocess.run(
        [str(command()), "--db", url, "--secret-file", str(secret), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=this_checkout(os.environ),
    )
    assert done.returncode == 0, f"invigil-server {' '.join(argv)} failed: {done.stderr}"
    return done.stdout


def seed_demo(url: str, secret: Path) -> dict[str, Any]:
    """`init` and `demo-seed --json` on an empty database: the demo school, its staff login, students and codes."""
    run_cli(url, secret, "init")
    data: dict[str, Any] = json.loads(run_cli(url, secret, "demo-seed", "--json"))
    return data


class ServerProcesses:
    """`count` server processes on `url`; start(), stop() and restart() as the fault schedules need them."""

    def __init__(self, url: str, secret: Path, *, count: int, extra: Sequence[str] = ()) -> None:
        self.url = url
        self.secret = secret
        self.extra = list(extra)
        self.ports = [free_port() for _ in range(count)]
        self.upstreams = [("127.0.0.1", port) for port in self.ports]
        self.api = [f"http://127.0.0.1:{port}/api/v1" for port in self.ports]
        self._processes: list[subprocess.Popen[str] | None] = [None] * count
        self._next_restart = 0
        self._changing = threading.RLock()
        """start/stop/restart are called from the fault proxy's connection threads, sometimes two at once."""
        self._reader: Any = None
        self.starts = 0
        self.codes: list[str] = []
        self.sitting_clock: datetime | None = None
        """A moment inside the seeded sitting by this server's clock (set by whoever seeded it)."""

    def start(self) -> None:
        with self._changing:
            self._start()

    def _start(self) -> None:
        """Start every process that is not running, and wait until each listens."""
        starting = [i for i, p in enumerate(self._processes) if p is None]
        for i in starting:
            with self._log(i).open("a") as errors:
                self._processes[i] = self._spawn(i, errors)
        self._wait_for_banners(starting)
        self.starts += 1

    def _spawn(self, i: int, errors: IO[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
                [str(command()), "--db", self.url, "--secret-file", str(self.secret), "serve",
                 "--port", str(self.ports[i]), "--log-level", "warning", *self.extra],
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                env=this_checkout(os.environ),
            )  # fmt: skip

    def _wait_for_banners(self, starting: list[int]) -> None:
        for i in starting:
            process = self._processes[i]
            assert process is not None
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
            banner = process.stdout.readline() if ready else ""
            if not banner.startswith("Invigil server on http://"):
                raise AssertionError(
                    f"server {i} printed no banner ({banner!r}); its stderr ends: {self._log(i).read_text()[-3000:]}"
                )
            self._wait_until_it_answers(i)

    def _wait_until_it_answers(self, i: int) -> None:
        """The banner comes once the socket is bound, before the app is built: on a busy machine a restarted
        process took seconds more to answer, and a schedule's retries ran out against it. "Started" means /health
        answers."""
        process = self._processes[i]
        assert process is not None

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"{self.api[i]}/health", timeout=START_TIMEOUT_S) as reply:
                    return bool(reply.status == 200)
            except (urllib.error.URLError, OSError):
                return False

        try:
            wait_until(
                answers,
                what=f"server {i} to answer /health",
                timeout=START_TIMEOUT_S,
                give_up_if=lambda: process.poll() is not None,
            )
        except NotMet as exc:
            raise AssertionError(f"{exc}; its stderr ends: {self._log(i).read_text()[-3000:]}") from exc

    def _log(self, i: int) -> Path:
        return self.secret.with_name(f"server-{i}.stderr")

    def stop(self) -> None:
        with self._changing:
            self._stop()

    def _stop(self) -> None:
        """Ctrl-C to every process, as an operator stops them."""
        for process in self._processes:
            if process is not None:
                process.send_signal(signal.SIGINT)
        for i, process in enumerate(self._processes):
            if process is not None:
                _wait(process)
            self._processes[i] = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def restart(self) -> None:
        with self._changing:
            self._restart()

    def _restart(self) -> None:
        """Kill one process (each in turn) with SIGKILL, mid-request if it is in one, and start it again."""
        i = self._next_restart % len(self._processes)
        self._next_restart += 1
        process = self._processes[i]
        if process is not None:
            process.kill()
            _wait(process)
            self._processes[i] = None
        self._start()

    def result_keys(self, attempt_id: str | None = None) -> list[str]:
        """Every idempotency key in the results table (repeats included), read from the database."""
        from sqlalchemy import select as sql_select

        from sync.server.models import Result
        from sync.server.store import Store

        if self._reader is None:
            self._reader = Store.open(self.url, migrate=False)
        with self._reader.transaction() as session:
            query = sql_select(Result.idempotency_key)
            if attempt_id is not None:
                query = query.where(Result.attempt_id == attempt_id)
            return list(session.scalars(query))


def _wait(process: subprocess.Popen[str]) -> None:
    try:
        process.communicate(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
