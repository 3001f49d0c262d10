"""The big surge: thousands of players on PostgreSQL with `serve --workers N`, heartbeat and checkpoint every 5 s
each, one result per player at a random moment; the load from `bench.load_child` in a process of its own.

Reports per player count: p50/p99/max per request kind, errors, the rate achieved against the rate planned, and
where the machine's CPU went (server workers, PostgreSQL, generator) over the run, read from /proc.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.common import Figure, percentile
from bench.postgres import durable_cluster
from bench.server import ROOT, ServerProcess, seed_school
from sync.client import client_for
from sync.protocol import LoginResponse

LOGIN_THREADS = 8
CONNECTIONS = 128
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class BigSizes:
    players: tuple[int, ...] = (3000,)
    workers: int = 4
    period_s: float = 5.0
    warmup_s: float = 10.0
    measured_s: float = 40.0

    @classmethod
    def smoke_sizes(cls) -> BigSizes:
        return cls(players=(20,), workers=2, period_s=0.5, warmup_s=0.5, measured_s=2.0)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of `root` and its descendants (workers, PostgreSQL backends), live or reaped, so far."""
    tree, total, todo = _children(), 0.0, [root]
    while todo:
        pid = todo.pop()
        todo += tree.get(pid, [])
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, and cutime, cstime: what its reaped children used (PostgreSQL backends that ended).
        total += sum(int(n) for n in fields[11:15]) / TICKS
    return total


def postmaster_pid(data: Path) -> int:
    return int((data / "postmaster.pid").read_text().split()[0])


def log_in_all(url: str, codes: Sequence[str]) -> list[LoginResponse]:
    def one(pair: tuple[int, str]) -> LoginResponse:
        n, code = pair
        with client_for(url, machine_id=f"big-pc-{n:05d}", timeout=30.0, ca_bundle=None) as client:
            return client.login(code)

    with ThreadPoolExecutor(LOGIN_THREADS) as pool:
        return list(pool.map(one, enumerate(codes)))


def run_load(plan: dict[str, object], work: Path, *, server_pid: int, pg_pid: int) -> dict[str, object]:
    """The generator's run, with the CPU each party used meanwhile."""
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps(plan))
    server0, pg0 = tree_cpu_seconds(server_pid), tree_cpu_seconds(pg_pid)
    reaped0 = sum(os.times()[2:4])
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.load_child", str(plan_file)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, _ = child.communicate()
    wall = time.monotonic() - started
    # The child's CPU from its rusage as reaped; the others' from /proc while they still run.
    generator = sum(os.times()[2:4]) - reaped0
    if child.returncode != 0:
        raise RuntimeError(f"the load generator failed (exit {child.returncode})")
    report: dict[str, object] = json.loads(out)
    report["cpu_s"] = {
        "server": round(tree_cpu_seconds(server_pid) - server0, 1),
        "postgres": round(tree_cpu_seconds(pg_pid) - pg0, 1),
        "generator": round(generator, 1),
        "wall": round(wall, 1),
    }
    return report


def figures_for(players: int, workers: int, sizes: BigSizes, report: dict[str, object]) -> list[Figure]:
    latency = report["latency_ms"]
    errors = report["errors"]
    assert isinstance(latency, dict)
    assert isinstance(errors, dict)
    everything = [ms for samples in latency.values() for ms in samples]
    if not everything:
        raise RuntimeError(f"big surge: no request succeeded; first errors: {report['first_errors']}")
    extra: dict[str, float | int | str] = {}
    for kind, samples in latency.items():
        if samples:
            extra |= {
                f"{kind}_n": len(samples),
                f"{kind}_p50_ms": round(percentile(samples, 50), 1),
                f"{kind}_p99_ms": round(percentile(samples, 99), 1),
                f"{kind}_max_ms": round(max(samples), 1),
                f"{kind}_errors": int(errors[kind]),
            }
    lag = report["lag_ms"]
    assert isinstance(lag, list)
    cpu = report["cpu_s"]
    assert isinstance(cpu, dict)
    sent = int(str(report["sent"]))
    # Every request of the run (warm-up and the tail too), against the CPU each party used over the run.
    handled = max(1, int(str(report["handled"])))
    extra |= {
        "client_lag_p99_ms": round(percentile(lag, 99), 1) if lag else 0.0,
        "requests": sent,
        "cpu_server_s": cpu["server"],
        "cpu_postgres_s": cpu["postgres"],
        "cpu_generator_s": cpu["generator"],
        "wall_s": cpu["wall"],
        "requests_in_run": handled,
        "unanswered_at_end": int(str(report["unfinished"])),
        "server_cpu_ms_per_request": round(1000 * float(cpu["server"]) / handled, 2),
        "postgres_cpu_ms_per_request": round(1000 * float(cpu["postgres"]) / handled, 2),
        "generator_cpu_ms_per_request": round(1000 * float(cpu["generator"]) / handled, 2),
        "offered_req_per_s": round(sent / sizes.measured_s, 1),
    }
    if report["first_errors"]:
        extra["first_error"] = str(report["first_errors"])[:300]
    planned = 2 * players / sizes.period_s + players / sizes.measured_s
    # Answered (or refused) ones only: a request still queued at the end was offered, not served.
    achieved = (sent - int(str(report["unfinished"]))) / sizes.measured_s
    label = f"big surge {players} players, PostgreSQL {workers} workers"
    how = (
        f"{players} players, heartbeat + checkpoint every {sizes.period_s:g} s each, one section result at a "
        f"random moment; {sizes.measured_s:g} s measured after {sizes.warmup_s:g} s; asyncio generator in its "
        f"own process, {CONNECTIONS} keep-alive connections; latency from send to reply"
    )
    return [
        Figure(
            name=f"{label} p99",
            value=percentile(everything, 99),
            unit="ms",
            budget=200.0,
            compare="<",
            how=how,
            extra=extra,
        ),
        Figure(
            name=f"{label} errors",
            value=float(sum(int(v) for v in errors.values())),
            unit="errors",
            budget=0.0,
            compare="<=",
            how=(
                "requests refused, failed or timed out (10 s), and those of the measured period still queued 20 s "
                "after the timetable ended; no retries"
            ),
        ),
        Figure(
            name=f"{label} rate",
            value=achieved,
            unit="req/s",
            floor=planned,
            budget=0.95,
            compare=">=",
            budget_on="ratio",
            how="requests of the measured period answered (or refused) per second, against the timetable's rate",
        ),
    ]


def measure(sizes: BigSizes, *, work: Path, say: Callable[[str], None]) -> list[Figure]:
    work.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    with durable_cluster() as new_database:
        database = new_database("bench_big", work)
        total = sum(sizes.players)
        say(f"bench: big surge: seeding {total} students ...")
        school = seed_school(database.url, students=total, secret_file=database.secret_file)
        pg_pid = postmaster_pid(database.data_dir)
        codes = list(school.codes)
        with ServerProcess(database.url, secret_file=database.secret_file, workers=sizes.workers) as server:
            for players in sizes.players:
                mine, codes = codes[:players], codes[players:]
                say(f"bench: big surge: {players} logins ...")
                logins = log_in_all(server.url, mine)
                plan = {
                    "url": server.url,
                    "players": [(login.attempt_id, login.attempt_token) for login in logins],
                    "period_s": sizes.period_s,
                    "warmup_s": sizes.warmup_s,
                    "measured_s": sizes.measured_s,
                    "connections": CONNECTIONS,
                    "seed": 20270301 + players,
                }
                say(f"bench: big surge: {players} players for {sizes.warmup_s + sizes.measured_s:g} s ...")
                report = run_load(plan, work, server_pid=server.pid, pg_pid=pg_pid)
                figures += figures_for(players, sizes.workers, sizes, report)
    return figures
