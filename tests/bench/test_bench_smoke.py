"""`python -m bench --smoke --json` still runs every benchmark and reports every figure (no budgets asserted).

The PostgreSQL figures start a throwaway cluster (tests/helpers/postgres.py) and `serve --workers N`; the big
surge, left out of a plain `python -m bench`, is asked for by name so its machinery is smoke-run too."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "cold start",
    "answer saved p99",
    "item transition p95",
    "audio autoplay",
    "outbox drain",
    "room surge p99",
    "room surge errors",
    "outbox drain, PostgreSQL 1 worker",
    "room surge p99, PostgreSQL 1 worker",
    "room surge errors, PostgreSQL 1 worker",
    "outbox drain, PostgreSQL 4 workers",
    "room surge p99, PostgreSQL 4 workers",
    "room surge errors, PostgreSQL 4 workers",
    "big surge 20 players, PostgreSQL 2 workers p99",
    "big surge 20 players, PostgreSQL 2 workers errors",
    "big surge 20 players, PostgreSQL 2 workers rate",
    "result code, 40 choices",
    "result code, longest check",
    "player memory",
}
WITH_FLOOR = {
    "cold start",
    "answer saved p99",
    "outbox drain",
    "player memory",
    # Held to the SQLite figure of the same run.
    "outbox drain, PostgreSQL 1 worker",
    "room surge p99, PostgreSQL 1 worker",
    "outbox drain, PostgreSQL 4 workers",
    "room surge p99, PostgreSQL 4 workers",
    # Held to the timetable's planned rate.
    "big surge 20 players, PostgreSQL 2 workers rate",
}
GROUPS = ("cold", "ui", "drain", "surge", "pg", "code", "big")


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", *(f"--only={group}" for group in GROUPS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"python -m bench --smoke failed:\n{done.stderr[-3000:]}"
    data: dict[str, object] = json.loads(done.stdout)
    return data


def figures(report: dict[str, object]) -> dict[str, dict[str, object]]:
    listed = report["figures"]
    assert isinstance(listed, list)
    return {str(f["name"]): f for f in listed}


def test_every_figure_is_reported_once(report: dict[str, object]) -> None:
    listed = report["figures"]
    assert isinstance(listed, list)
    names = [f["name"] for f in listed]
    assert sorted(names) == sorted(FIGURES)
    assert report["smoke"] is True


def test_each_figure_has_a_number_a_budget_and_a_verdict(report: dict[str, object]) -> None:
    for name, figure in figures(report).items():
        value = figure["value"]
        assert isinstance(value, int | float), name
        assert math.isfinite(value), name
        assert value >= 0, name
        assert isinstance(figure["budget"], int | float), name
        assert figure["compare"] in ("<=", ">=", "<"), name
        assert isinstance(figure["within_budget"], bool), name
        assert isinstance(figure["unit"], str), name
        assert figure["unit"], name
        assert isinstance(figure["how"], str), name
        assert figure["how"], name


def test_figures_with_a_floor_report_floor_and_ratio(report: dict[str, object]) -> None:
    found = figures(report)
    for name in WITH_FLOOR:
        floor, ratio = found[name]["floor"], found[name]["ratio"]
        assert isinstance(floor, int | float), name
        assert floor > 0, name
        assert isinstance(ratio, float), name
        assert ratio > 0, name
        value = found[name]["value"]
        assert isinstance(value, int | float), name
        assert ratio == pytest.approx(value / floor), name


def test_the_run_names_its_machine(report: dict[str, object]) -> None:
    machine = report["machine"]
    assert isinstance(machine, dict)
    assert isinstance(machine["cpus"], int)
    assert machine["date"]


def test_the_big_surge_reports_each_kind_and_where_the_cpu_went(report: dict[str, object]) -> None:
    extra = figures(report)["big surge 20 players, PostgreSQL 2 workers p99"]["extra"]
    assert isinstance(extra, dict)
    for kind in ("heartbeat", "checkpoint", "result"):
        for stat in ("n", "p50_ms", "p99_ms", "max_ms", "errors"):
            assert isinstance(extra[f"{kind}_{stat}"], int | float), (kind, stat)
    for party in ("server", "postgres", "generator"):
        assert extra[f"cpu_{party}_s"] >= 0, party
