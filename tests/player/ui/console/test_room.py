"""The live room against the real server, with students' computers driven through sync.client."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from player.ui.console.room import COLUMNS
from sync.client import Refused
from tests.helpers.clock import FakeClock
from tests.helpers.console import ConsoleFactory, act, start_student, wait_for_cell
from tests.helpers.live_server import LiveServer
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS

ADA = "Ada Lovelace"
STATE, TIME_LEFT, ALERTS, LAST_SEEN, UNSENT = (
    COLUMNS.index(c) for c in ("State", "Time left", "Alerts", "Last seen", "Unsent")
)


def test_the_room_follows_a_student_live_and_shows_them_offline_after_30_s(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    clock: FakeClock,
) -> None:
    console = open_demo_console()
    page = console.sign_in_and_open_sitting()
    wait_for_cell(qtbot, page, ADA, STATE, "Not started")
    assert page.room.row_texts("Grace Hopper")[STATE] == "Not started"

    machine = start_student(live_server.url, demo_template.data["students"][0]["access_code"])
    machine.beat(
        section_id="mc",
        section_title="Multiple choice",
        item_index=2,
        item_count=5,
        remaining_seconds=600,
        outbox_depth=1,
    )
    wait_for_cell(qtbot, page, ADA, STATE, "On room1-pc01, in Multiple choice, item 2 of 5")
    row = page.room.row_texts(ADA)
    assert (row[TIME_LEFT], row[LAST_SEEN], row[UNSENT]) == ("10:00", "0 s ago", "1 waiting on room1-pc01")
    assert "In progress 1" in page.room.counts.text()
    assert "Waiting to send 1" in page.room.counts.text()

    clock.advance(seconds=31)
    wait_for_cell(qtbot, page, ADA, LAST_SEEN, "Offline: last seen 31 s ago")
    assert page.room.row_texts(ADA)[ALERTS] == "Offline"
    assert "Offline 1" in page.room.counts.text()


def test_pause_with_a_reason_reaches_the_students_next_heartbeat_and_the_log(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    console = open_demo_console()
    page = console.sign_in_and_open_sitting()
    machine = start_student(live_server.url, demo_template.data["students"][0]["access_code"])
    assert machine.beat(section_id="mc", item_index=1, item_count=5, remaining_seconds=900) == []
    wait_for_cell(qtbot, page, ADA, TIME_LEFT, "15:00")

    outcome = act(qtbot, page, "pause", student=ADA, reason_kind="toilet_break", text="back in 5")
    assert outcome.startswith(f"Paused {ADA}."), outcome
    assert machine.beat(section_id="mc", item_index=1, item_count=5, remaining_seconds=890) == ["pause"]
    assert machine.beat(section_id="mc", remaining_seconds=890, paused=True) == [], "delivered once"

    page.tabs.setCurrentWidget(page.log_view)
    qtbot.waitUntil(lambda: any(row[3] == ADA for row in page.log_view.rows()), timeout=TIMEOUT_MS)
    newest = next(row for row in page.log_view.rows() if row[3] == ADA)
    assert "pause" in newest[2].lower()
    assert newest[4] == "Toilet break: back in 5"
    assert newest[1], "the log says who"


def test_other_without_details_is_refused_before_anything_is_sent(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    console = open_demo_console()
    page = console.sign_in_and_open_sitting()
    wait_for_cell(qtbot, page, ADA, STATE, "Not started")
    page.room.select_student(ADA)
    dialog = page.room.begin_action("add_time")
    assert dialog is not None
    dialog.choose_reason("other", "   ")
    dialog.ok_button.click()
    assert dialog.isVisible()
    assert dialog.message.text() == 'With "Other", say what happened in Details.'


def test_releasing_a_code_lets_another_machine_resume_and_cuts_off_the_old_one(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    code = demo_template.data["students"][0]["access_code"]
    console = open_demo_console()
    page = console.sign_in_and_open_sitting()
    old = start_student(live_server.url, code, machine_id="room1-pc01")
    old.beat(section_id="mc", item_index=3, item_count=5, remaining_seconds=700)
    wait_for_cell(qtbot, page, ADA, TIME_LEFT, "11:40")

    outcome = act(qtbot, page, "release", student=ADA, reason_kind="moved_machine", text="pc01 keyboard broke")
    assert outcome.startswith(f"Released {ADA}'s code"), outcome
    wait_for_cell(qtbot, page, ADA, STATE, "Released: waiting to log in on another machine")

    new = start_student(live_server.url, code, machine_id="room1-pc07")
    assert new.login.attempt_id == old.login.attempt_id, "the same attempt continues"
    with pytest.raises(Refused) as refused:
        old.beat(section_id="mc", remaining_seconds=690)
    assert refused.value.status in (401, 403, 409), refused.value


def test_an_action_can_be_done_with_the_keyboard_alone(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    console = open_demo_console()
    page = console.sign_in_and_open_sitting()
    machine = start_student(live_server.url, demo_template.data["students"][0]["access_code"])
    machine.beat(section_id="mc", item_index=1, item_count=5, remaining_seconds=900)
    wait_for_cell(qtbot, page, ADA, TIME_LEFT, "15:00")
    console.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is console.window, timeout=TIMEOUT_MS)

    page.room.table.setFocus()
    row = next(i for i, s in enumerate(page.room.students()) if s.student_name == ADA)
    for _ in range(row):
        qtbot.keyClick(page.room.table, Qt.Key.Key_Down)
    selected = page.room.selected_student()
    assert selected is not None
    assert selected.student_name == ADA
    assert QApplication.focusWidget() is page.room.table
    qtbot.keyClick(page.room.table, Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)  # "&Add time"
    # A mnemonic "animates" the click, which lands a moment later.
    qtbot.waitUntil(lambda: page.room.dialog is not None, timeout=TIMEOUT_MS)
    dialog = page.room.dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=TIMEOUT_MS)
    assert dialog.accessibleName() == f"Add time for {ADA}"
    # The dialog's window becomes active a moment after it shows; then the reason list has the keyboard.
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.reason_kind, timeout=TIMEOUT_MS)
    focus = QApplication.focusWidget()
    qtbot.keyClick(focus, Qt.Key.Key_Down)  # Technical problem
    qtbot.keyClick(focus, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dialog.reason_text
    qtbot.keyClicks(dialog.reason_text, "screen froze")
    qtbot.keyClick(dialog.reason_text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.room.message.text().startswith("Added 5 minutes"), timeout=TIMEOUT_MS)
    assert machine.beat(section_id="mc", remaining_seconds=880) == ["add_time"]
