"""Screenshots of the staff console, taken offscreen against the real server with students in several states.

Always written to tmp_path; also to docs/screens/ when INVIGIL_UPDATE_SCREENS=1, so a normal run never
changes the tree: `INVIGIL_UPDATE_SCREENS=1 .venv/bin/pytest tests/player/ui/console/test_console_screenshots.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from pytestqt.qtbot import QtBot

from sync.protocol import LoginResponse
from tests.helpers.console import ConsoleFactory, PrintToFile, ResultsOnThisComputer, SavePaths, StudentJournal
from tests.helpers.console_tour import VIEWS, Tour
from tests.helpers.live_server import LiveServer
from tests.helpers.screens import Camera
from tests.helpers.server import DemoTemplate

SIZE = QSize(1100, 720)
MAX_BYTES = 200_000


@pytest.fixture
def camera(screen_folders: list[Path]) -> Camera:
    return Camera(screen_folders, max_bytes=MAX_BYTES, prefix="console-", process_events=True)


def test_every_console_screen(
    qtbot: QtBot,
    styled: None,
    camera: Camera,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    offline_journals: Callable[[LoginResponse, str], StudentJournal],
    tmp_path: Path,
) -> None:
    local = ResultsOnThisComputer()
    console = open_demo_console(
        local_results=local, save_paths=SavePaths(), confirm_print=PrintToFile(tmp_path / "slips.pdf")
    )
    console.window.resize(SIZE)
    Tour(qtbot, console, local, live_server.url, demo_template, offline_journals).run(camera.shoot)
    assert len(camera.taken) == VIEWS * len(camera.folders)
