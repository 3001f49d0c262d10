"""Hand marking in the console, through its widgets against the live server: a marker goes through a sitting item
by item, marks reach results and totals, bad scores and a colleague's mark meanwhile are refused in words."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from player.csv_export import ENCODING
from player.ui.console.marking import HandMarkingView
from player.ui.console.results import ResultsView
from player.ui.console.sittings import SittingContext
from sync.client import client_for
from sync.server.store import Store
from tests.helpers.console import Chooser, StudentMachine, start_student
from tests.helpers.live_server import LiveServer
from tests.helpers.server import Demo, new_staff
from tests.helpers.waiting import TIMEOUT_MS

ADA_ESSAY = "My favourite place is the beach.\n\n  The sand is warm, the sea is loud;\nI go there every summer."
GRACE_ESSAY = "The library, because it is quiet."
DESCRIBE = "short-describe"


@pytest.fixture
def students(live_server: LiveServer, demo: Demo) -> Iterator[dict[str, StudentMachine]]:
    machines = {
        name: start_student(live_server.url, code, machine_id=f"room1-pc0{n}")
        for n, (name, code) in enumerate(zip(("Ada", "Alan", "Grace"), demo.codes, strict=True), start=1)
    }
    yield machines
    for machine in machines.values():
        machine.client.close()


def open_marking(qtbot: QtBot, context: SittingContext) -> HandMarkingView:
    view = HandMarkingView(context)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=TIMEOUT_MS):
        view.show()
    return view


def give(qtbot: QtBot, view: HandMarkingView, score: str) -> str:
    """Type a score and press Enter, as a marker does; returns what the view says once the server answered."""
    view.score_edit.clear()
    qtbot.keyClicks(view.score_edit, score)
    with qtbot.waitSignal(view.message_shown, timeout=TIMEOUT_MS, check_params_cb=lambda m: "Saving" not in m):
        qtbot.keyClick(view.score_edit, Qt.Key.Key_Return)
    return view.error.text() or view.message.text()


def test_a_marker_goes_through_the_item_student_by_student_and_results_count_the_marks(
    qtbot: QtBot,
    context: SittingContext,
    chooser: Chooser,
    students: dict[str, StudentMachine],
    tmp_path: Path,
) -> None:
    students["Ada"].hand_in({DESCRIBE: ADA_ESSAY, "short-plural": "children"})
    students["Grace"].hand_in({DESCRIBE: GRACE_ESSAY})
    students["Alan"].hand_in({DESCRIBE: ""})  # left blank: nobody's time

    view = open_marking(qtbot, context)
    assert view.items.currentText() == (
        "Short answers: Describe your favourite place in three or four sentences. (out of 4)"
    )
    assert view.student.text() == "Ada Lovelace (DEMO-001): answer 1 of 2"
    assert view.answer.toPlainText() == ADA_ESSAY, "shown exactly as written"
    assert view.answer.isReadOnly()
    assert view.guidance.text().startswith("Guidance: Up to 4 points")
    assert (view.current.text(), view.out_of.text()) == ("Not marked yet.", "out of 4")
    assert view.progress.text() == "0 of 2 answers to this item marked by hand."

    assert give(qtbot, view, "3.5") == "Saved: Ada Lovelace, 3.5 of 4."
    assert view.student.text() == "Grace Hopper (DEMO-003): answer 2 of 2", "moved on to the next student"
    assert view.answer.toPlainText() == GRACE_ESSAY
    assert view.progress.text() == "1 of 2 answers to this item marked by hand."
    qtbot.mouseClick(view.previous_button, Qt.MouseButton.LeftButton)
    assert view.current.text().startswith("Marked 3.5 of 4 by demo-admin, ")
    assert view.score_edit.text() == "3.5"

    results = ResultsView(context, choose_save_path=chooser.save)
    qtbot.addWidget(results)
    results.show()
    qtbot.waitUntil(lambda: results.table.rowCount() == 3, timeout=TIMEOUT_MS)
    assert results.cell("Ada Lovelace", "Short answers") == "4.5", "1 automatic + 3.5 by hand"
    assert results.cell("Ada Lovelace", "Marked by hand") == "Done: 1 marked by hand"
    assert results.cell("Ada Lovelace", "Status") == "Marked"
    assert results.cell("Grace Hopper", "Marked by hand") == "0 of 1 marked by hand"
    assert results.cell("Grace Hopper", "Status") == "Needs marking by hand"
    assert results.cell("Alan Turing", "Marked by hand") == ""
    assert results.message.text() == "3 students; 3 with scores. 1 answer still to mark by hand."

    path = tmp_path / "results.csv"
    chooser.paths.append(path)
    with qtbot.waitSignal(results.exported, timeout=TIMEOUT_MS):
        results.export_button.click()
    with path.open(encoding=ENCODING, newline="") as f:
        header, *rows = list(csv.reader(f))
    ada = dict(zip(header, next(r for r in rows if r[0] == "Ada Lovelace"), strict=True))
    assert (ada["Short answers (out of 7)"], ada["Marked by hand"]) == ("4.5", "Done: 1 marked by hand")
    assert ada["Total (out of 21)"] == results.cell("Ada Lovelace", "Total")


def test_a_score_off_the_scale_is_refused_before_anything_is_sent(
    qtbot: QtBot, context: SittingContext, students: dict[str, StudentMachine]
) -> None:
    students["Ada"].hand_in({DESCRIBE: ADA_ESSAY})
    view = open_marking(qtbot, context)
    for typed, why in (("5", "5 is outside that range."), ("-1", "-1 is outside that range."),
                       ("three", "'three' is not a number."), ("8/10", "'8/10' is not a number."),
                       ("2.125", "scores have at most two decimals.")):  # fmt: skip
        view.score_edit.setText(typed)
        qtbot.keyClick(view.score_edit, Qt.Key.Key_Return)
        assert view.error.text() == f"Type the score as a number from 0 to 4, such as 2 or 2.5; {why}"
    assert view.current.text() == "Not marked yet."
    with context.client_factory() as staff:
        [answer] = staff.hand_marking(context.token, context.sitting_id).items[0].answers
    assert answer.mark is None, "nothing reached the server"
    said = give(qtbot, view, "2,5")
    assert said == "Saved: Ada Lovelace, 2.5 of 4. Every answer to this item is marked.", "a comma is a decimal point"


def test_a_colleagues_mark_given_meanwhile_is_not_overwritten(
    qtbot: QtBot,
    context: SittingContext,
    students: dict[str, StudentMachine],
    live_server: LiveServer,
    store: Store,
    demo: Demo,
) -> None:
    result_id = students["Ada"].hand_in({DESCRIBE: ADA_ESSAY})
    view = open_marking(qtbot, context)
    username, password = new_staff(store, school_id=demo.school_id, role="teacher", username="ms-byron")
    with client_for(live_server.url, machine_id="staff-pc2", timeout=5.0, ca_bundle=None) as colleague:
        token = colleague.staff_login(username, password).token
        colleague.give_hand_mark(token, result_id, DESCRIBE, 4, replaces=None)

    said = give(qtbot, view, "1")
    assert said.startswith("Your mark (1) was not saved: ms-byron marked Ada Lovelace's answer to item")
    assert "4 of 4" in said
    qtbot.waitUntil(lambda: view.current.text().startswith("Marked 4 of 4 by ms-byron"), timeout=TIMEOUT_MS)
    assert view.error.text() == said, "the refusal stays while the colleague's mark is shown"
    assert give(qtbot, view, "3").startswith("Saved: Ada Lovelace, 3 of 4."), "having seen it, they may change it"


def test_a_student_still_sitting_shows_in_progress_and_cannot_be_marked_yet(
    qtbot: QtBot, context: SittingContext, chooser: Chooser, students: dict[str, StudentMachine]
) -> None:
    students["Ada"].hand_in({DESCRIBE: ADA_ESSAY}, final=False)
    students["Ada"].beat(section_id="dictation", section_title="Dictation", item_index=1, item_count=2)
    view = open_marking(qtbot, context)
    assert view.current.text() == ("Ada Lovelace is still sitting the test: mark this answer once they have finished.")
    assert not view.score_edit.isEnabled()
    assert not view.save_button.isEnabled()

    results = ResultsView(context, choose_save_path=chooser.save)
    qtbot.addWidget(results)
    results.show()
    qtbot.waitUntil(lambda: results.table.rowCount() == 3, timeout=TIMEOUT_MS)
    assert results.cell("Ada Lovelace", "Status") == "In progress", "never 'Marked' while sitting"
    assert results.cell("Ada Lovelace", "Marked by hand") == "0 of 1 marked by hand"
