"""Stopping or closing mid-play never deadlocks: FFmpeg's threads tear down without the GIL (teardown_child.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
# A hang-guard, not a speed budget: a clean run takes a few seconds, a deadlock never ends.
HANG_SECONDS = 120


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 2 s Ogg Vorbis recording (the Debian package sox must be installed)."""
    path = tmp_path_factory.mktemp("teardown") / "tone.ogg"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", str(path), "synth", "2", "sine", "440"], check=True, capture_output=True
    )
    return path


def _child(*args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.player.audio.teardown_child", *args]
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired as hang:
        stderr = hang.stderr.decode(errors="replace") if isinstance(hang.stderr, bytes) else (hang.stderr or "")
        pytest.fail(
            f"teardown_child hung for {HANG_SECONDS} s (a GIL/Qt-mutex deadlock?); last stderr: {stderr[-800:]}"
        )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_ffmpeg_threads_let_go_of_a_stopped_play_while_python_holds_the_gil(recording: Path) -> None:
    result = _child("gil", "--recording", str(recording))

    assert result["listening_before"] >= 1  # FFmpeg's renderer really was listening to our audio output
    # None would mean the renderer thread waited for the GIL while holding a Qt connection mutex: the deadlock.
    assert all(ms is not None for ms in result["released_ms"].values()), result


def test_stopping_and_closing_at_random_moments_never_hangs_and_reports_rightly(recording: Path) -> None:
    result = _child("stress", "--recording", str(recording), "--cycles", "24", "--seed", "11")

    assert result["cycles"] == 24
    assert all(result[how] >= 1 for how in ("stop", "replay", "close", "end")), result  # every way was tried
    assert result["wrong"] == []
