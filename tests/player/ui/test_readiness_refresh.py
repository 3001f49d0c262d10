"""The readiness summary the heartbeats carry is run again once it is old: a machine that started before its network
came up does not show "Server not reachable" in the room all day."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from player.doctor.report import Check, Report, Status
from player.ui.invigilation import readiness_in_background
from player.ui.tasks import TaskRunner
from sync.version import VERSION
from tests.helpers.waiting import TIMEOUT_MS

OFFLINE = Report(
    checks=(Check("server", "Server", Status.FAILURE, "nothing answers at http://10.0.0.5:8765", fix="Plug in"),),
    version=VERSION,
)
ONLINE = Report(checks=(Check("server", "Server", Status.OK, "answered in 40 ms"),), version=VERSION)


@pytest.fixture
def tasks(qtbot: QtBot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    qtbot.waitUntil(runner.is_idle, timeout=TIMEOUT_MS)


def test_an_old_summary_is_checked_again_and_a_fresh_one_is_not(qtbot: QtBot, tasks: TaskRunner) -> None:
    now = [0.0]
    reports = iter([OFFLINE, ONLINE])
    runs: list[int] = []

    def check() -> Report:
        runs.append(1)
        return next(reports)

    current = readiness_in_background(tasks, lambda: check, every_seconds=300, monotonic=lambda: now[0])
    assert runs == [], "nothing runs until the first heartbeat asks"
    qtbot.waitUntil(lambda: current() is not None, timeout=TIMEOUT_MS)
    assert current() == "Server: nothing answers at http://10.0.0.5:8765"
    now[0] = 299.0
    assert current() == "Server: nothing answers at http://10.0.0.5:8765"
    assert len(runs) == 1, "not run again while the summary is fresh"

    now[0] = 300.0
    assert current() == "Server: nothing answers at http://10.0.0.5:8765", "the heartbeat does not wait for it"
    qtbot.waitUntil(lambda: current() == "Ready", timeout=TIMEOUT_MS)
    assert len(runs) == 2


def test_a_check_that_fails_keeps_the_last_summary(qtbot: QtBot, tasks: TaskRunner) -> None:
    now = [0.0]
    outcomes: list[Report | Exception] = [ONLINE, RuntimeError("the keyring hung")]
    runs: list[int] = []

    def check() -> Report:
        runs.append(1)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    current = readiness_in_background(tasks, lambda: check, every_seconds=300, monotonic=lambda: now[0])
    qtbot.waitUntil(lambda: current() == "Ready", timeout=TIMEOUT_MS)
    now[0] = 301.0
    current()
    qtbot.waitUntil(lambda: len(runs) == 2 and tasks.is_idle(), timeout=TIMEOUT_MS)
    assert current() == "Ready"
    assert len(runs) == 2, "a failed run counts as a run: not started again at once"
