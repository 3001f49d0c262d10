"""Every console view fits a small laptop's screen: the window opens inside the screen's free area, and no label,
button or field in any view is drawn smaller than its text needs (at 1024x768 and 1366x768, taskbar left out);
every date on screen is written the one way."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QFormLayout, QLineEdit, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from player.ui.console import ConsoleWindow
from player.ui.console.incidents import IncidentsView
from player.ui.console.window import MINIMUM_SIZE, PREFERRED_SIZE
from player.ui.widgets import caption, label
from sync.protocol import LoginResponse
from tests.helpers.console import (
    ConsoleFactory,
    PrintToFile,
    ResultsOnThisComputer,
    SavePaths,
    StudentJournal,
    sitting_tab,
)
from tests.helpers.console_tour import VIEWS, Tour
from tests.helpers.layout import clipped, lay_out, outside
from tests.helpers.live_server import LiveServer
from tests.helpers.screens import visible_text
from tests.helpers.server import DemoTemplate

TASKBAR = 40
SCREENS = {
    "1024x768": QRect(0, 0, 1024, 768 - TASKBAR),
    "1366x768": QRect(0, 0, 1366, 768 - TASKBAR),
    "1024x768 right of a 1920 screen": QRect(1920, 0, 1024, 768 - TASKBAR),
}
FRAME = QSize(16, 40)
"""Room left for the system's title bar and borders (the offscreen test platform draws none)."""
MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
OTHER_DATES = re.compile(rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}} {MONTH}\b(?! \d{{4}})|(?<!\d)\d {MONTH}\b")
"""Dates written any other way than the console's one ("01 Mar 2027 09:00"): ISO, without the year, day unpadded."""
PICKER_ROWS = 3
"""The incidents' student picker shows at least this many students without scrolling (the demo has three)."""


@pytest.mark.parametrize("area", SCREENS.values(), ids=SCREENS.keys())
def test_every_console_view_fits_the_screen(
    qtbot: QtBot,
    styled: None,
    area: QRect,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    offline_journals: Callable[[LoginResponse, str], StudentJournal],
    tmp_path: Path,
) -> None:
    local = ResultsOnThisComputer()
    console = open_demo_console(
        local_results=local,
        save_paths=SavePaths(),
        confirm_print=PrintToFile(tmp_path / "slips.pdf"),
        screen_area=area,
    )
    window = console.window
    problems: list[str] = []
    visited: list[str] = []

    def check(widget: QWidget, name: str, *expected: str) -> None:
        lay_out(widget)
        text = visible_text(widget)
        for wanted in expected:
            assert wanted in text, f"{name}: {wanted!r} is not visible; the window shows:\n{text}"
        problems.extend(
            f"{name}: the date {date!r} is not written as 01 Mar 2027" for date in OTHER_DATES.findall(text)
        )
        need, room = widget.minimumSizeHint().expandedTo(widget.minimumSize()), area.size() - FRAME
        if need.width() > room.width() or need.height() > room.height():
            problems.append(f"{name}: needs at least {need.width()}x{need.height()} px, the screen has {room}")
        # Only the console's own window: Qt keeps a dialog on the real (here offscreen) screen, over its parent.
        if widget is window and (where := outside(widget, area)):
            problems.append(f"{name}: {where}")
        problems.extend(f"{name}: {problem}" for problem in clipped(widget))
        if widget is window:
            # As small as staff can make it: Qt would squeeze wrapped messages and fields before the window stops.
            size = window.size()
            window.resize(window.minimumSize())
            problems.extend(f"{name}, window at its smallest: {problem}" for problem in clipped(window))
            if name == "08-incidents" and (rows := picker_rows(window)) < PICKER_ROWS:
                problems.append(f"{name}: the student picker shows {rows} rows, not {PICKER_ROWS}")
            window.resize(size)
        visited.append(name)

    Tour(qtbot, console, local, live_server.url, demo_template, offline_journals).run(check)
    assert len(visited) == VIEWS
    assert not problems, "\n".join(problems)


def picker_rows(window: ConsoleWindow) -> int:
    """How many students the open sitting's incident form shows without scrolling."""
    page = window.sitting_page
    assert page is not None
    incidents = sitting_tab(page, "Incidents")
    assert isinstance(incidents, IncidentsView)
    picker = incidents.students
    return picker.viewport().height() // picker.sizeHintForRow(0)


def test_the_console_opens_centred_at_its_preferred_size_where_there_is_room(
    open_demo_console: ConsoleFactory,
) -> None:
    area = QRect(1920, 30, 1920, 1050)  # a second monitor with a menu bar at the top
    window = open_demo_console(screen_area=area).window
    assert window.size() == PREFERRED_SIZE
    assert window.frameGeometry().center() == area.center()


def test_on_a_screen_smaller_than_the_console_its_top_left_stays_on_screen(open_demo_console: ConsoleFactory) -> None:
    area = QRect(0, 0, 800, 600)  # a projector; the console needs MINIMUM_SIZE
    window = open_demo_console(screen_area=area).window
    assert window.size() == MINIMUM_SIZE
    assert window.frameGeometry().topLeft() == area.topLeft()


def test_the_check_finds_a_message_cut_off(qtbot: QtBot, styled: None) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    message = label("Wrong username or password. Check both, then sign in again; after five tries, wait a minute.")
    layout.addWidget(message)
    layout.addWidget(QLineEdit())
    window.show()
    window.setFixedSize(300, 90)  # smaller than the layout's minimum: Qt squeezes the message's lines
    assert any("Wrong username" in problem and "its lines need" in problem for problem in clipped(window))
    window.setFixedSize(300, 400)
    assert clipped(window) == []


def test_the_check_finds_a_caption_cut_off_and_caption_fits(qtbot: QtBot, styled: None) -> None:
    """Qt's own caption for "&Typed dictation" loses its last pixels (the underlined T is drawn apart from y)."""
    window = QWidget()
    qtbot.addWidget(window)
    form = QFormLayout(window)
    plain, fixed = QLineEdit(), QLineEdit()
    form.addRow("&Typed dictation", plain)
    form.addRow(caption("&Typed dictation", fixed), fixed)
    window.show()
    problems = clipped(window)
    assert len(problems) == 1, problems
    assert problems[0].startswith("QLabel '' '&Typed dictation'")
    assert "drawn" in problems[0]
    assert form.labelForField(plain).width() < form.labelForField(fixed).width()
