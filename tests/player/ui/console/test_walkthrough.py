"""Issue 5's "done when", tried as a new invigilator would, with the real server and three students' computers.

An invigilator signs in, watches three demo students progress live, pauses one, adds time to another, moves the
third to a second machine, submits a result code, prints slips, and exports results — and every one of those
is visible in the sitting's log, with who and when.

The students' computers are driven through sync.client as the player drives it (log in, heartbeats,
checkpoints); the moved student finishes on the second computer, whose network has gone, so the result stays in
that computer's real journal. The invigilator saves its result code from the staff-only "Results waiting on this
computer" onto a USB stick and hands it in under "Result codes" (one console stands in for both computers).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from player.ui.console import SittingPage
from player.ui.console.results import ResultsView
from player.ui.console.room import COLUMNS
from player.ui.console.slips import SlipsView
from sync.client import Refused
from sync.protocol import Checkpoint, LoginResponse
from tests.helpers.clock import START
from tests.helpers.console import (
    ConsoleFactory,
    PrintToFile,
    ResultsOnThisComputer,
    SavePaths,
    StudentJournal,
    access_codes,
    act,
    sitting_tab,
    start_student,
    wait_for_cell,
)
from tests.helpers.live_server import LiveServer
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS

ADA, ALAN, GRACE = "Ada Lovelace", "Alan Turing", "Grace Hopper"
STATE, TIME_LEFT, UNSENT = (COLUMNS.index(name) for name in ("State", "Time left", "Unsent"))
MC = {"section_id": "mc", "section_title": "Multiple choice", "item_count": 3}


def state_of(page: SittingPage, student: str) -> str:
    try:
        return page.room.row_texts(student)[STATE]
    except LookupError:
        return ""  # the room has not loaded yet


def test_an_invigilator_runs_a_sitting_and_the_log_shows_every_step(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    offline_journals: Callable[[LoginResponse, str], StudentJournal],
    tmp_path: Path,
) -> None:
    codes = access_codes(demo_template)
    staff = demo_template.data["staff"]["username"]
    usb, exports = tmp_path / "usb", tmp_path / "exports"
    usb.mkdir()
    exports.mkdir()
    saves = SavePaths()
    printed = PrintToFile(exports / "printed-slips.pdf")
    second_machine = ResultsOnThisComputer()

    # ---- signs in ----
    console = open_demo_console(local_results=second_machine, save_paths=saves, confirm_print=printed)
    page = console.sign_in_and_open_sitting()
    assert console.window.who.text() == "Signed in as Demo Admin"
    for name in (ADA, ALAN, GRACE):
        wait_for_cell(qtbot, page, name, STATE, "Not started")

    # ---- watches three students progress live ----
    ada = start_student(live_server.url, codes[ADA], machine_id="room1-pc01")
    grace = start_student(live_server.url, codes[GRACE], machine_id="room1-pc02")
    alan = start_student(live_server.url, codes[ALAN], machine_id="room1-pc03")
    for machine in (ada, grace, alan):
        assert machine.beat(**MC, item_index=1, remaining_seconds=600) == []
    wait_for_cell(qtbot, page, ADA, STATE, "On room1-pc01, in Multiple choice, item 1 of 3")
    wait_for_cell(qtbot, page, GRACE, STATE, "On room1-pc02, in Multiple choice, item 1 of 3")
    wait_for_cell(qtbot, page, ALAN, STATE, "On room1-pc03, in Multiple choice, item 1 of 3")
    assert "In progress 3" in page.room.counts.text()

    ada.beat(**MC, item_index=2, remaining_seconds=540)
    grace.beat(**MC, item_index=3, remaining_seconds=500)
    wait_for_cell(qtbot, page, ADA, STATE, "On room1-pc01, in Multiple choice, item 2 of 3")
    wait_for_cell(qtbot, page, GRACE, TIME_LEFT, "8:20")

    # ---- pauses one ----
    outcome = act(qtbot, page, "pause", student=ADA, reason_kind="toilet_break", text="back in 5 minutes")
    assert outcome.startswith(f"Paused {ADA}."), outcome
    assert ada.beat(**MC, item_index=2, remaining_seconds=530) == ["pause"]
    ada.beat(**MC, item_index=2, remaining_seconds=530, paused=True)
    wait_for_cell(qtbot, page, ADA, STATE, "Paused — on room1-pc01, in Multiple choice, item 2 of 3")

    # ---- adds time to another ----
    page.room.select_student(GRACE)
    dialog = page.room.begin_action("add_time")
    assert dialog is not None
    dialog.choose_reason("technical_problem", "headphones replaced")
    dialog.minutes.setValue(10)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: page.room.message.text().startswith("Added 10 minutes"), timeout=TIMEOUT_MS)
    assert grace.beat(**MC, item_index=3, remaining_seconds=490) == ["add_time"]
    grace.beat(**MC, item_index=3, remaining_seconds=490 + 600)
    wait_for_cell(qtbot, page, GRACE, TIME_LEFT, "18:10")

    # ---- moves the third to a second machine ----
    where = Checkpoint(section_id="mc", item_id="mc-circles", remaining_seconds=440, taken_at=START)
    alan.client.put_checkpoint(alan.login.attempt_id, alan.login.attempt_token, where)
    # The checkpoint is 20 s older than the last heartbeat: the student resumes with the time the room showed.
    alan.beat(**MC, item_id="mc-circles", item_index=1, remaining_seconds=420)
    wait_for_cell(qtbot, page, ALAN, TIME_LEFT, "7:00")
    outcome = act(qtbot, page, "release", student=ALAN, reason_kind="moved_machine", text="pc03 screen died")
    assert outcome.startswith(f"Released {ALAN}'s code"), outcome
    wait_for_cell(qtbot, page, ALAN, STATE, "Released: waiting to log in on another machine")
    moved = start_student(live_server.url, codes[ALAN], machine_id="room1-pc07")
    assert moved.login.attempt_id == alan.login.attempt_id
    assert moved.login.checkpoint is not None
    assert (moved.login.checkpoint.item_id, moved.login.checkpoint.remaining_seconds) == ("mc-circles", 420)
    with pytest.raises(Refused):
        alan.beat(**MC, item_index=1, remaining_seconds=410)
    moved.beat(**MC, item_index=1, remaining_seconds=420)
    wait_for_cell(qtbot, page, ALAN, STATE, "On room1-pc07, in Multiple choice, item 1 of 3")

    # ---- the second machine finishes offline; its result code goes by USB stick ----
    second_machine.journal = offline_journals(moved.login, live_server.url)
    moved.beat(finished=True, outbox_depth=1)
    wait_for_cell(qtbot, page, ALAN, STATE, "Finished: results waiting on room1-pc07")
    assert page.room.row_texts(ALAN)[UNSENT] == "1 waiting on room1-pc07"
    console.window.close_sitting()
    unsent = console.window.unsent
    assert unsent is not None
    console.window.home.setCurrentWidget(unsent)
    unsent.refresh()
    assert [row[:2] for row in unsent.rows()] == [(ALAN, "The whole test (3 sections)")]
    saves.queued.append(usb / "alan-result.txt")
    unsent.save_button.click()
    assert (usb / "alan-result.txt").is_file(), unsent.message.text()

    # ---- submits a result code ----
    code_entry = console.window.code_entry
    console.window.home.setCurrentWidget(code_entry)
    code_entry.load_file(usb / "alan-result.txt")
    qtbot.waitUntil(lambda: code_entry.last_receipt is not None, timeout=TIMEOUT_MS)
    assert code_entry.message.text().startswith(f"New results received for {ALAN} (Demo sitting)")

    view = console.window.sittings
    assert view is not None
    view.open_selected()
    reopened = console.window.sitting_page
    assert reopened is not None
    page = reopened
    qtbot.waitUntil(lambda: state_of(page, ALAN).startswith("Finished: "), timeout=TIMEOUT_MS)
    assert page.room.row_texts(ALAN)[STATE] in ("Finished: results sent", "Finished: marked")

    # ---- prints slips ----
    slips = sitting_tab(page, "Slips to hand out")
    assert isinstance(slips, SlipsView)
    page.tabs.setCurrentWidget(slips)
    qtbot.waitUntil(slips.print_button.isEnabled, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(slips.done, timeout=TIMEOUT_MS) as printing:
        slips.print_button.click()
    assert printed.shown == 1
    assert printing.args == [f"Sent 3 slips (1 page) to {printed.path}."]
    assert printed.path.read_bytes().startswith(b"%PDF")

    # ---- exports results ----
    results = sitting_tab(page, "Results")
    assert isinstance(results, ResultsView)
    page.tabs.setCurrentWidget(results)
    qtbot.waitUntil(lambda: results.table.rowCount() == 3, timeout=TIMEOUT_MS)
    saves.queued.append(exports / "results.csv")
    with qtbot.waitSignal(results.exported, timeout=TIMEOUT_MS):
        results.export_button.click()
    assert results.message.text() == f"Saved results for 3 students to {exports / 'results.csv'}."
    with (exports / "results.csv").open(encoding="utf-8", newline="") as handle:
        students = {row[0] for row in csv.reader(handle)}
    assert {ADA, ALAN, GRACE} <= students

    # ---- every one of those is in the sitting's log, with who and when ----
    page.tabs.setCurrentWidget(page.log_view)
    wanted = {
        ("Paused", ADA, "Toilet break: back in 5 minutes", ""),
        ("Added time", GRACE, "Technical problem: headphones replaced", "+10 minutes"),
        (
            "Released the code to another machine",
            ALAN,
            "Moved to another machine: pc03 screen died",
            "was on room1-pc03",
        ),
        ("Submitted a result code", ALAN, "", "new results stored"),
        ("Printed access-code slips", "—", "", f"3 slips printed: {printed.path}"),
        ("Exported the results", "—", "", "3 rows to results.csv"),
    }

    def logged() -> set[tuple[str, ...]]:
        page.log_view.reload()
        return {(row[2], row[3], row[4], row[5]) for row in page.log_view.rows()}

    qtbot.waitUntil(lambda: wanted <= logged(), timeout=TIMEOUT_MS)
    when = f"{START.astimezone():%d %b %Y %H:%M}"  # the console's one date format, as in every view
    for row in page.log_view.rows():
        if (row[2], row[3], row[4], row[5]) in wanted:
            assert row[0] == when, f"{row[2]}: logged at {row[0]}, not when it happened ({when})"
            assert row[1] == staff, f"{row[2]}: logged as done by {row[1]!r}"
