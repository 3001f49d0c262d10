"""Console view test setup: the demo sitting with its admin signed in over the live server, for one view at a time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from player.ui.console.sittings import SittingContext
from player.ui.tasks import TaskRunner
from sync.client import client_for
from tests.helpers.clock import FakeClock
from tests.helpers.console import Chooser
from tests.helpers.live_server import LiveServer
from tests.helpers.server import Demo, DemoTemplate


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


@pytest.fixture
def chooser() -> Chooser:
    return Chooser(paths=[], suggested=[])
