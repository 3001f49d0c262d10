"""Time left after kill -9: the real player, killed at random moments, comes back with the time it had, never less
and at most 1 s more.

The driver (tests/e2e/player_driver.py --report-clock) prints the section clock with CLOCK_MONOTONIC at every step;
the test reads the same clock as it pulls the plug, so it knows the time left at that moment to the millisecond.
The next life prints the time its sitting began with (RESUMED), which is compared with it. Checkpoints stay at the
default 5 s, so the journal alone would be up to 5 s off: only the tick's time-left record can pass.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.e2e import REPO, START_TIMEOUT_S, DriverRun, E2EServer, LineReader, isolated_env, serve_demo

KILLS = int(os.environ.get("INVIGIL_E2E_TIME_KILLS", "8"))
MOST_GIVEN_BACK_S = 1.0
"""The issue's promise: after a crash the clock shows the time left at the kill, at most 1 s more, never less."""


@dataclass(frozen=True)
class Clock:
    section: str
    left: float
    paused: bool
    at: float
    """CLOCK_MONOTONIC seconds when `left` was read."""

    def left_at(self, moment: float) -> float:
        return self.left if self.paused else max(0.0, self.left - (moment - self.at))


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EServer]:
    # Its own demo school: the session's server hands each of its three students to another test.
    with serve_demo(tmp_path_factory.mktemp("time-server")) as server:
        yield server


def start_player(
    server: E2EServer, *, code: str, data_dir: Path, seed: int, env: dict[str, str], log: Path
) -> DriverRun:
    command = [sys.executable, "-m", "tests.e2e.player_driver", "--code", code, "--seed", str(seed), "--report-clock"]
    command += ["--", "--server", server.url, "--data-dir", str(data_dir)]
    with log.open("w") as stderr:  # the child keeps its own copy of the handle
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    return DriverRun(process=process, lines=LineReader(process.stdout), stderr_path=log)


def one_life(run: DriverRun, *, run_for: float | None) -> tuple[Clock | None, Clock | None, float]:
    """Until the sitting has run `run_for` seconds (None: only until it began), then SIGKILL.

    Returns the RESUMED line (as a paused Clock), the last CLOCK line and the moment of the kill."""
    resumed: Clock | None = None
    last: Clock | None = None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = run.next(deadline - time.monotonic())
        if line is None:
            break
        kind, _, rest = line.partition(" ")
        if kind == "RESUMED" and resumed is None:
            section, left = rest.split(" ")
            resumed = Clock(section, float(left), paused=True, at=time.monotonic())
            if run_for is None:
                break
            deadline = time.monotonic() + run_for
        elif kind == "CLOCK":
            section, left, paused, at = rest.split(" ")
            last = Clock(section, float(left), paused == "1", float(at))
        elif kind in {"STUCK", "BLOCKED"}:
            pytest.fail(f"{line}\n{run.stderr_tail()}")
    os.kill(run.process.pid, signal.SIGKILL)
    killed_at = time.monotonic()  # after the signal is sent: the clock at the kill is never overestimated
    for line in run.kill():
        kind, _, rest = line.partition(" ")
        if kind == "CLOCK":  # printed before it died: it counts
            section, left, paused, at = rest.split(" ")
            last = Clock(section, float(left), paused == "1", float(at))
    return resumed, last, killed_at


def test_time_left_after_kill_minus_9_is_never_less_and_at_most_a_second_more(
    own_server: E2EServer, tmp_path: Path
) -> None:
    seed = int(os.environ.get("INVIGIL_E2E_SEED", str(random.randrange(2**31))))
    rng = random.Random(seed)
    env = isolated_env(tmp_path / "env")  # the default 5 s checkpoints
    data_dir = tmp_path / "data"
    checked: list[str] = []
    problems: list[str] = []
    at_kill: tuple[str, float] | None = None
    for life in range(KILLS + 1):
        run = start_player(
            own_server,
            code=own_server.codes[0],
            data_dir=data_dir,
            seed=rng.randrange(2**31),
            env=env,
            log=tmp_path / f"player-{life}.stderr",
        )
        final = life == KILLS
        resumed, last, killed_at = one_life(run, run_for=None if final else rng.uniform(0.5, 4.0))
        assert resumed is not None, f"life {life}: no sitting began (seed {seed}):\n{run.stderr_tail()}"
        if at_kill is not None and at_kill[0] == resumed.section:
            given_back = resumed.left - at_kill[1]
            checked.append(f"life {life}: {at_kill[1]:.3f} s left at the kill, resumed with {resumed.left:.3f} s")
            if not 0 <= given_back <= MOST_GIVEN_BACK_S:
                problems.append(f"{checked[-1]}: {given_back:+.3f} s")
        if final:
            break
        assert last is not None, f"life {life}: no CLOCK line before the kill"
        at_kill = (last.section, last.left_at(killed_at))

    report = "\n".join(checked)
    assert problems == [], f"seed {seed} (INVIGIL_E2E_SEED={seed} repeats it):\n" + "\n".join(problems)
    # Not vacuous: most restarts came back in the section they were killed in (the driver may end one just
    # before a kill, and then the next section's full time is right, but is not what this test measures).
    assert len(checked) >= KILLS // 2, report
