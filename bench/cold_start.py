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
    cpu_ms: float


def qt_env(*, pycache: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    # A config file of the bench machine must not change what is measured.
    env.setdefault("INVIGIL_CONFIG", os.devnull)
    if pycache is not None:
        # An installed player starts from bytecode. Where PYTHONDONTWRITEBYTECODE is set (as on the bench
        # machines) every start would compile the project's modules again (~100 ms), so the children keep
        # their bytecode in a folder of this run instead; the discarded warm-up runs fill it.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_child(what: str, *, data_dir: Path | None = None, pycache: Path | None = None) -> ChildRun:
    """Start `bench.qt_child` and time it until it prints the paint marker."""
    command = [sys.executable, "-m", "bench.qt_child", what]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    started = time.perf_counter()
    env = qt_env(pycache=pycache)
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
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
    _, rss_kb, cpu = line.split()
    return ChildRun(seconds=elapsed, peak_rss_kb=int(rss_kb), cpu_ms=float(cpu))


def measure(sizes: Sizes) -> tuple[Figure, list[ChildRun]]:
    """Interleaved runs (bare, player, bare, ...) so drift hits both alike; returns the bare runs too."""
    bare: list[ChildRun] = []
    player: list[ChildRun] = []
    with tempfile.TemporaryDirectory(prefix="invigil-bench-cold-") as tmp:
        pycache = Path(tmp) / "pycache"
        # Warm the page cache and the bytecode for both: we measure start-up, not the first disk read.
        run_child("bare", pycache=pycache)
        run_child("player", data_dir=Path(tmp) / "warm", pycache=pycache)
        for n in range(sizes.cold_start_runs):
            bare.append(run_child("bare", pycache=pycache))
            # A fresh data dir each time: a real first start creates the journal and runs its migrations.
            player.append(run_child("player", data_dir=Path(tmp) / f"run{n}", pycache=pycache))
    figure = Figure(
        name="cold start",
        value=median([r.seconds * 1000 for r in player]),
        unit="ms",
        floor=median([r.seconds * 1000 for r in bare]),
        budget=1.5,
        compare="<=",
        budget_on="ratio",
        how=f"median of {len(player)} offscreen starts (from bytecode) to the access-code screen's first paint",
        # CPU time to the paint: steadier than wall time on a shared machine, and it shows what the work costs.
        extra={
            "cpu_ms": median([r.cpu_ms for r in player]),
            "floor_cpu_ms": median([r.cpu_ms for r in bare]),
        },
    )
    return figure, bare
