"""Console test setup: a console on an in-memory keyring over the live server (tests/helpers/console.py), and
journals of student computers that finished offline."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from pytestqt.qtbot import QtBot

from sync.protocol import LoginResponse
from tests.helpers.console import ConsoleFactory, StudentJournal, finished_offline
from tests.helpers.live_server import LiveServer
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS


@pytest.fixture
def offline_journals(tmp_path: Path) -> Iterator[Callable[[LoginResponse, str], StudentJournal]]:
    """Makes finished_offline() journals in tmp_path (one folder each) and closes them afterwards."""
    made: list[StudentJournal] = []

    def make(login: LoginResponse, server_url: str) -> StudentJournal:
        journal = finished_offline(tmp_path / f"machine-{len(made)}", login, server_url=server_url)
        made.append(journal)
        return journal

    yield make
    for journal in made:
        journal.db.close()


@pytest.fixture
def open_demo_console(
    qtbot: QtBot, live_server: LiveServer, demo: object, demo_template: DemoTemplate
) -> Iterator[ConsoleFactory]:
    factory = ConsoleFactory(qtbot, live_server.url, demo_template.data["staff"])
    yield factory
    for console in factory.opened:
        if shiboken6.isValid(console.window):
            console.window.close()  # signs out, as locking does
        qtbot.waitUntil(console.tasks.is_idle, timeout=TIMEOUT_MS)
        console.host.close()
        # Deleted here, on the GUI thread: left to the garbage collector it may be freed from a worker thread.
        shiboken6.delete(console.host)
    # The closed console's Python wrappers sit in reference cycles; collected here, on the GUI thread, rather
    # than by a collection that happens to start in a TaskRunner worker of the next test (PySide6 then defers
    # the deletions to the main thread, and crashed doing so).
    gc.collect()
