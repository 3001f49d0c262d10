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
from player.offline_queue.db import journal_pragmas

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


WAL_HEADER_BYTES = 32
WAL_FRAME_HEADER_BYTES = 24


class BareCommit:
    """The floor for a saved answer: one-row commits on plain sqlite3 with the journal's pragmas (`journal_pragmas`).

    `bench.ui_child` opens it in the journal's folder and alternates it with the real clicks (same process, same
    file system, same warm-up, same number of samples, same starting WAL), so the machine's load drift hits
    both alike. Like a saved answer it rewrites one existing row in place: one page, one WAL frame per commit.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None)
        # The journal's own settings (WAL, synchronous=FULL, checkpoint size...), read back as the journal does.
        wanted = journal_pragmas()
        for name, value in wanted.items():
            self._conn.execute(f"PRAGMA {name} = {value}")
        actual = {name: self._conn.execute(f"PRAGMA {name}").fetchone()[0] for name in wanted}
        if actual != wanted:
            raise RuntimeError(f"{path}: the floor's pragmas did not hold (wanted {wanted}, got {actual})")
        self._page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS answers (item_id TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"
        )
        self._conn.execute("INSERT OR IGNORE INTO answers VALUES ('mc-circles', '\"a\"')")
        self._commits = 0

    def commit_ms(self) -> float:
        """One timed commit: BEGIN IMMEDIATE, the row's new value, COMMIT (one fsync, as a saved answer)."""
        self._commits += 1
        value = f'"{"ab"[self._commits % 2]}"'
        started = time.perf_counter()
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute(
            "INSERT INTO answers VALUES ('mc-circles', ?) ON CONFLICT (item_id) DO UPDATE SET value = excluded.value",
            [value],
        )
        self._conn.execute("COMMIT")
        return (time.perf_counter() - started) * 1000

    def empty_wal(self) -> None:
        """Checkpoint and truncate the WAL: the state the player's journal starts every run in."""
        empty_wal(self._conn)

    def wal_frames(self) -> int:
        return wal_frames(self.path, page_size=self._page_size)

    def close(self) -> None:
        self._conn.close()


def empty_wal(conn: sqlite3.Connection) -> None:
    busy, _frames, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise RuntimeError("bench: the WAL could not be checkpointed (another connection is reading)")


def wal_frames(database: Path, *, page_size: int) -> int:
    """How many frames the WAL file next to `database` holds room for (its size; 0 when it is empty)."""
    wal = database.with_name(database.name + "-wal")
    size = wal.stat().st_size if wal.exists() else 0
    return max(0, size - WAL_HEADER_BYTES) // (page_size + WAL_FRAME_HEADER_BYTES)


def _rss_by_stage(data: dict[str, object]) -> dict[str, float | int | str]:
    """The child's resident memory after each stage (MB), to show where the peak builds up."""
    stages = data.get("rss_kb_after")
    if not isinstance(stages, dict):
        return {}
    return {f"rss_mb_after_{name.replace(' ', '_')}": round(int(kb) / 1024, 1) for name, kb in stages.items()}


def _answer_conditions(data: dict[str, object]) -> dict[str, float | int | str]:
    """What the answer figure was measured under: WAL frames per commit of each side, the load average."""
    conditions: dict[str, float | int | str] = {}
    frames = data.get("wal_frames_per_commit")
    if isinstance(frames, dict):
        conditions.update({f"wal_frames_per_commit_{side}": int(n) for side, n in frames.items()})
    for when in ("before", "after"):
        load = data.get(f"load_average_{when}_answers")
        if isinstance(load, list):
            conditions[f"load_average_{when}"] = " ".join(f"{float(x):.2f}" for x in load)
    return conditions


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
    bare_rss = [run_child("bare").peak_rss_kb for _ in range(1 if sizes.smoke else 3)]

    answers = _floats(data, "answer_ms")
    floor = _floats(data, "answer_floor_ms")
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
            how=(
                f"{len(answers)} choice changes in the UI, each returning once the journal row is committed; "
                f"floor: {len(floor)} bare one-row commits alternated with them (same process, folder, warm-up)"
            ),
            extra={
                "p50_ms": percentile(answers, 50),
                "floor_p50_ms": percentile(floor, 50),
                **_answer_conditions(data),
            },
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
