"""The player as app.py wires it (player.ui.assembly.build_controller), on a real journal file, and the steps a
student takes through its screens."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlite_utils
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from player.audio.devices import FixedOutputDevices
from player.audio.qt import QtAudioPlayer
from player.clock import Clock
from player.config import PlayerConfig
from player.offline_queue.journal import Journal
from player.offline_queue.uploader import Uploader
from player.ui.assembly import Assembled, Edges, Uploads, build_controller, controller_settings
from player.ui.controller import PlayerController
from player.ui.parts import ControllerSettings
from player.ui.tasks import TaskRunner
from player.ui.window import MainWindow
from tests.helpers.waiting import TIMEOUT_MS

MACHINE_ID = "room1-pc01"


@dataclass
class Player:
    """One run of the app (as player.ui.assembly builds it): window, controller and their parts, on a journal file
    that outlives it."""

    window: MainWindow
    assembled: Assembled
    closed: bool = field(default=False)

    @property
    def controller(self) -> PlayerController:
        return self.assembled.controller

    @property
    def journal(self) -> Journal:
        assert self.assembled.journal is not None
        return self.assembled.journal

    @property
    def db(self) -> sqlite_utils.Database:
        assert self.assembled.db is not None
        return self.assembled.db

    @property
    def player(self) -> QtAudioPlayer:
        assert self.assembled.player is not None
        return self.assembled.player

    @property
    def devices(self) -> FixedOutputDevices:
        assert isinstance(self.assembled.devices, FixedOutputDevices)
        return self.assembled.devices

    @property
    def tasks(self) -> TaskRunner:
        return self.assembled.tasks

    @property
    def uploader(self) -> Uploader:
        assert self.assembled.uploader is not None, "this player was started without uploads"
        return self.assembled.uploader

    def close(self) -> None:
        """Like quitting the app (or a crash after the last commit): the journal file stays."""
        if self.closed:
            return
        self.closed = True
        self.assembled.close()
        self.window.close()


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
        machine_name: str | None = None,
        today: Callable[[], datetime] = datetime.now,
        result_codes_after: float = ControllerSettings.result_codes_after,
        heartbeat_every: float | None = ControllerSettings.heartbeat_every,
        uploads: Uploads | None = None,
        kiosk: bool = False,
    ) -> Player:
        """The player as app.py builds it (player.ui.assembly), at a test's pace: fixed sound devices, playback
        four times as fast, a 50 ms tick, a 5 s request timeout over plain http; no uploader unless `uploads`
        says how to send, and no staff console (as in a build without it)."""
        url = server_url or self.server_url
        config = PlayerConfig(
            server_url=url,
            data_dir=self.data_dir,
            machine_id=machine_id,
            machine_name=machine_name,
            request_timeout_seconds=5.0,
            typing_commit_seconds=0.3,
            kiosk=kiosk,
        )
        settings = dataclasses.replace(
            controller_settings(config, machine_id),
            tick_interval_ms=50,
            result_codes_after=result_codes_after,
            heartbeat_every=heartbeat_every,
        )
        edges = Edges(
            devices=devices if devices is not None else FixedOutputDevices(["Test speakers"]),
            playback_rate=4.0,
            clock=clock,
            today=today,
            uploads=uploads,
            staff_console=False,
        )
        window = MainWindow()
        self.qtbot.addWidget(window)
        assembled = build_controller(window, config=config, machine_id=machine_id, edges=edges, settings=settings)
        window.show()
        window.activateWindow()
        self.qtbot.waitExposed(window)
        self.qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=TIMEOUT_MS)
        started = Player(window, assembled)
        self.started.append(started)
        assembled.controller.start()
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


def open_dictation(qtbot: QtBot, p: Player, code: str) -> None:
    """Start, end the first two sections through their review screens, and open the dictation's first item."""
    start_items(qtbot, p, code)
    for _ in range(2):
        p.controller.items.show_review()
        p.window.review.end_button.click()
        p.window.review.confirm_button.click()
        wait_for_screen(qtbot, p, p.window.instructions)
        p.window.instructions.start_button.click()
    wait_for_screen(qtbot, p, p.window.item)


def wait_finished(qtbot: QtBot, p: Player) -> None:
    """Until the item's recording has played to its end."""
    bar = p.window.item.audio
    assert bar is not None
    qtbot.waitUntil(lambda: bar.state.text().startswith("Finished"), timeout=TIMEOUT_MS)
