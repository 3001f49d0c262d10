"""Result codes of real attempts on the live server, the console's "Result codes" tab signed in, and what the
server holds afterwards: shared by the typed-code and the QR reader tests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pytestqt.qtbot import QtBot

from player.ui.console.code_entry import CodeEntryView
from sync import resultcode
from sync import staff_protocol as sp
from sync.client import client_for
from sync.protocol import AnswerRecord, ResultEnvelope
from tests.helpers.clock import START
from tests.helpers.console import ConsoleFactory, StudentMachine, start_student
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS


def finished_envelope(machine: StudentMachine, *, description: str = "") -> ResultEnvelope:
    """The whole test answered on `machine`; a `description` (the extended-text item) makes the code longer."""
    answers = [
        AnswerRecord(item_id="mc-circles", value="b", answered_at=START + timedelta(minutes=3)),
        AnswerRecord(item_id="short-plural", value="children", answered_at=START + timedelta(minutes=4)),
    ]
    if description:
        answers.append(
            AnswerRecord(item_id="short-describe", value=description, answered_at=START + timedelta(minutes=8))
        )
    return ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=machine.login.attempt_id,
        section_ids=["mc", "short", "dictation"],
        answers=answers,
        finished_at=START + timedelta(minutes=20),
        final=True,
    )


def result_code_for(
    server_url: str, access_code: str, *, description: str = "", short: bool = False, machine_id: str = "room1-pc01"
) -> str:
    """A student's computer that logged in, answered, and never got online again: its result code (`short`: the
    format 3 code the player makes with the delivery form, else format 2)."""
    machine = start_student(server_url, access_code, machine_id=machine_id)
    machine.client.close()
    envelope = finished_envelope(machine, description=description)
    delivery = machine.login.assessment if short else None
    return resultcode.encode(envelope, result_secret=machine.login.result_secret, delivery=delivery)


def forged_code_for(server_url: str, access_code: str, *, other_access_code: str) -> str:
    """A well-formed code for `access_code`'s attempt, sealed with another attempt's secret: not authentic."""
    machine = start_student(server_url, access_code, machine_id="room1-pc07")
    other = start_student(server_url, other_access_code, machine_id="room1-pc08")
    machine.client.close()
    other.client.close()
    envelope = finished_envelope(machine)
    return resultcode.encode(envelope, result_secret=other.login.result_secret, delivery=machine.login.assessment)


def signed_in_codes_view(qtbot: QtBot, open_demo_console: ConsoleFactory, **options: Any) -> CodeEntryView:
    console = open_demo_console(**options)
    console.sign_in()
    qtbot.waitUntil(lambda: console.window.session is not None, timeout=TIMEOUT_MS)
    console.window.home.setCurrentWidget(console.window.code_entry)
    return console.window.code_entry


def submit_and_wait(qtbot: QtBot, view: CodeEntryView) -> str:
    view.submit_button.click()
    qtbot.waitUntil(lambda: view.submit_button.isEnabled() and view.message.text() != "Sending…", timeout=TIMEOUT_MS)
    return view.message.text()


def stored_results(server_url: str, demo_template: DemoTemplate, student: str) -> list[sp.ResultOut]:
    """The results the server holds for `student` in the demo sitting, as the admin sees them."""
    sitting_id = str(demo_template.data["sitting"]["id"])
    with client_for(server_url, machine_id="results-check", timeout=5.0, ca_bundle=None) as client:
        results = client.sitting_results(demo_template.admin_token, sitting_id)
    return [result for result in results if result.student_name == student]
