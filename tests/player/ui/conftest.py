"""UI test setup: the real server (re-exported from the server tests), a player wired as app.py wires it, and
the camera that takes the screenshots in docs/screens/."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import sqlite_utils
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QTableWidget,
    QTabWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot

from player.audio.devices import FixedOutputDevices
from player.audio.qt import QtAudioPlayer
from player.config import PlayerConfig
from player.offline_queue.journal import Journal
from player.offline_queue.uploader import Uploader
from player.session import Clock
from player.ui.assembly import Assembled, Edges, Uploads, build_controller, controller_settings
from player.ui.controller import PlayerController
from player.ui.parts import ControllerSettings
from player.ui.style import apply_style
from player.ui.tasks import TaskRunner
from player.ui.window import MainWindow

# The server's fixtures, re-exported whole so this folder follows their changes (clock here is the server's).
from tests.sync.server.conftest import *  # noqa: F403
from tests.sync.server.conftest import LiveServer

TIMEOUT_MS = 15_000
MACHINE_ID = "room1-pc01"
DOCS_SCREENS = Path(__file__).resolve().parents[3] / "docs" / "screens"


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
        today: Callable[[], datetime] = datetime.now,
        result_codes_after: float = ControllerSettings.result_codes_after,
        heartbeat_every: float | None = ControllerSettings.heartbeat_every,
        uploads: Uploads | None = None,
    ) -> Player:
        """The player as app.py builds it (player.ui.assembly), at a test's pace: fixed sound devices, playback
        four times as fast, a 50 ms tick, a 5 s request timeout over plain http; no uploader unless `uploads`
        says how to send, and no staff console (as in a build without it)."""
        url = server_url or self.server_url
        config = PlayerConfig(
            server_url=url,
            data_dir=self.data_dir,
            machine_id=machine_id,
            request_timeout_seconds=5.0,
            typing_commit_seconds=0.3,
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


# ---- screenshots -------------------------------------------------------------------------------------


def visible_text(root: QWidget) -> str:
    """Everything a sighted person could read in `root` now, one piece per line ("&" mnemonics left out)."""
    parts: list[str] = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible():
            continue
        if isinstance(widget, QLabel | QAbstractButton | QLineEdit):
            parts.append(widget.text().replace("&", ""))
        elif isinstance(widget, QPlainTextEdit):
            parts.append(widget.toPlainText())
        elif isinstance(widget, QComboBox):
            parts.append(widget.currentText())
        elif isinstance(widget, QListWidget):
            parts += [widget.item(row).text() for row in range(widget.count())]
        elif isinstance(widget, QTabWidget):
            parts += [widget.tabText(i).replace("&", "") for i in range(widget.count())]
        elif isinstance(widget, QTableWidget):
            for r in range(widget.rowCount()):
                parts += [item.text() for c in range(widget.columnCount()) if (item := widget.item(r, c))]
    return "\n".join(parts)


def is_blank(image: QImage) -> bool:
    """True when every pixel has the same colour (nothing was drawn)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB32)
    bits = bytes(rgb.constBits())
    return bits == bits[:4] * (len(bits) // 4)


@dataclass
class Camera:
    """Saves screenshots as `prefix``name`.png in each of `folders`, after checking each shows what it should."""

    folders: list[Path]
    max_bytes: int
    prefix: str = ""
    width: int | None = None
    """The width every shot must have, when set (a window of a fixed size)."""
    process_events: bool = False
    """Run every pending event before a shot (the console's views finish what their last step queued). The
    player's shots run nothing else early: one of them is taken inside a signal handler, mid-login."""
    taken: list[Path] = field(default_factory=list)

    def shoot(self, widget: QWidget, name: str, *expected: str) -> None:
        """Save `widget` after checking it shows each of `expected`."""
        # Lay out what the last step changed, as the next paint would.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        if self.process_events:
            QApplication.processEvents()
        text = visible_text(widget)
        for wanted in expected:
            assert wanted in text, f"{name}: {wanted!r} is not visible; the window shows:\n{text}"
        image = widget.grab().toImage()
        if self.width is not None:
            assert image.width() == self.width, f"{name}: grabbed {image.width()} px wide"
        assert not is_blank(image), f"{name}: the screenshot is a single colour"
        for folder in self.folders:
            path = folder / f"{self.prefix}{name}.png"
            assert image.save(str(path)), f"{name}: could not write {path}"
            assert path.stat().st_size < self.max_bytes, f"{path} is {path.stat().st_size} bytes"
            self.taken.append(path)


@pytest.fixture
def styled(qapp: QApplication) -> Iterator[None]:
    """The app's real look (app.py applies it); undone afterwards so other tests keep Qt's defaults."""
    font, sheet = qapp.font(), qapp.styleSheet()
    apply_style(qapp)
    yield
    qapp.setStyleSheet(sheet)
    qapp.setFont(font)


@pytest.fixture
def screen_folders(tmp_path: Path) -> list[Path]:
    """Where screenshots go: always tmp_path; docs/screens/ too when INVIGIL_UPDATE_SCREENS=1, so a normal run
    never changes the tree."""
    shots = tmp_path / "screens"
    shots.mkdir()
    if os.environ.get("INVIGIL_UPDATE_SCREENS") == "1":
        DOCS_SCREENS.mkdir(parents=True, exist_ok=True)
        return [shots, DOCS_SCREENS]
    return [shots]
