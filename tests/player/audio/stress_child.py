"""Thousands of plays, stops, replays and source changes under load, in a process of its own, for test_stress.py.

Run as `python -m tests.player.audio.stress_child --clips A B C --operations N --seed N --device {none,null-sink}
[--hang-seconds S]`; prints one JSON line: what was done, what went wrong for a student (events after a stop, a
play finished twice, progress going backwards, an error from a good file), and how often a thread of Qt's, FFmpeg's
or PulseAudio's took the GIL (tests/helpers/foreign_gil.py): the audio deadlock needs that, so it must be 0.

Load, so the windows a deadlock needs are wide: a process spinning on a core (the machine's other work), a Python
thread spinning in this process (the GIL is busy when a Qt thread would want it), gc.collect() between operations
(wrappers freed at any moment, as the app's collector does), and with --device null-sink the sound server's list
of outputs changing under the player. A hang is ended by faulthandler, which prints every thread's Python stack.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication
from PySide6.QtMultimedia import QMediaDevices
from PySide6.QtWidgets import QApplication

from player.audio.devices import FixedOutputDevices, QtOutputDevices
from player.audio.interface import AudioError, OutputDevices
from player.audio.qt import QtAudioPlayer
from tests.helpers.foreign_gil import ForeignGilTakes

WAIT_SECONDS = 20.0
# How often each operation is picked. Playing another clip changes the source; "replay" plays the same one again.
WEIGHTS = {"play": 25, "replay": 15, "stop": 15, "run": 20, "volume": 5, "collect": 10, "end": 1, "renew": 2}
# Foreign GIL takes are counted every this many operations (each count starts a thread: not free under load).
COUNT_EVERY = 10
SINK_CHURN_WEIGHT = 0.5
# A process that spins until its parent (this child) is gone, so a killed run leaves no spinning orphan.
SPIN = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    for _ in range(100_000): pass\n"


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"stress_child: waited {WAIT_SECONDS:.0f} s for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.001)


def keep_running(seconds: float) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        QCoreApplication.processEvents()
        time.sleep(0.001)


@dataclass
class Play:
    number: int
    started: bool = False
    last_position: int = 0


class Plays:
    """A PlaybackListener that holds each play to the AudioPlayer contract and writes down every breach."""

    def __init__(self) -> None:
        self.current: Play | None = None
        self.count = self.finished = 0
        self.wrong: list[str] = []

    def begin(self) -> None:
        """Called just before play(): what follows belongs to a new play (the old one was replaced)."""
        self.count += 1
        self.current = Play(self.count)

    def stopped(self) -> None:
        """Called just after stop() or close(): a stopped play reports nothing more."""
        self.current = None

    def on_started(self) -> None:
        play = self._live("started")
        if play is not None:
            if play.started:
                self.wrong.append(f"play {play.number}: started twice")
            play.started = True

    def on_progress(self, position_ms: int, duration_ms: int) -> None:
        play = self._live(f"progress {position_ms}/{duration_ms}")
        if play is None:
            return
        if not play.started or position_ms < play.last_position or position_ms > duration_ms:
            self.wrong.append(f"play {play.number}: progress {position_ms}/{duration_ms} after {play}")
        play.last_position = position_ms

    def on_finished(self) -> None:
        if self._live("finished") is not None:
            self.finished += 1
            self.current = None

    def on_error(self, error: AudioError) -> None:
        self.wrong.append(f"error from a good recording: {error.log_text()}")

    def _live(self, what: str) -> Play | None:
        if self.current is None:
            self.wrong.append(f"{what} after play {self.count} was stopped or had finished")
        return self.current


class Sinks:
    """A second null sink loaded and unloaded in turn, made the default while there: outputs come and go."""

    def __init__(self) -> None:
        self._module: str | None = None

    def churn(self) -> None:
        if self._module is None:
            loaded = subprocess.run(
                ["pactl", "load-module", "module-null-sink", "sink_name=stress_churn"],
                capture_output=True,
                text=True,
                check=True,
            )
            self._module = loaded.stdout.strip()
            subprocess.run(["pactl", "set-default-sink", "stress_churn"], capture_output=True, check=True)
        else:
            subprocess.run(["pactl", "unload-module", self._module], capture_output=True, check=True)
            self._module = None

    def restore(self) -> None:
        """Unload the second sink if it is loaded."""
        if self._module is not None:
            self.churn()


def new_player(devices: OutputDevices, plays: Plays) -> QtAudioPlayer:
    player = QtAudioPlayer(devices, playback_rate=4.0)
    player.set_listener(plays)
    return player


def stress(clips: Sequence[Path], *, operations: int, seed: int, device: str) -> dict[str, Any]:
    rng = random.Random(seed)
    devices: OutputDevices = QtOutputDevices() if device == "null-sink" else FixedOutputDevices(["Test speakers"])
    if device == "null-sink":
        wait_until(lambda: bool(devices.available()), "the null sink to appear as an output")
    outputs = [output.description() for output in QMediaDevices.audioOutputs()]
    weights = dict(WEIGHTS, **({"sinks": SINK_CHURN_WEIGHT} if device == "null-sink" else {}))
    sinks = Sinks()
    plays = Plays()
    player = new_player(devices, plays)
    path = clips[0]
    done = dict.fromkeys(weights, 0)
    foreign = ForeignGilTakes()
    foreign_after: list[str] = []
    seconds = dict.fromkeys(weights, 0.0)
    for number in range(1, operations + 1):
        operation = rng.choices(list(weights), weights=list(weights.values()))[0]
        done[operation] += 1
        began = time.monotonic()
        if number % 250 == 0:
            print(f"operation {number}: {operation}", file=sys.stderr, flush=True)  # the last says where it hung
        if operation in ("play", "end"):
            path = rng.choice([clip for clip in clips if clip != path])
        if operation in ("play", "replay", "end"):
            plays.begin()
            player.play(path)
        if operation == "end":
            wait_until(lambda: plays.current is None, f"the end of {path.name} (operation {number})")
        elif operation == "stop":
            player.stop()
            plays.stopped()
        elif operation == "run":
            keep_running(rng.uniform(0, 0.015))
        elif operation == "volume":
            player.set_volume(rng.random())
        elif operation == "collect":
            gc.collect()
        elif operation == "renew":
            player.close()
            plays.stopped()
            player.deleteLater()
            player = new_player(devices, plays)
            gc.collect()
        elif operation == "sinks":
            sinks.churn()
        seconds[operation] += time.monotonic() - began
        if number % COUNT_EVERY == 0 and foreign.count() > len(foreign_after):
            foreign_after.append(f"operations {number - COUNT_EVERY + 1}-{number}")
    player.close()
    plays.stopped()
    keep_running(0.05)
    sinks.restore()
    return {
        "operations": operations,
        "done": done,
        "plays": plays.count,
        "finished": plays.finished,
        "wrong": plays.wrong[:20],
        "foreign_gil_takes": foreign.count(),
        "foreign_gil_after": foreign_after[:20],
        "outputs": outputs,
        "seconds_by_operation": {name: round(spent, 1) for name, spent in seconds.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=Path, nargs="+", required=True)
    parser.add_argument("--operations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=["none", "null-sink"], default="none")
    parser.add_argument("--hang-seconds", type=float, default=0)
    args = parser.parse_args(argv)
    faulthandler.enable()  # a crash prints every thread's Python stack before the process dies
    if args.hang_seconds:
        faulthandler.dump_traceback_later(args.hang_seconds, exit=True)
    spinner = subprocess.Popen([sys.executable, "-c", SPIN])
    spinning = True

    def spin() -> None:
        while spinning:
            pass

    app = QApplication([])
    # As the app does (player/ui/garbage.py): collections only on this thread, when asked for; the objects made
    # by the imports frozen out of them, so each gc.collect() is quick and only sees what the stress made.
    gc.disable()
    gc.collect()
    gc.freeze()
    # Short GIL turns: the spinning thread hands the GIL back within 1 ms, and hand-overs are many.
    sys.setswitchinterval(0.001)
    busy = threading.Thread(target=spin, daemon=True)
    busy.start()  # before ForeignGilTakes starts counting: a Python thread, not a foreign one
    started = time.monotonic()
    try:
        result = stress(args.clips, operations=args.operations, seed=args.seed, device=args.device)
    finally:
        spinning = False
        spinner.kill()
        spinner.wait()
    busy.join()
    QCoreApplication.processEvents()
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result), flush=True)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
