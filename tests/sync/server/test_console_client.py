"""The console's client methods round-trip against the real server under uvicorn."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sync import resultcode
from sync import staff_protocol as sp
from sync.client import ClientError, InvigilClient, Refused
from sync.protocol import AnswerRecord, Heartbeat, LoginResponse, ResultEnvelope
from tests.helpers.clock import START, FakeClock
from tests.helpers.live_server import LiveServer
from tests.helpers.server import Demo

PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)


@pytest.fixture
def console(live_server: LiveServer) -> Iterator[InvigilClient]:
    with InvigilClient(live_server.url, machine_id="console") as client:
        yield client


@pytest.fixture
def player(live_server: LiveServer) -> Iterator[InvigilClient]:
    with InvigilClient(live_server.url, machine_id="room-1-pc-1") as client:
        yield client


@pytest.fixture
def token(console: InvigilClient, demo: Demo) -> str:
    return console.staff_login(demo.data["staff"]["username"], demo.data["staff"]["password"]).token


def ada_allocation(console: InvigilClient, token: str, demo: Demo) -> str:
    view = console.room(token, demo.sitting_id)
    return next(s.allocation_id for s in view.students if s.student_name == "Ada Lovelace")


def where(login: LoginResponse) -> Heartbeat:
    section = login.assessment.sections[0]
    return Heartbeat(section_id=section.id, section_title=section.title, item_id=section.items[0].id, item_index=1,
                     item_count=len(section.items), remaining_seconds=600)  # fmt: skip


def test_room_actions_and_log_round_trip(
    console: InvigilClient, player: InvigilClient, token: str, demo: Demo, clock: FakeClock
) -> None:
    login = player.login(demo.codes[0])
    player.heartbeat(login.attempt_id, login.attempt_token, where(login))
    view = console.room(token, demo.sitting_id)
    assert (view.sitting_name, view.counts.in_progress, view.counts.not_started) == ("Demo sitting", 1, 2)
    ada = next(s for s in view.students if s.student_name == "Ada Lovelace")
    assert (ada.state, ada.section_title, ada.item_index, ada.online) == ("in_progress", "Multiple choice", 1, True)

    paused = console.act(token, ada.allocation_id, "pause", reason_kind="toilet_break", reason="")
    added = console.act(token, ada.allocation_id, "add_time", reason_kind="technical_problem", reason="", seconds=300)
    reply = player.heartbeat(login.attempt_id, login.attempt_token, where(login))
    assert [(i.id, i.kind, i.seconds) for i in reply.instructions] == [
        (paused.instruction_id, "pause", None),
        (added.instruction_id, "add_time", 300),
    ]
    player.heartbeat(login.attempt_id, login.attempt_token, where(login).model_copy(update={"paused": True}))
    resumed = console.act_on_room(token, demo.sitting_id, "resume", reason_kind="other", reason="Back from break")
    assert [r.student_name for r in resumed] == ["Ada Lovelace"]

    clock.advance(seconds=31)
    assert console.room(token, demo.sitting_id).counts.offline == 1

    entries = console.sitting_log(token, demo.sitting_id)
    assert [(e.action, e.student_name, e.reason_kind) for e in entries[1:]] == [
        ("pause", "Ada Lovelace", "toilet_break"),
        ("add_time", "Ada Lovelace", "technical_problem"),
        ("resume", "Ada Lovelace", "other"),
    ]
    assert entries[-1].reason == "Back from break"


def test_release_needs_a_reason_kind_and_cuts_off_the_old_machine(
    console: InvigilClient, player: InvigilClient, token: str, demo: Demo, live_server: LiveServer
) -> None:
    login = player.login(demo.codes[0])
    allocation = ada_allocation(console, token, demo)
    released = console.release(token, allocation, "PC 3 froze", reason_kind="technical_problem")
    assert released.state == "released"
    with pytest.raises(Refused) as caught:
        player.heartbeat(login.attempt_id, login.attempt_token, Heartbeat())
    assert caught.value.status == 401
    states = {s.student_name: s.state for s in console.room(token, demo.sitting_id).students}
    assert states == {"Ada Lovelace": "released", "Alan Turing": "not_started", "Grace Hopper": "not_started"}


def test_a_bad_action_is_refused_before_anything_is_sent(console: InvigilClient, token: str, demo: Demo) -> None:
    allocation = ada_allocation(console, token, demo)
    with pytest.raises(Refused) as caught:
        console.act(token, allocation, "pause", reason_kind="other", reason="")
    assert (caught.value.status, caught.value.error) == (422, "invalid_request")
    assert str(caught.value) == (
        'The request is not valid: reason: say what happened: a reason is required when the reason kind is "other".'
    )
    with pytest.raises(Refused, match="seconds: add between 60 and 3600 seconds"):
        console.act(token, allocation, "add_time", reason_kind="illness", reason="", seconds=30)
    assert len(console.sitting_log(token, demo.sitting_id)) == 1  # only the sitting's creation
    with pytest.raises(Refused) as refused:  # the server's own refusal comes through as well
        console.act(token, allocation, "pause", reason_kind="illness", reason="")
    assert (refused.value.status, refused.value.error) == (409, "not_started")


def test_manual_entries_and_evidence_round_trip(console: InvigilClient, token: str, demo: Demo, tmp_path: Path) -> None:
    allocation = ada_allocation(console, token, demo)
    saved = console.save_manual(token, allocation, sp.ManualEntryIn(typed_dictation="8", comments="Neat"))
    assert (saved.typed_dictation, saved.comments, saved.evidence) == ("8", "Neat", [])
    scan = tmp_path / "Ada's dictation.png"
    scan.write_bytes(PNG)
    stored = console.upload_evidence(token, allocation, scan)
    assert (stored.filename, stored.mime_type, stored.size) == ("Ada_s dictation.png", "image/png", len(PNG))
    assert console.evidence(token, stored.id) == PNG
    assert [e.id for e in console.manual(token, allocation).evidence] == [stored.id]

    fake = tmp_path / "fake.png"
    fake.write_bytes(b"GIF89a not a png")
    with pytest.raises(Refused) as caught:
        console.upload_evidence(token, allocation, fake)
    assert (caught.value.status, caught.value.error) == (415, "unsupported_type")
    assert "fake.png was sent as a PNG image" in str(caught.value)


def test_evidence_of_the_wrong_kind_or_size_is_refused_locally(
    console: InvigilClient, token: str, demo: Demo, tmp_path: Path
) -> None:
    allocation = ada_allocation(console, token, demo)
    doc = tmp_path / "essay.docx"
    doc.write_bytes(b"PK")
    with pytest.raises(Refused) as caught:
        console.upload_evidence(token, allocation, doc)
    assert (caught.value.status, str(caught.value)) == (
        415,
        "essay.docx is not a PNG, JPEG or PDF file; scan or photograph the work as one of those.",
    )
    big = tmp_path / "huge.pdf"
    with big.open("wb") as f:
        f.write(b"%PDF-")
        f.truncate(sp.MAX_EVIDENCE_BYTES + 1)
    with pytest.raises(Refused) as caught:
        console.upload_evidence(token, allocation, big)
    assert caught.value.status == 413
    assert str(caught.value).startswith("huge.pdf is 10.0 MB; evidence files can be at most 10 MB.")
    with pytest.raises(ClientError, match=r"^Cannot read .*missing\.png: No such file or directory\. Choose"):
        console.upload_evidence(token, allocation, tmp_path / "missing.png")


def test_incidents_and_results_round_trip(
    console: InvigilClient, player: InvigilClient, token: str, demo: Demo
) -> None:
    allocation = ada_allocation(console, token, demo)
    incident = sp.IncidentIn(
        kind="fire_alarm", occurred_at=START + timedelta(minutes=5), allocation_ids=[allocation], note="Drill"
    )
    made = console.add_incident(token, demo.sitting_id, incident)
    assert (made.kind, made.students, made.note) == ("fire_alarm", ["Ada Lovelace"], "Drill")
    assert [i.id for i in console.incidents(token, demo.sitting_id)] == [made.id]

    login = player.login(demo.codes[0])
    envelope = ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=login.attempt_id,
        section_ids=[login.assessment.sections[0].id],
        answers=[AnswerRecord(item_id="mc-circles", value="b", answered_at=START)],
        finished_at=START + timedelta(minutes=10),
    )
    code = resultcode.encode(envelope, result_secret=login.result_secret)
    first = console.submit_result_code(token, code)
    again = console.submit_result_code(token, code.lower())
    assert (first.student_name, first.duplicate, again.duplicate) == ("Ada Lovelace", False, True)
    [result] = console.sitting_results(token, demo.sitting_id)
    assert [s.section_id for s in result.section_scores] == ["mc"]
    assert result.manual is None
    log = console.sitting_log(token, demo.sitting_id)
    assert [e.action for e in log[1:]] == ["add_incident", "submit_result_code", "submit_result_code"]
    assert log[2].student_name == "Ada Lovelace"
