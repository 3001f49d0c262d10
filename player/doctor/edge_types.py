"""What doctor's machine edges give back (no Qt, no network): disk space, the screen, and the tone player's shape."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class DiskSpace:
    total_bytes: int
    free_bytes: int
    """Free to this user (statvfs f_bavail x f_frsize): what the journal and media can still use."""


@dataclass(frozen=True)
class ScreenInfo:
    width: int
    height: int
    platform: str
    """Qt's platform plugin ("xcb", "wayland", "windows", "cocoa"; "offscreen" or "minimal": no real display)."""
    name: str = ""


class TonePlayer(Protocol):
    def play_tone(self, path: Path, *, timeout_seconds: float) -> str | None:
        """Play `path` through the real audio stack to its end: None when it did, else why not (for a person)."""
        ...
