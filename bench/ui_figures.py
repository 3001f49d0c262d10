"""Answer saved, item transition, audio autoplay and player memory: the real UI in a child process."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.cold_start import qt_env, run_child
from bench.common import Figure, Sizes, median, percentile

CHILD_TIMEOUT_SECONDS = 300.0


def run_ui_child(*, server_url: str, codes: list[str], data_dir: Path, sizes: Sizes) -> dict[str, object]:
    command = [
        sys.executable,
        "-m",
        "bench.ui_child",
        "--server",
        server_url,
        "--codes",
        ",".join(codes),
        "--data-dir",
        str(data_dir),
        "--answers",
        str(sizes.answer_changes),
        "--transitions",
        str(sizes.transitions),
    ]
    done = subprocess.run(
        command, env=qt_env(), capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=False
    )
    last = done.stdout.strip().splitlines()[-1:] if done.stdout.strip() else []
    if done.returncode != 0 or not last:
        raise RuntimeError(f"bench.ui_child failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}")
    data: dict[str, object] = json.loads(last[0])
    return data


def bare_commit_ms(folder: Path, count: int) -> list[float]:
    """The floor for a saved answer: one-row commits on plain sqlite3 with the journal's pragmas."""
    folder.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(folder / "floor.sqlite3", isolation_level=None)
    try:
        for pragma in ("busy_timeout = 5000", "journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("CREATE TABLE IF NOT EXISTS answers (item_id TEXT PRIMARY KEY, value TEXT NOT NULL)")
        samples: list[float] = []
        for n in range(count):
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR REPLACE INTO answers VALUES ('mc-circles', ?)", [f'"{"ab"[n % 2]}"'])
            conn.execute("COMMIT")
            samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        conn.close()


def _rss_by_stage(data: dict[str, object]) -> dict[str, float | int | str]:
    """The child's resident memory after each stage (MB), to show where the peak builds up."""
    stages = data.get("rss_kb_after")
    if not isinstance(stages, dict):
        return {}
    return {f"rss_mb_after_{name.replace(' ', '_')}": round(int(kb) / 1024, 1) for name, kb in stages.items()}


def _floats(data: dict[str, object], key: str) -> list[float]:
    values = data.get(key)
    if not isinstance(values, list) or not values:
        raise RuntimeError(f"bench.ui_child reported no {key}")
    return [float(v) for v in values]


def measure(sizes: Sizes, *, server_url: str, codes: list[str], work: Path) -> list[Figure]:
    needed = sizes.autoplay_logins
    if len(codes) < needed:
        raise ValueError(f"the UI figures need {needed} access codes, got {len(codes)}")
    data = run_ui_child(server_url=server_url, codes=codes[:needed], data_dir=work / "player", sizes=sizes)
    floor = bare_commit_ms(work / "floor", sizes.answer_changes)
    bare_rss = [run_child("bare").peak_rss_kb for _ in range(1 if sizes.smoke else 3)]

    answers = _floats(data, "answer_ms")
    transitions = _floats(data, "transition_ms")
    autoplay = _floats(data, "autoplay_ms")
    peak_kb = data.get("sitting_peak_rss_kb")
    if not isinstance(peak_kb, int) or peak_kb <= 0:
        raise RuntimeError("bench.ui_child reported no peak memory")
    return [
        Figure(
            name="answer saved p99",
            value=percentile(answers, 99),
            unit="ms",
            floor=percentile(floor, 99),
            budget=2.0,
            compare="<=",
            budget_on="ratio",
            how=f"{len(answers)} choice changes in the UI, each returning once the journal row is committed",
            extra={"p50_ms": percentile(answers, 50), "floor_p50_ms": percentile(floor, 50)},
        ),
        Figure(
            name="item transition p95",
            value=percentile(transitions, 95),
            unit="ms",
            budget=30.0,
            compare="<=",
            how=f"{len(transitions)} Next/Previous clicks to the next item's first paint (demo section 1, with picture)",
            extra={"median_ms": median(transitions)},
        ),
        Figure(
            name="audio autoplay",
            value=median(autoplay),
            unit="ms",
            budget=150.0,
            compare="<=",
            how=f"median of {len(autoplay)} dictation items: shown -> playback position > 0",
            extra={"max_ms": max(autoplay)},
        ),
        Figure(
            name="player memory",
            value=peak_kb / 1024,
            unit="MB",
            floor=median([kb / 1024 for kb in bare_rss]),
            budget=150.0,
            compare="<=",
            how="peak RSS (VmHWM) of the player process at the end of the demo sitting",
            extra=_rss_by_stage(data),
        ),
    ]
