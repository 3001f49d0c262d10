"""Running a built program in tests/build: wait for a sign that it started, and stop it as a user would."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.waiting import NotMet, wait_until

START_TIMEOUT_S = 60.0
PLAYER_STARTED = "Invigil player starting"
PLAYER_STOPPED = "Invigil player stopped"


def wait_for(condition: Callable[[], bool], *, what: str, process: subprocess.Popen[str], details: Path) -> None:
    """Poll until `condition` holds; fail with the child's stderr if it dies or START_TIMEOUT_S passes first."""
    try:
        wait_until(
            condition, what=what, timeout=START_TIMEOUT_S, interval=0.05, give_up_if=lambda: process.poll() is not None
        )
    except NotMet:
        state = "timed out" if process.poll() is None else f"exited with {process.returncode}"
        tail = details.read_text(encoding="utf-8", errors="replace")[-3000:] if details.exists() else ""
        pytest.fail(f"waiting for {what}: the process {state}; its stderr:\n{tail}")


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def stop(process: subprocess.Popen[str], sig: signal.Signals) -> int:
    process.send_signal(sig)
    try:
        return process.wait(timeout=START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"the process did not stop within {START_TIMEOUT_S:.0f} s of {sig.name}")


def start_player(command: list[str], *, env: dict[str, str], stderr_file: Path) -> subprocess.Popen[str]:
    """Start a built player, its stderr in `stderr_file`, with Ctrl+C ignored (as a shell starts a background job)
    until the app installs its own handler: a SIGINT that came before it is ready cannot kill it, and that handler
    appearing (sigint_caught) is the sign it is ready."""
    with stderr_file.open("w") as stderr:  # the child keeps its own copy of the handle
        return subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            env=env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )


def assert_player_ran_and_stopped(code: int, *, log_file: Path, stderr_file: Path, server: str, data: Path) -> None:
    """After a Ctrl+C: the player exited 0, logged its start with `server` and `data` and its stop, no traceback."""
    log = read_text(log_file)
    assert code == 0, read_text(stderr_file)[-3000:]
    assert f"{PLAYER_STARTED}: server {server}, data {data}, log {log_file}" in log
    assert PLAYER_STOPPED in log.split(PLAYER_STARTED, 1)[1]
    assert "Traceback" not in read_text(stderr_file)


def sigint_caught(pid: int) -> bool:
    """True once the process has its own SIGINT handler (Linux: the SigCgt mask in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False
