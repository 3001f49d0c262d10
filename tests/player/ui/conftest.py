"""UI test setup: a player wired as app.py wires it (tests/helpers/player_ui.py) on the live server, the app's
look, and where screenshots go."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from player.ui.style import apply_style
from tests.helpers.live_server import LiveServer
from tests.helpers.player_ui import PlayerFactory
from tests.helpers.screens import DOCS_SCREENS


@pytest.fixture
def start_player(qtbot: QtBot, tmp_path: Path, live_server: LiveServer) -> Iterator[PlayerFactory]:
    factory = PlayerFactory(qtbot, tmp_path / "data", live_server.url)
    yield factory
    for started in factory.started:
        started.close()


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
