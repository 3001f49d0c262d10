"""Stopping and closing QtAudioPlayer mid-play, in a process of its own, for tests/player/audio/test_teardown.py.

A deadlock here hangs the process, so the test runs this with a timeout and a hang fails instead of blocking CI.
Run as `python -m tests.player.audio.teardown_child {gil,stress} --recording PATH [--cycles N] [--seed N]`; prints
one JSON line.

gil: for each way a play is torn down with the GIL held by Python, says how long FFmpeg's renderer thread took to
let go of our QAudioOutput while this thread kept the GIL (sys.setswitchinterval(60): nobody else gets it). If the
renderer needs the GIL to finish (the deadlock's first half), it never lets go: "released_ms" is null.

stress: plays and tears down at random moments for --cycles cycles, in the ways the app does (stop, stop then play
again, close, play to the end), with the GUI thread taking Qt's connection mutexes right after each stop (the
deadlock's second half); reports what each play told its listener.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import SIGNAL, QCoreApplication, QObject, QTimer
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer
from PySide6.QtWidgets import QApplication

from player.audio.devices import FixedOutputDevices
from player.audio.qt import QtAudioPlayer

WAIT_SECONDS = 20.0
# What FFmpeg's AudioRenderer listens to on our QAudioOutput; it disconnects when the renderer is deleted.
RENDERER_SIGNAL = SIGNAL("volumeChanged(float)")


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"teardown_child: waited {WAIT_SECONDS:.0f} s for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.002)


def keep_running(seconds: float) -> None:
    """Let the event loop run for a while (the varied moment of a stop)."""
    until = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() >= until, "time to pass")


class Events:
    """A PlaybackListener that only counts."""

    def __init__(self) -> None:
        self.started = self.progress = self.finished = self.errors = 0

    def on_started(self) -> None:
        self.started += 1

    def on_progress(self, position_ms: int, duration_ms: int) -> None:
        self.progress += 1

    def on_finished(self) -> None:
        self.finished += 1

    def on_error(self, error: object) -> None:
        self.errors += 1


def playing(recording: Path) -> tuple[QtAudioPlayer, Events]:
    player = QtAudioPlayer(FixedOutputDevices(["Test speakers"]), playback_rate=4.0)
    events = Events()
    player.set_listener(events)
    player.play(recording)
    wait_until(lambda: events.progress > 0, "the first progress tick")
    return player, events


def gil_check(recording: Path) -> dict[str, Any]:
    teardowns: dict[str, Callable[[QtAudioPlayer], None]] = {
        "stop": lambda player: player.stop(),
        "close": lambda player: player.close(),
        # Qt's own stop, called as any code could, keeping the GIL throughout (PySide does not release it).
        "QMediaPlayer.stop": lambda player: player.findChild(QMediaPlayer).stop(),
    }
    released: dict[str, float | None] = {}
    for name, tear_down in teardowns.items():
        player, _ = playing(recording)
        output = player.findChild(QAudioOutput)
        listening = output.receivers(RENDERER_SIGNAL)
        switch = sys.getswitchinterval()
        sys.setswitchinterval(60.0)
        try:
            start = time.monotonic()
            tear_down(player)
            # A busy loop of Python keeps the GIL: only work that does not need it can finish meanwhile.
            while output.receivers(RENDERER_SIGNAL) >= listening and time.monotonic() - start < 5.0:
                pass
            gone = output.receivers(RENDERER_SIGNAL) < listening
            released[name] = round((time.monotonic() - start) * 1000, 1) if gone else None
        finally:
            sys.setswitchinterval(switch)
        player.close()
        player.deleteLater()
    return {"listening_before": listening, "released_ms": released}


def take_connection_mutexes(pairs: Sequence[tuple[QTimer, QObject]]) -> None:
    # Each disconnect locks the pooled mutexes of two objects at fresh addresses (Qt has 131), with the GIL held.
    for sender, receiver in pairs:
        sender.timeout.disconnect(receiver.deleteLater)


def stress(recording: Path, *, cycles: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    counts = {"cycles": 0, "stop": 0, "replay": 0, "close": 0, "end": 0}
    wrong: list[str] = []
    # A number of cycles, not a time: on a loaded machine a timed run would test less without saying so.
    for _ in range(cycles):
        how = rng.choice(["stop", "replay", "close", "end"])
        counts["cycles"] += 1
        counts[how] += 1
        print(f"cycle {counts['cycles']}: {how}", file=sys.stderr, flush=True)  # the last line says where a hang was
        pairs = [(QTimer(), QObject()) for _ in range(300)]
        for sender, receiver in pairs:
            sender.timeout.connect(receiver.deleteLater)
        player, events = playing(recording)
        if how == "end":
            wait_until(lambda events=events: events.finished > 0, "the end of the recording")
        else:
            keep_running(rng.uniform(0, 0.15))
            if how == "replay":
                player.play(recording)
            if how == "close":
                player.close()
            else:
                player.stop()
            take_connection_mutexes(pairs)
            keep_running(0.05)
        # A stopped play reports neither finished nor an error; a play left to run finishes exactly once.
        if events.finished != (1 if how == "end" else 0) or events.errors or not events.started:
            wrong.append(f"{how}: {vars(events)}")
        player.close()
        player.deleteLater()
    return {**counts, "wrong": wrong}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("check", choices=["gil", "stress"])
    parser.add_argument("--recording", type=Path, required=True)
    parser.add_argument("--cycles", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    app = QApplication([])
    if args.check == "gil":
        result = gil_check(args.recording)
    else:
        result = stress(args.recording, cycles=args.cycles, seed=args.seed)
    QCoreApplication.processEvents()
    print(json.dumps(result), flush=True)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
