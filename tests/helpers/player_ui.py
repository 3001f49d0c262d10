"""The player as app.py wires it, on a real journal file, and the steps a student takes through its screens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlite_utils
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from player.audio.devices import FixedOutputDevices
from player.audio.qt import QtAudioPlayer
from player.offline_queue.db import journal_path, open_database
from player.offline_queue.journal import Journal
from player.session import Clock
from player.ui.controller import ControllerSettings, PlayerController
from player.ui.tasks import TaskRunner
from player.ui.window import MainWindow
from resources import soundcheck_path
from sync.client import InvigilClient, client_for
from sync.mediacache import MediaCache
from tests.helpers.waiting import TIMEOUT_MS

MACHINE_ID = "room1-pc01"


@dataclass
class Player:
    """One run of the app: window, controller and their parts, on a journal file that outlives it."""

    window: MainWindow
    controller: PlayerController
    journal: Journal
    db: sqlite_utils.Database
    player: QtAudioPlayer
    devices: FixedOutputDevices
    tasks: TaskRunner
    closed: bool = field(default=False)

    def close(self) -> None:
        """Like quitting the app (or a crash after the last commit): the journal file stays."""
        if self.closed:
            return
        self.closed = True
        self.controller.shutdown()
        self.tasks.wait()
        self.player.close()
        self.window.close()
        self.db.close()


@dataclass
class PlayerFactory:
    qtbot: QtBot
    data_dir: Path
    server_url: str
    started: list[Player] = field(default_factory=list)

    def __call__(
        self,
        *,
        devices: FixedOutputDevices | None = None,
        clock: Clock | None = None,
        server_url: str | None = None,
        machine_id: str = MACHINE_ID,
        today: Callable[[], datetime] = datetime.now,
        result_codes_after: float = ControllerSettings.result_codes_after,
        heartbeat_every: float | None = ControllerSettings.heartbeat_every,
    ) -> Player:
        url = server_url or self.server_url
        devices = devices if devices is not None else FixedOutputDevices(["Test speakers"])
        db = open_database(journal_path(self.data_dir))
        journal = Journal(db)
        player = QtAudioPlayer(devices, playback_rate=4.0)
        window = MainWindow(player=player, devices=devices, soundcheck_clip=soundcheck_path())
        self.qtbot.addWidget(window)
        tasks = TaskRunner(parent=window)
        # As app.py makes it (sync.client.client_for), with a shorter timeout; plain http here, so no CA bundle.
        make_client: Callable[[], InvigilClient] = lambda: client_for(  # noqa: E731
            url, machine_id=machine_id, timeout=5.0, ca_bundle=None
        )
        controller = PlayerController(
            window=window,
            journal=journal,
            make_client=make_client,
            media_cache=MediaCache(self.data_dir / "media"),
            player=player,
            tasks=tasks,
            settings=ControllerSettings(
                server_url=url,
                tick_interval_ms=50,
                typing_commit_every=0.3,
                result_codes_after=result_codes_after,
                heartbeat_every=heartbeat_every,
            ),
            clock=clock,
            today=today,
        )
        window.show()
        window.activateWindow()
        self.qtbot.waitExposed(window)
        self.qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=TIMEOUT_MS)
        controller.start()
        started = Player(window, controller, journal, db, player, devices, tasks)
        self.started.append(started)
        return started


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has the keyboard focus"
    return widget


def wait_for_screen(qtbot: QtBot, p: Player, screen: QWidget) -> None:
    qtbot.waitUntil(lambda: p.window.current_screen() is screen, timeout=TIMEOUT_MS)


def log_in(qtbot: QtBot, p: Player, code: str) -> None:
    """Type the code and confirm "Is this you?"; leaves the player on the first section's instructions."""
    p.window.access_code.code_edit.setText(code)
    p.window.access_code.start_button.click()
    wait_for_screen(qtbot, p, p.window.confirm)
    p.window.confirm.yes_button.click()
    wait_for_screen(qtbot, p, p.window.instructions)


def start_items(qtbot: QtBot, p: Player, code: str) -> None:
    """Log in, pass the sound check, and open the first item."""
    log_in(qtbot, p, code)
    p.window.instructions.start_button.click()
    wait_for_screen(qtbot, p, p.window.sound_check)
    p.window.sound_check.yes_button.click()
    wait_for_screen(qtbot, p, p.window.item)
