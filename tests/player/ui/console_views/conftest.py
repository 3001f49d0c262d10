"""Console view test setup: the real server (re-exported), the demo signed in, and a sitting context for a view."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtWidgets import QTableWidget, QWidget
from pytestqt.qtbot import QtBot

from player.ui.console.sittings import SittingContext
from player.ui.tasks import TaskRunner
from sync.client import client_for

# The server's fixtures, re-exported whole so this folder follows their changes (as tests/player/ui does).
from tests.sync.server.conftest import *  # noqa: F403
from tests.sync.server.conftest import Demo, DemoTemplate, FakeClock, LiveServer

TIMEOUT_MS = 15_000


@pytest.fixture
def context(
    qtbot: QtBot, live_server: LiveServer, demo: Demo, demo_template: DemoTemplate, clock: FakeClock
) -> Iterator[SittingContext]:
    """The demo sitting, with the demo admin signed in, over the real server under uvicorn."""
    tasks = TaskRunner()
    url = live_server.url
    yield SittingContext(
        client_factory=lambda: client_for(url, machine_id="staff-room-pc", timeout=5.0, ca_bundle=None),
        token=demo_template.admin_token,
        sitting_id=demo.sitting_id,
        sitting_name=str(demo.data["sitting"]["name"]),
        tasks=tasks,
        clock=clock,
    )
    # Every call must be back before the server stops and the widgets go.
    tasks.wait()


@dataclass
class Chooser:
    """Stands in for the file dialogs: hands out the paths the test queued, and records what was suggested."""

    paths: list[Path | None]
    suggested: list[str]

    def open(self, parent: QWidget) -> Path | None:
        return self.paths.pop(0)

    def save(self, parent: QWidget, suggested: str) -> Path | None:
        self.suggested.append(suggested)
        return self.paths.pop(0)


@pytest.fixture
def chooser() -> Chooser:
    return Chooser(paths=[], suggested=[])


def text_at(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    assert item is not None, f"no cell at row {row}, column {column}"
    return item.text()


def headers(table: QTableWidget) -> list[str]:
    items = [table.horizontalHeaderItem(c) for c in range(table.columnCount())]
    return [i.text() if i is not None else "" for i in items]
