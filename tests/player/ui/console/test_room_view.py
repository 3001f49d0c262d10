"""The room as an invigilator reads it (machine names, progress, arrangements, alerts, each machine's readiness,
version and times the test window was left), reasons never chosen for
them, ending a section said plainly, the whole room's add time and end section, and a release that keeps the time
shown: real console widgets against the live server, students' machines through sync.client or real players."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtWidgets import QTableWidgetItem
from pytestqt.qtbot import QtBot

from player.ui.console import SittingPage
from player.ui.console.actions import NO_REASON, REASON_LABELS
from player.ui.console.room import COLUMNS
from player.ui.widgets import message_number
from sync.client import InvigilClient
from sync.error_catalogue import by_number
from sync.protocol import Checkpoint
from sync.version import VERSION
from tests.helpers.clock import START, FakeClock
from tests.helpers.console import ConsoleFactory, access_codes, act, start_student, wait_for_cell
from tests.helpers.live_server import LiveServer
from tests.helpers.player_ui import PlayerFactory, start_items, wait_for_screen
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS

ADA, ALAN, GRACE = "Ada Lovelace", "Alan Turing", "Grace Hopper"
STATE, ANSWERED, TIME_LEFT, ARRANGEMENTS, ALERTS = (
    COLUMNS.index(name) for name in ("State", "Answered", "Time left", "Arrangements", "Alerts")
)
MC = {"section_id": "mc", "section_title": "Multiple choice", "item_count": 3}
SHORT = {"section_id": "short", "section_title": "Short answers", "item_count": 4}


def test_the_room_names_machines_and_shows_progress_arrangements_and_alerts(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    codes = access_codes(demo_template)
    page = open_demo_console().sign_in_and_open_sitting()
    ada = start_student(live_server.url, codes[ADA], machine_id="9f7a80a8-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
    restarted = START + timedelta(minutes=3)
    ada.beat(**MC, item_index=2, remaining_seconds=500, machine_name="room12-pc03", answered_count=4,
             question_count=10, audio="not_heard", resumed_at=restarted.isoformat())  # fmt: skip
    alan = start_student(live_server.url, codes[ALAN], machine_id="pc-uuid-alan")
    alan.beat(starting=True, machine_name="room12-pc04", audio="no_device")

    wait_for_cell(qtbot, page, ADA, STATE, "On room12-pc03, in Multiple choice, item 2 of 3")
    ada_row = page.room.row_texts(ADA)
    assert "9f7a80a8" not in " ".join(ada_row), "the machine's name, never its id"
    assert ada_row[ANSWERED] == "4 of 10"
    assert ada_row[ALERTS] == f"Restarted at {restarted.astimezone():%H:%M}; Sound check failed: not heard"
    wait_for_cell(qtbot, page, ALAN, STATE, "On room12-pc04, getting ready (instructions, sound check)")
    alan_row = page.room.row_texts(ALAN)
    assert alan_row[ARRANGEMENTS] == "Extra time 25 %"
    assert alan_row[ALERTS] == "No sound output on this computer"
    assert "Alerts 2" in page.room.counts.text()
    row = next(i for i, s in enumerate(page.room.students()) if s.student_name == ALAN)
    cell = page.room.table.item(row, ALERTS)
    assert cell is not None
    assert cell.font().bold(), "an alert stands out"

    act(qtbot, page, "add_time", student=ALAN, reason_kind="access_arrangement", text="")
    wait_for_cell(qtbot, page, ALAN, ARRANGEMENTS, "Extra time 25 %; +5 min added")


def test_the_room_shows_each_machines_readiness_version_and_times_the_window_was_left(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    codes = access_codes(demo_template)
    page = open_demo_console().sign_in_and_open_sitting()
    clock = "Clock against the server: this machine is 75 seconds behind the server"
    disk = "Free disk space: 150 MB free in the data folder"
    ada = start_student(live_server.url, codes[ADA], machine_id="pc-ada")
    ada.beat(**MC, item_index=1, remaining_seconds=600, machine_name="room12-pc03", app_version=VERSION,
             readiness=f"{clock}; {disk}", left_window_count=3)  # fmt: skip
    alan = start_student(live_server.url, codes[ALAN], machine_id="pc-alan")
    alan.beat(**MC, item_index=1, remaining_seconds=600, machine_name="room12-pc04", app_version="0.0.9",
              readiness="Ready")  # fmt: skip
    grace = start_student(live_server.url, codes[GRACE], machine_id="pc-grace")
    grace.beat(**MC, item_index=1, remaining_seconds=600, machine_name="room12-pc05")  # an older player: no report

    wait_for_cell(qtbot, page, ADA, ALERTS, "Not ready: Clock against the server and 1 more; Left the window 3 times")
    wait_for_cell(qtbot, page, ALAN, ALERTS, f"Runs Invigil 0.0.9 (this computer: {VERSION})")
    wait_for_cell(qtbot, page, GRACE, ALERTS, "")
    assert alert_cell(page, ADA).font().bold(), "a machine that is not ready, or was left, stands out"
    assert "Alerts 2" in page.room.counts.text()

    # The line under the table says everything the chosen student's machine said, the whole summary included.
    page.room.select_student(ADA)
    assert page.room.machine.text() == (
        f"{ADA} on room12-pc03 · Invigil {VERSION} · Readiness: {clock}; {disk} · Left the test window 3 times"
    )
    page.room.select_student(ALAN)
    assert page.room.machine.text() == f"{ALAN} on room12-pc04 · Invigil 0.0.9 · Readiness: Ready"
    page.room.select_student(GRACE)
    assert page.room.machine.text() == f"{GRACE} on room12-pc05"
    assert page.room.machine.isVisible()

    ada.beat(**MC, item_index=1, remaining_seconds=590, left_window_count=4)
    wait_for_cell(qtbot, page, ADA, ALERTS, "Not ready: Clock against the server and 1 more; Left the window 4 times")
    page.tabs.setCurrentWidget(page.log_view)
    qtbot.waitUntil(lambda: len(left_window_rows(page)) == 2, timeout=TIMEOUT_MS)
    assert [row[3] for row in left_window_rows(page)] == [ADA, ADA]
    assert sorted(row[5] for row in left_window_rows(page)) == [
        "3 times so far, on room12-pc03",
        "4 times so far, on room12-pc03",
    ]


def alert_cell(page: SittingPage, name: str) -> QTableWidgetItem:
    row = next(i for i, s in enumerate(page.room.students()) if s.student_name == name)
    item = page.room.table.item(row, ALERTS)
    assert item is not None
    return item


def left_window_rows(page: SittingPage) -> list[tuple[str, ...]]:
    return [row for row in page.log_view.rows() if row[2] == "Left the test window"]


def test_no_reason_is_chosen_for_the_invigilator_and_each_action_offers_its_own(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    page = open_demo_console().sign_in_and_open_sitting()
    machine = start_student(live_server.url, access_codes(demo_template)[ADA])
    machine.beat(**MC, item_index=1, remaining_seconds=600)
    wait_for_cell(qtbot, page, ADA, TIME_LEFT, "10:00")
    page.room.select_student(ADA)

    offered = {}
    for kind in ("pause", "resume", "end_section", "resume_room"):
        dialog = page.room.begin_action(kind)
        assert dialog is not None
        assert dialog.reason_kind.currentIndex() == -1, f"{kind}: no reason chosen at first"
        offered[kind] = [dialog.reason_kind.itemText(i) for i in range(dialog.reason_kind.count())]
        dialog.reject()
    assert REASON_LABELS["toilet_break"] in offered["pause"]
    assert REASON_LABELS["toilet_break"] not in offered["resume"] + offered["end_section"] + offered["resume_room"]
    assert REASON_LABELS["break_over"] in offered["resume"]

    dialog = page.room.begin_action("pause")
    assert dialog is not None
    dialog.ok_button.click()
    assert dialog.isVisible()
    assert dialog.message.text() == NO_REASON
    assert machine.beat(**MC) == [], "nothing was sent"

    dialog.reason_text.setText("fire drill practice")  # typed, not picked
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: page.room.message.text().startswith(f"Paused {ADA}."), timeout=TIMEOUT_MS)
    page.tabs.setCurrentWidget(page.log_view)
    qtbot.waitUntil(lambda: any(row[3] == ADA for row in page.log_view.rows()), timeout=TIMEOUT_MS)
    logged = next(row for row in page.log_view.rows() if row[3] == ADA)
    assert logged[4] == "Other: fire drill practice"


def test_end_section_names_the_section_says_it_is_final_and_the_room_follows_at_once(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    start_player: PlayerFactory,
    demo_template: DemoTemplate,
    clock: FakeClock,
) -> None:
    page = open_demo_console().sign_in_and_open_sitting()
    student = start_player(clock=clock, heartbeat_every=5.0)
    start_items(qtbot, student, access_codes(demo_template)[ADA])
    for _ in range(2):
        student.controller.items.go_next()
    clock.advance(5)  # the player's next heartbeat says where Ada is
    qtbot.waitUntil(lambda: ", item 3 of 3" in page.room.row_texts(ADA)[STATE], timeout=TIMEOUT_MS)

    page.room.select_student(ADA)
    dialog = page.room.begin_action("end_section")
    assert dialog is not None
    assert dialog.windowTitle() == f"End {ADA}'s section: Multiple choice"
    assert dialog.warning.isVisible()
    assert dialog.warning.text() == (
        f"This is final: {ADA} moves on from the section Multiple choice and cannot go back to it. "
        "Their answers to it are kept and sent."
    )
    dialog.choose_reason("finished_early", "")
    dialog.ok_button.click()
    # Shown at once, before Ada's computer has collected it.
    qtbot.waitUntil(lambda: "end of section sent" in page.room.row_texts(ADA)[STATE], timeout=TIMEOUT_MS)
    assert page.room.message.text().startswith(f"Ended Multiple choice for {ADA}.")

    clock.advance(5)  # one heartbeat collects it; the player reports the next section straight after applying it
    wait_for_screen(qtbot, student, student.window.instructions)
    qtbot.waitUntil(lambda: "in Short answers, item 1 of 4" in page.room.row_texts(ADA)[STATE], timeout=TIMEOUT_MS)
    assert "sent" not in page.room.row_texts(ADA)[STATE]

    page.tabs.setCurrentWidget(page.log_view)
    qtbot.waitUntil(lambda: any(row[2] == "Ended the section" for row in page.log_view.rows()), timeout=TIMEOUT_MS)
    logged = next(row for row in page.log_view.rows() if row[2] == "Ended the section")
    assert (logged[3], logged[4], logged[5]) == (ADA, "Finished early: asked to move on", "Multiple choice")


def test_add_time_and_end_section_for_the_whole_room(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    codes = access_codes(demo_template)
    page = open_demo_console().sign_in_and_open_sitting()
    machines = {name: start_student(live_server.url, codes[name], machine_id=f"pc-{name[:3]}") for name in codes}
    machines[ADA].beat(**MC, item_index=1, remaining_seconds=600)
    machines[GRACE].beat(**MC, item_index=2, remaining_seconds=600)
    machines[ALAN].beat(**SHORT, item_index=1, remaining_seconds=900)
    wait_for_cell(qtbot, page, ALAN, TIME_LEFT, "15:00")

    page.room.buttons["add_time_room"].click()
    dialog = page.room.dialog
    assert dialog is not None
    assert dialog.windowTitle() == "Add time for the whole room"
    dialog.choose_reason("fire_alarm", "evacuated 09:40-09:50")
    dialog.minutes.setValue(10)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: page.room.message.text().startswith("Added 10 minutes for 3 students."), timeout=TIMEOUT_MS)
    for machine in machines.values():
        assert machine.beat(section_id=None) == ["add_time"]
    machines[ADA].beat(**MC, item_index=1, remaining_seconds=1200)
    machines[GRACE].beat(**MC, item_index=2, remaining_seconds=1200)
    machines[ALAN].beat(**SHORT, item_index=1, remaining_seconds=1500)
    wait_for_cell(qtbot, page, ALAN, TIME_LEFT, "25:00")

    page.room.buttons["end_section_room"].click()
    dialog = page.room.dialog
    assert dialog is not None
    assert [dialog.section.itemText(i) for i in range(dialog.section.count())] == [
        "Multiple choice (2 students in it now)",
        "Short answers (1 student in it now)",
    ]
    assert dialog.warning.text() == (
        "This is final: the 2 students in Multiple choice move on and cannot go back to it. "
        "Their answers to it are kept and sent."
    )
    dialog.choose_reason("room_timetable", "")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: page.room.message.text().startswith("Ended Multiple choice for 2 students."),
                    timeout=TIMEOUT_MS)  # fmt: skip
    assert machines[ADA].beat(**MC) == ["end_section"]
    assert machines[GRACE].beat(**MC) == ["end_section"]
    assert machines[ALAN].beat(**SHORT) == []


def test_a_released_student_resumes_with_the_time_the_console_showed(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    start_player: PlayerFactory,
    demo_template: DemoTemplate,
    clock: FakeClock,
) -> None:
    code = access_codes(demo_template)[ADA]
    page = open_demo_console().sign_in_and_open_sitting()
    old = start_student(live_server.url, code, machine_id="room1-pc01")
    # The uploader's last checkpoint is 20 s older than the last heartbeat, as it may be (checkpoints go up to 30 s
    # apart, heartbeats every 5 s).
    older = Checkpoint(section_id="mc", item_id="mc-opposite", remaining_seconds=351, taken_at=START)
    old.client.put_checkpoint(old.login.attempt_id, old.login.attempt_token, older)
    clock.advance(20)
    old.beat(**MC, item_id="mc-opposite", item_index=2, remaining_seconds=331)
    wait_for_cell(qtbot, page, ADA, TIME_LEFT, "5:31")
    act(qtbot, page, "release", student=ADA, reason_kind="moved_machine", text="pc01 keyboard broke")

    new = start_player(clock=clock, heartbeat_every=None)
    new.window.access_code.code_edit.setText(code)
    new.window.access_code.start_button.click()
    wait_for_screen(qtbot, new, new.window.confirm)
    new.window.confirm.yes_button.click()
    wait_for_screen(qtbot, new, new.window.item)
    assert new.window.timer.text() == "Time left 5:31"
    assert new.window.item.position.text() == "Multiple choice: question 2 of 3"


def test_a_room_that_cannot_be_updated_says_why_with_the_causes_number(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer
) -> None:
    page = open_demo_console().sign_in_and_open_sitting()
    qtbot.waitUntil(lambda: "Updated" in page.room.status.text(), timeout=TIMEOUT_MS)
    assert message_number(page.room.status) == ""
    # The staff session ends on the server (signed out elsewhere): the next refresh is refused.
    with InvigilClient(live_server.url, machine_id="another-pc") as other:
        other.staff_logout(page.context.token)

    qtbot.waitUntil(lambda: page.room.status.text().startswith("Could not update the room"), timeout=TIMEOUT_MS)
    assert page.room.status.text().startswith("Could not update the room (showing the last view): ")
    shown = message_number(page.room.status)
    entry = by_number(shown)
    assert entry is not None, shown
    assert entry.key.startswith("api."), shown  # the server's refusal, numbered as the server sent it
    assert page.room.students(), "the last view stays"
