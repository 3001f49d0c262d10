"""What doctor found: one Check per question, and the Report they make (exit status, JSON, one-line summary).

No Qt and no network here: the CLI, the staff Readiness screen and the heartbeat's summary all read this."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SUMMARY_MAX_LENGTH = 200
"""sync.protocol.Heartbeat.readiness allows no more."""


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILURE = "failure"
    NOT_CHECKED = "not_checked"
    """The check could not run here (no config, the server did not answer, no display over SSH): no number, and it
    does not change the exit status; when an earlier check failed, that failure is the cause shown."""


@dataclass(frozen=True)
class Check:
    key: str
    """Stable, e.g. "clock"; the error catalogue holds "doctor.<key>" (its INV number, cause and fix)."""
    title: str
    """What was checked, for a person: "Clock against the server"."""
    status: Status
    detail: str
    """What was found: "this machine is 75 seconds behind the server"."""
    fix: str = ""
    """What to do when not OK; empty when OK."""
    number: str | None = None
    """The catalogue number (INV-xxxx) of a warning or failure; never of OK or NOT_CHECKED."""


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    version: str
    settings: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each config key: {"value": shown value, "source": where it came from}."""

    @property
    def exit_status(self) -> int:
        """0 all OK, 1 a warning, 2 a failure (the worst wins). A check not run counts for nothing: over SSH the
        screen cannot be seen, and that alone does not make a machine "not known to be fine"."""
        statuses = {c.status for c in self.checks}
        if Status.FAILURE in statuses:
            return 2
        return 1 if Status.WARNING in statuses else 0

    def summary(self) -> str:
        """One line for the room view, at most SUMMARY_MAX_LENGTH characters: "Ready" or the worst problems (a check
        not run is left out: its cause, if any, is among the problems)."""
        bad = [c for c in self.checks if c.status is Status.FAILURE] + [
            c for c in self.checks if c.status is Status.WARNING
        ]
        if not bad:
            return "Ready"
        # "refused.; Audio output: ..." reads badly in the room view: each detail loses its full stop.
        text = "; ".join(f"{c.title}: {c.detail.removesuffix('.')}" for c in bad)
        return text if len(text) <= SUMMARY_MAX_LENGTH else text[: SUMMARY_MAX_LENGTH - 3] + "..."

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "exit_status": self.exit_status,
            "summary": self.summary(),
            "settings": self.settings,
            "checks": [
                {
                    "key": c.key,
                    "title": c.title,
                    "status": str(c.status),
                    "detail": c.detail,
                    "fix": c.fix,
                    "number": c.number,
                }
                for c in self.checks
            ],
        }
