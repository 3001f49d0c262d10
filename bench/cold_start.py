"""Cold start: process start -> access-code screen painted (offscreen), against a bare Qt window in the same run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import Figure, Sizes, median
from bench.qt_child import MARKER

TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    peak_rss_kb: int


def qt_env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    # A config file of the bench machine must not change what is measured.
    env.setdefault("INVIGIL_CONFIG", os.devnull)
    return env


def run_child(what: str, *, data_dir: Path | None = None) -> ChildRun:
    """Start `bench.qt_child` and time it until it prints the paint marker."""
    command = [sys.executable, "-m", "bench.qt_child", what]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=qt_env())
    assert child.stdout is not None
    line = child.stdout.readline()
    elapsed = time.perf_counter() - started
    try:
        _, stderr = child.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        _, stderr = child.communicate()
    if not line.startswith(MARKER):
        raise RuntimeError(f"bench.qt_child {what} never painted (exit {child.returncode}): {stderr.strip()[-800:]}")
    return ChildRun(seconds=elapsed, peak_rss_kb=int(line.split()[1]))


def measure(sizes: Sizes) -> tuple[Figure, list[ChildRun]]:
    """Interleaved runs (bare, player, bare, ...) so drift hits both alike; returns the bare runs too."""
    bare: list[ChildRun] = []
    player: list[ChildRun] = []
    with tempfile.TemporaryDirectory(prefix="invigil-bench-cold-") as tmp:
        run_child("bare")  # warm the page cache for both: we measure start-up, not the first disk read
        run_child("player", data_dir=Path(tmp) / "warm")
        for n in range(sizes.cold_start_runs):
            bare.append(run_child("bare"))
            # A fresh data dir each time: a real first start creates the journal and runs its migrations.
            player.append(run_child("player", data_dir=Path(tmp) / f"run{n}"))
    figure = Figure(
        name="cold start",
        value=median([r.seconds * 1000 for r in player]),
        unit="ms",
        floor=median([r.seconds * 1000 for r in bare]),
        budget=1.5,
        compare="<=",
        budget_on="ratio",
        how=f"median of {len(player)} offscreen starts to the access-code screen's first paint",
    )
    return figure, bare
