"""One sitting's tabs in the console: all of them there, codes fetched only when the slips are shown, and every
export or slip made from them noted in the sitting's log (or the invigilator told why it is not)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from player.ui.console import SittingPage
from player.ui.console.incidents import IncidentsView
from player.ui.console.log import describe_detail
from player.ui.console.server_calls import note_in_log
from player.ui.console.slips import SlipsView
from sync import staff_protocol as sp
from tests.helpers.console import ConsoleFactory, SavePaths, sitting_tab
from tests.helpers.waiting import TIMEOUT_MS

FETCHED_CODES = "Fetched the access codes"


def log_actions(qtbot: QtBot, page: SittingPage) -> list[str]:
    loads = page.log_view.loads
    page.log_view.reload()
    qtbot.waitUntil(lambda: page.log_view.loads > loads, timeout=TIMEOUT_MS)
    return [row[2] for row in page.log_view.rows()]


def test_a_sitting_has_every_tab_and_fetches_the_codes_only_when_the_slips_are_shown(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    page = open_demo_console().sign_in_and_open_sitting()
    titles = [page.tabs.tabText(i).replace("&", "") for i in range(page.tabs.count())]
    assert titles == ["Room", "Log", "Results", "Manual entries", "Mark by hand", "Incidents", "Slips to hand out"]
    assert FETCHED_CODES not in log_actions(qtbot, page)

    slips = sitting_tab(page, "Slips to hand out")
    assert isinstance(slips, SlipsView)
    with qtbot.waitSignal(slips.loaded, timeout=TIMEOUT_MS):
        page.tabs.setCurrentWidget(slips)
    assert log_actions(qtbot, page).count(FETCHED_CODES) == 1


def test_an_incident_export_and_saved_slips_are_noted_in_the_log(
    qtbot: QtBot, open_demo_console: ConsoleFactory, tmp_path: Path
) -> None:
    saves = SavePaths(queued=[tmp_path / "incidents.csv", tmp_path / "slips.pdf"])
    page = open_demo_console(save_paths=saves).sign_in_and_open_sitting()

    incidents = sitting_tab(page, "Incidents")
    assert isinstance(incidents, IncidentsView)
    page.tabs.setCurrentWidget(incidents)
    with qtbot.waitSignal(incidents.exported, timeout=TIMEOUT_MS):
        incidents.export_button.click()
    assert incidents.message.text() == f"Saved 0 incidents to {tmp_path / 'incidents.csv'}."

    slips = sitting_tab(page, "Slips to hand out")
    assert isinstance(slips, SlipsView)
    page.tabs.setCurrentWidget(slips)
    qtbot.waitUntil(slips.save_button.isEnabled, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(slips.done, timeout=TIMEOUT_MS):
        slips.save_button.click()
    assert (tmp_path / "slips.pdf").read_bytes().startswith(b"%PDF")

    log_actions(qtbot, page)
    rows = {row[2]: row for row in page.log_view.rows()}
    assert rows["Exported the incident log"][1] == "demo-admin"
    assert rows["Exported the incident log"][5] == "0 rows to incidents.csv"
    assert rows["Printed access-code slips"][5] == "3 slips saved as PDF: slips.pdf"
    assert saves.suggested == ["Demo sitting incidents.csv", "Demo sitting slips.pdf"]


def test_an_export_the_server_will_not_log_says_so_instead_of_failing(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    page = open_demo_console().sign_in_and_open_sitting()
    elsewhere = dataclasses.replace(page.context, sitting_id="no-such-sitting")
    with page.context.client_factory() as client:
        problem = note_in_log(client, elsewhere, "export_results", {"rows": 3, "file": "results.csv"})
    assert problem.startswith("It could not be noted in the sitting's log: "), problem
    assert len(problem) > len("It could not be noted in the sitting's log: ") + 10, "and the server's reason"


def entry(action: str, **detail: object) -> sp.LogEntry:
    return sp.LogEntry(
        at=datetime(2027, 3, 1, 9, tzinfo=UTC),
        actor="demo-admin",
        action=action,
        student_name=None,
        reason_kind=None,
        reason=None,
        detail=detail,
    )


@pytest.mark.parametrize(
    ("logged", "shown"),
    [
        (entry("add_time", seconds=600, instruction_id="i1"), "+10 minutes"),
        (entry("add_time", seconds=60), "+1 minute"),
        (entry("pause", whole_room=True), "whole room"),
        (entry("release_code", previous_machine="room1-pc03"), "was on room1-pc03"),
        (entry("submit_result_code", duplicate=True), "already received: nothing changed"),
        (entry("submit_result_code", duplicate=False), "new results stored"),
        (entry("export_results", rows=1, file="r.csv"), "1 row to r.csv"),
        (entry("print_slips", to="printer", printer="Office", slips=3, pages=1), "3 slips printed: Office"),
        (entry("add_incident", kind="fire_alarm", note="drill"), "fire alarm; drill"),
        (entry("list_codes"), ""),
        (entry("play_given_back", item_id="dict-cat", cause="paused"), "item dict-cat: stopped by a pause"),
        (
            entry("play_given_back", item_id="dict-cat", cause="player_stopped"),
            "item dict-cat: the test player stopped (a crash, a power cut or the window closed)",
        ),
    ],
)
def test_log_details_say_what_was_done(logged: sp.LogEntry, shown: str) -> None:
    assert describe_detail(logged) == shown
