"""What the console is opened with: the server, its timers and clocks, and the dialogs tests answer themselves."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from player.config import PlayerConfig
from player.ui.console.assessments import ask_open_package
from player.ui.console.manual import ChooseOpenPath, ask_open_evidence
from player.ui.console.qr_camera import ListCameras, system_cameras
from player.ui.console.qr_reader import ChooseImage, ask_open_qr_image
from player.ui.console.room import REFRESH_MS
from player.ui.console.sittings import WallClock
from player.ui.console.slips import ask_print
from player.ui.paper import ConfirmPrint
from player.ui.widgets import ChooseSavePath, ask_save_path

ScreenArea = Callable[[QWidget], QRect]
"""The free part (taskbar and docks left out) of the screen a window is on."""


def free_screen_area(widget: QWidget) -> QRect:
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConsoleSettings:
    server_url: str
    idle_lock_seconds: float = 15 * 60
    refresh_interval_ms: int = REFRESH_MS
    idle_check_interval_ms: int = 1000
    clock: WallClock = field(default=_utc_now)
    """Wall clock for "today's sittings"; tests inject a fixed one."""
    monotonic: Callable[[], float] = field(default=time.monotonic)
    """The idle lock's clock; tests inject one they move by hand."""
    choose_save_path: ChooseSavePath = field(default=ask_save_path)
    """Where to save an export, slips or a result code (a file dialog; tests answer it themselves)."""
    choose_evidence: ChooseOpenPath = field(default=ask_open_evidence)
    confirm_print: ConfirmPrint = field(default=ask_print)
    """The print dialog for the slips."""
    cameras: ListCameras = field(default=system_cameras)
    """The cameras the QR reader may use; tests give none, or one that plays recorded frames."""
    choose_qr_image: ChooseImage = field(default=ask_open_qr_image)
    """The file dialog for a photo or screenshot of a QR code."""
    screen_area: ScreenArea = field(default=free_screen_area)
    """Where the console may open; tests give the free area of a small laptop's screen."""
    choose_package: ChooseOpenPath = field(default=ask_open_package)
    """The file dialog for a content package (.zip) an admin loads onto the server."""

    @classmethod
    def from_config(cls, config: PlayerConfig) -> ConsoleSettings:
        return cls(server_url=config.server_url, idle_lock_seconds=config.staff_idle_lock_minutes * 60)
