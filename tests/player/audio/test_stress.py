"""Thousands of plays, stops, replays and source changes under load never hang, crash, or reach Python from a Qt
thread (stress_child.py), with no audio device and with a real one (a PulseAudio null sink)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QThread

from tests.helpers.foreign_gil import ForeignGilTakes
from tests.helpers.null_sink import null_sink_server

REPO = Path(__file__).resolve().parents[3]
OPERATIONS = 1500
# A hang-guard, not a speed budget: a run takes 10-30 s. Past HANG_SECONDS faulthandler in the child prints every
# thread's Python stack and ends it; the timeout below is only a backstop.
HANG_SECONDS = 150
# FFmpeg's and Qt's chatter in the child's stderr, left out of a failure's message.
NOISE = ("Duration:", "Stream #", "Metadata:", "Comment", "Input #", "No audio device", "discarded samples", "exit req")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three real 0.4 s recordings in different formats, so a play of another clip changes decoder and format."""
    folder = tmp_path_factory.mktemp("stress")
    made = []
    for name, rate, channels, tone in (("a.ogg", 44100, 2, 440), ("b.wav", 22050, 1, 660), ("c.flac", 48000, 2, 550)):
        path = folder / name
        subprocess.run(
            ["sox", "-n", "-r", str(rate), "-c", str(channels), str(path), "synth", "0.4", "sine", str(tone)],
            check=True,
            capture_output=True,
        )
        made.append(path)
    return made


@contextmanager
def _sound_server(device: str, folder: Path) -> Iterator[str]:
    """PULSE_SERVER for the child: a running null sink, or a socket that is not there (no device on a build
    machine; Qt may still find a desktop's sound card through PipeWire, so "none" is not asserted)."""
    if device == "none":
        yield f"unix:{folder / 'no-sound-server'}"
        return
    with null_sink_server(folder / "pulse") as server:
        yield server


def _stress(clips: list[Path], *, device: str, pulse_server: str, seed: int) -> dict[str, Any]:
    command = [
        *(sys.executable, "-m", "tests.player.audio.stress_child", "--clips", *map(str, clips)),
        *("--operations", str(OPERATIONS), "--seed", str(seed), "--device", device),
        *("--hang-seconds", str(HANG_SECONDS - 10)),
    ]
    env = {**os.environ, "PULSE_SERVER": pulse_server}
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired as hang:
        stderr = hang.stderr.decode(errors="replace") if isinstance(hang.stderr, bytes) else (hang.stderr or "")
        pytest.fail(f"stress_child hung for {HANG_SECONDS} s; last stderr: {stderr[-2000:]}")
    stderr = "\n".join(line for line in done.stderr.splitlines() if not any(bit in line for bit in NOISE))
    # A crash ends the child by a signal (a negative code) after faulthandler printed the Python stacks.
    assert done.returncode == 0, f"stress_child ended with {done.returncode}:\n{stderr[-4000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_gil_counter_sees_python_run_on_a_qt_thread(qapp: object) -> None:
    # The stress below is only as good as this counter: PySide runs a QThread's Python run() on Qt's own thread.
    class PythonOnQtThread(QThread):
        def run(self) -> None:
            pass

    foreign = ForeignGilTakes()
    thread = PythonOnQtThread()
    thread.start()
    thread.wait()

    assert foreign.count() == 1


@pytest.mark.parametrize("device", ["none", "null-sink"])
def test_thousands_of_plays_stops_and_source_changes_under_load(clips: list[Path], device: str, tmp_path: Path) -> None:
    with _sound_server(device, tmp_path) as pulse_server:
        result = _stress(clips, device=device, pulse_server=pulse_server, seed=18)

    assert sum(result["done"].values()) == OPERATIONS
    assert all(count >= 1 for count in result["done"].values()), result["done"]  # every operation was tried
    assert result["plays"] >= OPERATIONS // 3, result
    assert result["finished"] >= 5, result
    # No event after a stop, no play finished twice, no progress backwards, no error from a good recording.
    assert result["wrong"] == []
    # The deadlock's precondition: a Qt, FFmpeg or PulseAudio thread taking the GIL (a slot, a wrapper, a lookup).
    assert result["foreign_gil_takes"] == 0, result["foreign_gil_after"]
    if device == "null-sink":
        assert result["outputs"], "the null sink was not seen as an audio output"
        assert result["done"]["sinks"] >= 1  # outputs came and went under the player
