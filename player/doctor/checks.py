"""The checks `invigil doctor` runs (a stub until the doctor work lands: the signature is the contract)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from player.doctor.report import Check, Report
from sync.version import VERSION

if TYPE_CHECKING:
    from player.config import PlayerConfig


class DoctorEdges:
    """The machine's edges the checks touch (clock, disk, audio, keyring, display, network): real by default,
    replaced by hand-written fakes in tests."""


def run_doctor(
    config: PlayerConfig,
    *,
    edges: DoctorEdges | None = None,
    quick: bool = False,
    progress: Callable[[Check], None] | None = None,
) -> Report:
    """Every check, in order; `progress` hears each as it completes. quick: leave out what a student would
    notice or what takes seconds (the test tone), for the summary sent with heartbeats during a sitting."""
    return Report(checks=(), version=VERSION)
