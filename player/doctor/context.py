"""What every check reads: the config (or why it could not be read), the edges, and the one /health reply they
share; plus the helpers that make a Check (the catalogue number lives in one place, `number`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from player.doctor.edges import DoctorEdges
from player.doctor.probe import HealthReply
from player.doctor.report import Check, Status
from sync.error_catalogue import number_for

if TYPE_CHECKING:
    from player.config import ConfigSources, PlayerConfig


def number(entry: str) -> str | None:
    """The error catalogue's number for doctor.<entry> (INV-xxxx)."""
    return number_for(f"doctor.{entry}")


def ok(key: str, title: str, detail: str) -> Check:
    return Check(key=key, title=title, status=Status.OK, detail=detail)


def warning(key: str, title: str, detail: str, fix: str, *, entry: str | None = None) -> Check:
    """entry: the catalogue entry doctor.<entry> when the problem has its own (default: the check's key)."""
    return Check(key=key, title=title, status=Status.WARNING, detail=detail, fix=fix, number=number(entry or key))


def failure(key: str, title: str, detail: str, fix: str, *, entry: str | None = None) -> Check:
    return Check(key=key, title=title, status=Status.FAILURE, detail=detail, fix=fix, number=number(entry or key))


def not_checked(key: str, title: str, why: str, fix: str = "") -> Check:
    """A check that could not run (an earlier one failed, or it does not apply here): no number and no effect on
    the exit status, so the earlier failure is the cause shown and a machine checked over SSH can still be Ready."""
    return Check(key=key, title=title, status=Status.NOT_CHECKED, detail=f"Not checked: {why}.", fix=fix)


@dataclass
class Context:
    config: PlayerConfig | None
    """None when the config could not be read (config_problem says why)."""
    config_problem: str | None
    edges: DoctorEdges
    sources: ConfigSources | None = None
    """Where the config was read from, when known (`invigil doctor`): the config check lists each file, read or
    absent, even one that set nothing."""
    _health: HealthReply | None = field(default=None, init=False)
    _outputs: list[str] | None = field(default=None, init=False)

    def health(self) -> HealthReply | None:
        """The server's /health reply, asked once for all the server checks; None without a config."""
        if self.config is None:
            return None
        if self._health is None:
            self._health = self.edges.probe_health(
                self.config.server_url, self.config.ca_bundle, self.config.request_timeout_seconds
            )
        return self._health

    def outputs(self) -> list[str]:
        if self._outputs is None:
            self._outputs = list(self.edges.audio_outputs())
        return self._outputs
