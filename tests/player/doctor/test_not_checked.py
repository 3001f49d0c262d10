"""A check that could not run (no display over SSH, a server that did not answer) as an IT admin and staff see it:
marked "-" / "Not checked", with no error number, and no effect on the verdict; the staff Readiness screen lists it
too, from a real doctor run."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime

import pytest
from pytestqt.qtbot import QtBot

from player.doctor.checks import run_doctor
from player.doctor.edges import ScreenInfo
from player.doctor.report import Status
from player.doctor.text import render_text
from player.ui.console.readiness import COLUMNS, MachineCheck, ReadinessView
from player.ui.tasks import TaskRunner
from tests.helpers.doctor import MakeConfig, check_of, closed_port_url, good_edges
from tests.helpers.waiting import TIMEOUT_MS

STATUS, TITLE, FOUND, FIX, NUMBER = range(len(COLUMNS))
NO_DISPLAY = ScreenInfo(width=1024, height=768, platform="offscreen")


@pytest.fixture
def tasks(qtbot: QtBot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    qtbot.waitUntil(runner.is_idle, timeout=TIMEOUT_MS)


def test_the_text_marks_what_was_not_checked_and_gives_no_number(make_config: MakeConfig) -> None:
    report = run_doctor(make_config(closed_port_url()), edges=good_edges(screen=lambda: NO_DISPLAY))

    text = render_text(report)
    lines = text.splitlines()
    assert lines[0].endswith(", 3 not checked")  # server version, clock, screen
    (screen,) = [i for i, line in enumerate(lines) if line.startswith("  - Screen size ")]
    assert lines[screen + 2].strip().startswith("To check it: Run `invigil doctor` on the computer's own desktop")
    assert not [number for number in ("[INV-5004]", "[INV-5005]", "[INV-5011]") if number in text]
    (clock,) = [i for i, line in enumerate(lines) if line.startswith("  - Clock against the server ")]
    assert lines[clock + 1].startswith("  ✓ Audio output ")  # its cause is the failure above: no fix line of its own


def test_the_readiness_screen_lists_a_check_not_run_without_a_number(
    qtbot: QtBot, tasks: TaskRunner, make_config: MakeConfig
) -> None:
    config = make_config(closed_port_url())
    run = functools.partial(run_doctor, config, edges=good_edges(screen=lambda: NO_DISPLAY))
    view = ReadinessView(MachineCheck(run=run), tasks=tasks, now=lambda: datetime(2027, 3, 1, 8, 30))
    qtbot.addWidget(view)
    view.show()

    view.check_button.click()
    qtbot.waitUntil(lambda: view.report is not None, timeout=TIMEOUT_MS)

    assert view.report is not None
    assert check_of(view.report, "display").status is Status.NOT_CHECKED
    rows = {row[TITLE]: row for row in view.rows()}
    assert rows["Screen size"][STATUS] == "Not checked"
    assert rows["Screen size"][NUMBER] == "—"
    assert rows["Clock against the server"][STATUS:] == (
        "Not checked",
        "Clock against the server",
        "Not checked: the server did not answer (see the checks above).",
        "",
        "—",
    )
    # The server's failure is the verdict's cause; what it left unchecked is listed after the problems.
    titles = [row[TITLE] for row in view.rows()]
    assert titles.index("Server reachable") < titles.index("Clock against the server") < titles.index("Settings")
    assert view.verdict.text().startswith("Not ready: 1 failure.")


def test_the_room_summary_joins_problems_without_doubled_punctuation() -> None:
    from player.doctor.report import Check, Report

    report = Report(
        checks=(
            Check("server", "Server reachable", Status.FAILURE, "Cannot reach the server: refused.", "", "INV-5002"),
            Check("display", "Screen size", Status.NOT_CHECKED, "Not checked: no display.", "", None),
            Check("disk_space", "Free disk space", Status.WARNING, "150 MB free.", "", "INV-5008"),
        ),
        version="0.1.0",
        settings={},
    )

    assert report.summary() == "Server reachable: Cannot reach the server: refused; Free disk space: 150 MB free"
