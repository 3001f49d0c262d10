"""Shared pieces of the benchmarks: figures with budgets, statistics, sizes, and the table/JSON output."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

Comparison = Literal["<=", ">=", "<"]


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does; `smoke()` is tiny so the test suite can run every figure quickly."""

    cold_start_runs: int = 7
    answer_changes: int = 1000
    transitions: int = 60
    autoplay_logins: int = 4
    outbox_envelopes: int = 10_000
    surge_players: int = 300
    surge_heartbeat_seconds: float = 5.0
    surge_warmup_seconds: float = 12.0
    surge_upload_window_seconds: float = 60.0
    smoke: bool = False

    @classmethod
    def smoke_sizes(cls) -> Sizes:
        return cls(
            cold_start_runs=1,
            answer_changes=20,
            transitions=4,
            autoplay_logins=1,
            outbox_envelopes=40,
            surge_players=6,
            surge_heartbeat_seconds=0.5,
            surge_warmup_seconds=1.0,
            surge_upload_window_seconds=1.0,
            smoke=True,
        )


@dataclass(frozen=True)
class Figure:
    """One line of the table: the measured value, the same-run floor (if any) and the budget it is held to."""

    name: str
    value: float
    unit: str
    budget: float
    compare: Comparison
    how: str
    floor: float | None = None
    # What the budget is applied to: "value" (absolute) or "ratio" (value / floor).
    budget_on: Literal["value", "ratio"] = "value"
    extra: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.floor is None or self.floor == 0:
            return None
        return self.value / self.floor

    @property
    def within_budget(self) -> bool:
        checked = self.ratio if self.budget_on == "ratio" else self.value
        if checked is None or math.isnan(checked):
            return False
        if self.compare == "<=":
            return checked <= self.budget
        if self.compare == "<":
            return checked < self.budget
        return checked >= self.budget

    def budget_text(self) -> str:
        subject = "ratio" if self.budget_on == "ratio" else self.unit
        return f"{subject} {self.compare} {self.budget:g}"

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["within_budget"] = self.within_budget
        data["budget_text"] = self.budget_text()
        return data


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100): an observed sample, never an interpolation."""
    if not samples:
        raise ValueError("percentile of no samples: the benchmark measured nothing")
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    if not samples:
        raise ValueError("median of no samples: the benchmark measured nothing")
    return float(statistics.median(samples))


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def render_table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "value", "floor", "ratio", "budget", "ok")]
    for f in figures:
        rows.append(
            (
                f.name,
                f"{_num(f.value)} {f.unit}",
                f"{_num(f.floor)} {f.unit}" if f.floor is not None else "-",
                _num(f.ratio),
                f.budget_text(),
                "yes" if f.within_budget else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def render_json(figures: Sequence[Figure], *, smoke: bool, machine: dict[str, object]) -> str:
    return json.dumps(
        {"smoke": smoke, "machine": machine, "figures": [f.as_json() for f in figures]}, indent=2, default=str
    )
