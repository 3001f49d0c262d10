"""What the player's controller is built with: its settings (from the config) and a sitting's parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from player.audio.qt import QtAudioPlayer
    from player.offline_queue.journal import Journal
    from player.offline_queue.time_left import TimeLeftRecord
    from sync.mediacache import MediaCache


@dataclass(frozen=True)
class ControllerSettings:
    server_url: str
    tick_interval_ms: int = 250
    checkpoint_every: float = 5.0
    typing_commit_every: float = 2.0
    heartbeat_every: float | None = 5.0
    """Seconds between heartbeats while a sitting is open, by the controller's clock (None: none; tests then call
    heartbeat_now). The assembly sets it from the config's heartbeat_interval_seconds."""
    delivery_poll_ms: int = 1000
    """How often the finished screen looks whether its results have reached the server."""
    result_codes_after: float = 10.0
    """Seconds on the finished screen after which result codes are shown for unsent results even though no send
    has failed yet (nothing may be sending them); a failed send shows them at the next look (refresh_delivery)."""
    machine_id: str | None = None
    machine_name: str | None = None
    """What the invigilator's console calls this machine (player/machine_name.py); None: its id."""


@dataclass(frozen=True)
class SittingParts:
    """What a sitting needs beyond the access-code screen, built (with the window's other screens) at start()
    or the first access code, whichever comes first: the access-code screen does not wait for them."""

    journal: Journal
    media_cache: MediaCache
    player: QtAudioPlayer
    time_left: TimeLeftRecord | None = None
    """Where each tick records the section's time left between checkpoints (None: checkpoints only)."""
    readiness: Callable[[], str | None] = lambda: None
    """The machine's readiness check in one line for the heartbeats ("Ready" or its worst problems); None until
    the quick check run after start (player.ui.assembly) has finished."""
    left_window_count: Callable[[], int] = lambda: 0
    """Times the student left the test window in this sitting, for the heartbeats (the kiosk's counter)."""
