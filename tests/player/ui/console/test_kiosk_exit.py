"""The console's "Kiosk exit" tab on the real server: the students at a computer, a one-time exit code for the one
chosen: that computer's code works there, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from pytestqt.qtbot import QtBot

from player.config import PlayerConfig
from player.kiosk.exit_calls import exit_with_code
from player.ui.assembly import client_maker, staff_console_opener
from player.ui.console.kiosk_exit import TAB_TITLE, KioskExitView
from player.ui.console.tables import table_texts
from sync.client import ClientError
from tests.helpers.console import ConsoleFactory, SittingPage, start_student, student_name, visible_consoles
from tests.helpers.layout import clipped, lay_out
from tests.helpers.live_server import LiveServer
from tests.helpers.player_ui import PlayerFactory
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS

MACHINE = "room1-pc07"


def exit_tab(qtbot: QtBot, page: SittingPage) -> KioskExitView:
    view = page.extra[TAB_TITLE]
    assert isinstance(view, KioskExitView)
    page.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.loads > 0, timeout=TIMEOUT_MS)
    return view


def test_a_code_made_for_a_students_computer_lets_that_computer_exit_once(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    student = start_student(live_server.url, demo_template.data["students"][0]["access_code"], machine_id=MACHINE)
    name = student_name(demo_template, 0)
    console = open_demo_console()
    console.window.add_sitting_tab(TAB_TITLE, KioskExitView)  # as player/ui/assembly.py does
    view = exit_tab(qtbot, console.sign_in_and_open_sitting())
    assert table_texts(view.table) == [(name, MACHINE, MACHINE)]  # no heartbeat yet: its id stands for its name

    view.make_button.click()  # nobody chosen yet
    assert "Choose the student" in view.message.text()
    assert view.code.isHidden()

    view.select_student(name)
    view.make_button.click()
    qtbot.waitUntil(view.code.isVisible, timeout=TIMEOUT_MS)
    code = view.code.text()
    assert len(code.replace(" ", "")) == 8
    assert f"For {MACHINE} ({name}'s computer) only, once, until 01 Mar 2027" in view.valid.text()

    assert exit_with_code(student.client, MACHINE, code).by == "exit_code"
    with pytest.raises(ClientError, match="used already"):
        exit_with_code(student.client, MACHINE, code)
    student.client.close()


def test_the_tab_with_a_code_on_show_fits_a_1024x768_screen(
    qtbot: QtBot,
    styled: None,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
) -> None:
    area = QRect(0, 0, 1024, 768 - 40)  # a taskbar's worth left out, as tests/player/ui/console/test_console_layout.py
    student = start_student(live_server.url, demo_template.data["students"][0]["access_code"], machine_id=MACHINE)
    console = open_demo_console(screen_area=area)
    console.window.add_sitting_tab(TAB_TITLE, KioskExitView)
    view = exit_tab(qtbot, console.sign_in_and_open_sitting())
    view.select_student(student_name(demo_template, 0))
    view.make_button.click()
    qtbot.waitUntil(view.code.isVisible, timeout=TIMEOUT_MS)

    lay_out(console.window)
    need = console.window.minimumSizeHint().expandedTo(console.window.minimumSize())
    assert need.width() <= 1024 - 16
    assert need.height() <= 768 - 40 - 40
    assert clipped(console.window) == []
    student.client.close()


def test_the_staff_console_the_player_opens_has_the_kiosk_exit_tab(
    qtbot: QtBot,
    start_player: PlayerFactory,
    live_server: LiveServer,
    demo: object,
    demo_template: DemoTemplate,
    tmp_path: Path,
) -> None:
    p = start_player()
    config = PlayerConfig(server_url=live_server.url, data_dir=tmp_path / "data", keyring_backend="memory")
    connect = client_maker(config, "staff-room-pc")
    opener = staff_console_opener(p.window, config, p.tasks, connect=connect)  # as build_controller wires it
    assert opener is not None
    opener()
    qtbot.waitUntil(lambda: len(visible_consoles()) == 1, timeout=TIMEOUT_MS)
    window = visible_consoles()[0]
    staff = demo_template.data["staff"]
    window.signin.username_edit.setText(staff["username"])
    window.signin.password_edit.setText(staff["password"])
    window.signin.sign_in_button.click()
    qtbot.waitUntil(lambda: window.sittings is not None and window.sittings.list.count() > 0, timeout=TIMEOUT_MS)
    assert window.sittings is not None
    window.sittings.list.setCurrentRow(0)
    window.sittings.open_button.click()
    page = window.sitting_page
    assert page is not None
    titles = [page.tabs.tabText(i).replace("&", "") for i in range(page.tabs.count())]
    assert titles[-1] == TAB_TITLE.replace("&", "")
    exit_tab(qtbot, page)
    window.close()  # signs out, as locking does
    qtbot.waitUntil(p.tasks.is_idle, timeout=TIMEOUT_MS)
