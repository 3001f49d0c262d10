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


def sigint_caught(pid: int) -> bool:
    """True once the process has its own SIGINT handler (Linux: the SigCgt mask in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False
