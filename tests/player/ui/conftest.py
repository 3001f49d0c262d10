"""UI test setup: the real server (re-exported from the server tests) and a player wired as app.py wires it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
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
from sync.client import InvigilClient
from sync.mediacache import MediaCache

# The server's fixtures, re-exported whole so this folder follows their changes (clock here is the server's).
from tests.sync.server.conftest import *  # noqa: F403
from tests.sync.server.conftest import LiveServer

TIMEOUT_MS = 15_000
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
    ) -> Player:
        url = server_url or self.server_url
        devices = devices if devices is not None else FixedOutputDevices(["Test speakers"])
        db = open_database(journal_path(self.data_dir))
        journal = Journal(db)
        player = QtAudioPlayer(devices, playback_rate=4.0)
        window = MainWindow(player=player, devices=devices, soundcheck_clip=soundcheck_path())
        self.qtbot.addWidget(window)
        tasks = TaskRunner(parent=window)
        make_client: Callable[[], InvigilClient] = lambda: InvigilClient(url, machine_id=machine_id, timeout=5.0)  # noqa: E731
        controller = PlayerController(
            window=window,
            journal=journal,
            make_client=make_client,
            media_cache=MediaCache(self.data_dir / "media"),
            player=player,
            tasks=tasks,
            settings=ControllerSettings(server_url=url, tick_interval_ms=50, typing_commit_every=0.3),
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


@pytest.fixture
def start_player(qtbot: QtBot, tmp_path: Path, live_server: LiveServer) -> Iterator[PlayerFactory]:
    factory = PlayerFactory(qtbot, tmp_path / "data", live_server.url)
    yield factory
    for started in factory.started:
        started.close()


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
