"""Results view: status and section scores of a result uploaded through sync.client; a spreadsheet-safe CSV export."""

from __future__ import annotations

import csv
import uuid
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from pytestqt.qtbot import QtBot

from player.csv_export import ENCODING
from player.ui.console.results import ResultsView
from player.ui.console.sittings import SittingContext
from sync import staff_protocol as sp
from sync.client import InvigilClient
from sync.protocol import AnswerRecord, AnswerValue, ResultEnvelope
from tests.helpers.clock import START
from tests.helpers.console import Chooser, headers, text_at
from tests.helpers.live_server import LiveServer
from tests.helpers.server import API, Demo
from tests.helpers.waiting import TIMEOUT_MS

# Ada's answers, and what the demo's keys make of them: multiple choice 3 of 4, short answers 2 of 7
# (the empty description needs nobody's marking), dictation 5 of 10.
ADA_ANSWERS: dict[str, AnswerValue] = {
    "mc-circles": "b",
    "mc-opposite": "a",
    "mc-nouns": ["a", "c"],
    "short-plural": "children",
    "short-past": "swum",
    "short-capital": "Paris",
    "dict-cat": "The cat sat on the warm mat by the door.",
}
HEADER = [
    "Student",
    "ID",
    "Status",
    "Multiple choice (out of 4)",
    "Short answers (out of 7)",
    "Dictation (out of 10)",
    "Total (out of 21)",
    "Marked by hand",
    "Typed dictation",
    "Written dictation",
    "Comments",
    "Evidence files",
]


def hand_in(live_server: LiveServer, code: str, answers: dict[str, AnswerValue]) -> None:
    """What a player does: log in with the slip's code and send the final result, through sync.client."""
    with InvigilClient(live_server.url, machine_id="room1-pc07") as player:
        login = player.login(code)
        envelope = ResultEnvelope(
            idempotency_key=str(uuid.uuid4()),
            attempt_id=login.attempt_id,
            section_ids=[s.id for s in login.assessment.sections],
            answers=[AnswerRecord(item_id=i, value=v, answered_at=START) for i, v in answers.items()],
            finished_at=START + timedelta(minutes=20),
        )
        receipt = player.submit_result(login.attempt_id, login.attempt_token, envelope)
    assert receipt.duplicate is False


def add_formula_student(client: TestClient, admin: dict[str, str], demo: Demo) -> None:
    """A student whose name a spreadsheet would run, added to the demo sitting through the staff API."""
    reply = client.post(
        f"{API}/staff/students", headers=admin, json={"unique_id": "X-1", "first_name": "=1+1", "last_name": "Smith"}
    )
    assert reply.status_code == 201, reply.text
    edit = {"add_student_ids": [reply.json()["id"]]}
    reply = client.patch(f"{API}/staff/sittings/{demo.sitting_id}", headers=admin, json=edit)
    assert reply.status_code == 200, reply.text


def open_view(qtbot: QtBot, context: SittingContext, chooser: Chooser, students: int) -> ResultsView:
    view = ResultsView(context, choose_save_path=chooser.save)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.table.rowCount() == students, timeout=TIMEOUT_MS)
    return view


def test_status_and_section_scores_of_an_uploaded_result(
    qtbot: QtBot, context: SittingContext, chooser: Chooser, live_server: LiveServer, demo: Demo
) -> None:
    hand_in(live_server, demo.codes[0], ADA_ANSWERS)
    with context.client_factory() as staff:
        room = {s.student_name: s.allocation_id for s in staff.room(context.token, demo.sitting_id).students}
        entry = sp.ManualEntryIn(typed_dictation="5", written_dictation="8", comments="Neat handwriting")
        staff.save_manual(context.token, room["Ada Lovelace"], entry)
        # Written dictation marked on paper for a student with no result yet shows too.
        staff.save_manual(context.token, room["Grace Hopper"], sp.ManualEntryIn(written_dictation="6"))

    view = open_view(qtbot, context, chooser, students=3)
    assert headers(view.table) == HEADER
    assert [text_at(view.table, r, 0) for r in range(3)] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert view.cell("Ada Lovelace", "Status") == "Marked"
    assert view.cell("Ada Lovelace", "Multiple choice") == "3"
    assert view.cell("Ada Lovelace", "Short answers") == "2"
    assert view.cell("Ada Lovelace", "Dictation") == "5"
    assert view.cell("Ada Lovelace", "Total") == "10"
    assert view.cell("Ada Lovelace", "Written dictation") == "8"
    assert view.cell("Ada Lovelace", "Comments") == "Neat handwriting"
    assert view.cell("Grace Hopper", "Status") == "Not started"
    assert view.cell("Grace Hopper", "Total") == ""
    assert view.cell("Grace Hopper", "Written dictation") == "6"
    assert view.message.text() == "3 students; 1 with scores."


def test_csv_export_neutralises_a_formula_looking_name(
    qtbot: QtBot,
    context: SittingContext,
    chooser: Chooser,
    live_server: LiveServer,
    demo: Demo,
    client: TestClient,
    admin: dict[str, str],
    tmp_path: Path,
) -> None:
    add_formula_student(client, admin, demo)
    hand_in(live_server, demo.codes[0], ADA_ANSWERS)
    view = open_view(qtbot, context, chooser, students=4)
    assert view.cell("=1+1 Smith", "Status") == "Not started", "on screen the name is shown as it is"

    path = tmp_path / "results.csv"
    chooser.paths.append(path)
    with qtbot.waitSignal(view.exported, timeout=TIMEOUT_MS):
        view.export_button.click()
    assert chooser.suggested == ["Demo sitting results.csv"]
    assert path.read_bytes().startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, so Excel reads accents"
    with path.open(encoding=ENCODING, newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == HEADER
    by_name = {row[0]: row for row in rows}
    assert set(by_name) == {"'=1+1 Smith", "Ada Lovelace", "Alan Turing", "Grace Hopper"}
    assert by_name["Ada Lovelace"][1:7] == ["DEMO-001", "Marked", "3", "2", "5", "10"]
    assert by_name["'=1+1 Smith"][1:3] == ["X-1", "Not started"]
    assert view.message.text() == f"Saved results for 4 students to {path}."
