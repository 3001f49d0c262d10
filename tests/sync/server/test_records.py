"""Manual dictation entries, evidence uploads, incidents and the results they join (real app and database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from sync import staff_protocol as sp
from sync.server import evidence
from sync.server.store import Store
from tests.helpers.clock import START
from tests.helpers.server import API, Demo, bearer, envelope, player_login, role_headers

PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
JPEG = b"\xff\xd8\xff\xe0" + bytes(200)
PDF = b"%PDF-1.7\n" + bytes(200)


def allocations(client: TestClient, demo: Demo, headers: dict[str, str]) -> dict[str, str]:
    sitting = client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=headers).json()
    return {a["student_name"]: a["id"] for a in sitting["allocations"]}


def upload(
    client: TestClient, headers: dict[str, str], allocation: str, data: bytes, content_type: str, filename: str
) -> Any:
    return client.post(
        f"{API}/staff/allocations/{allocation}/evidence",
        content=data,
        headers=headers | {"Content-Type": content_type, "X-Filename": filename},
    )


def test_manual_entries_are_stored_replaced_and_logged(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    ada = allocations(client, demo, admin)["Ada Lovelace"]
    url = f"{API}/staff/allocations/{ada}/manual"
    empty = client.get(url, headers=admin).json()
    assert (empty["typed_dictation"], empty["comments"], empty["evidence"]) == (None, None, [])
    saved = client.put(
        url, json={"typed_dictation": " 8 ", "written_dictation": "7", "comments": "Neat"}, headers=admin
    )
    assert saved.status_code == 200, saved.text
    assert (saved.json()["typed_dictation"], saved.json()["updated_by"]) == ("8", "demo-admin")
    client.put(url, json={"typed_dictation": "8", "written_dictation": None, "comments": ""}, headers=admin)
    shown = client.get(url, headers=admin).json()
    assert (shown["typed_dictation"], shown["written_dictation"], shown["comments"]) == ("8", None, None)
    log = client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json()
    saves = [e for e in log if e["action"] == "save_manual"]
    assert [e["detail"]["changed"] for e in saves] == [
        ["comments", "typed_dictation", "written_dictation"],
        ["comments", "written_dictation"],
    ]
    assert {e["student_name"] for e in saves} == {"Ada Lovelace"}
    too_long = client.put(url, json={"comments": "x" * 4001}, headers=admin)
    assert too_long.status_code == 422
    assert "comments" in too_long.json()["message"]


def test_good_evidence_is_stored_and_served_back_as_uploaded(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = allocations(client, demo, admin)["Ada Lovelace"]
    for data, kind, name in ((PNG, "image/png", "page 1.png"), (JPEG, "image/jpeg", "page2.jpeg"),
                             (PDF, "application/pdf", "pages.pdf")):  # fmt: skip
        reply = upload(client, admin, ada, data, kind, name)
        assert reply.status_code == 201, reply.text
        stored = reply.json()
        assert (stored["filename"], stored["mime_type"], stored["size"]) == (name, kind, len(data))
        back = client.get(f"{API}/staff/evidence/{stored['id']}", headers=admin)
        assert back.content == data
        assert back.headers["content-type"] == kind
        assert back.headers["x-content-type-options"] == "nosniff"
    listed = client.get(f"{API}/staff/allocations/{ada}/manual", headers=admin).json()["evidence"]
    assert [e["filename"] for e in listed] == ["page 1.png", "page2.jpeg", "pages.pdf"]


def test_a_file_that_is_not_what_it_claims_is_refused_with_415(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = allocations(client, demo, admin)["Ada Lovelace"]
    fake = upload(client, admin, ada, b"MZ\x90\x00 not really a picture", "image/png", "homework.png")
    assert fake.status_code == 415
    assert fake.json()["message"] == (
        "homework.png was sent as a PNG image, but its content is not a PNG, JPEG or PDF file. "
        "Upload the original scan or photo (PNG, JPEG or PDF)."
    )
    swapped = upload(client, admin, ada, PDF, "image/png", "scan.png")
    assert swapped.status_code == 415
    assert "its content is a PDF" in swapped.json()["message"]
    word = upload(client, admin, ada, b"PK\x03\x04", "application/msword", "essay.doc")
    assert word.status_code == 415
    assert "not application/msword" in word.json()["message"]
    assert client.get(f"{API}/staff/allocations/{ada}/manual", headers=admin).json()["evidence"] == []


def test_a_file_over_10_mb_is_refused_with_413(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    ada = allocations(client, demo, admin)["Ada Lovelace"]
    at_limit = PNG + bytes(sp.MAX_EVIDENCE_BYTES - len(PNG))
    assert upload(client, admin, ada, at_limit, "image/png", "big.png").status_code == 201
    reply = upload(client, admin, ada, at_limit + b"x", "image/png", "huge.png")
    assert reply.status_code == 413
    assert "evidence files can be at most 10 MB" in reply.json()["message"]
    assert len(client.get(f"{API}/staff/allocations/{ada}/manual", headers=admin).json()["evidence"]) == 1


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:%5CUsers%5Cme%5Cwork.png", "work.png"),
        ("<script>.png", "_script_.png"),
        ("r%C3%A9sum%C3%A9.png", "résumé.png"),
        ("scan.exe", "scan.exe.png"),
        ("", "evidence.png"),
        ("...png", "png.png"),
    ],
)
def test_the_filename_is_made_safe(client: TestClient, demo: Demo, admin: dict[str, str], sent: str, kept: str) -> None:
    ada = allocations(client, demo, admin)["Ada Lovelace"]
    reply = upload(client, admin, ada, PNG, "image/png", sent)
    assert reply.status_code == 201, reply.text
    assert reply.json()["filename"] == kept


@given(st.text(max_size=300))
def test_any_filename_becomes_a_short_plain_name_with_the_right_suffix(raw: str) -> None:
    name = evidence.safe_filename(raw, "image/jpeg")
    assert name.endswith((".jpg", ".jpeg"))
    assert len(name) <= evidence.MAX_FILENAME_CHARS
    assert not any(c in name for c in "/\\\x00\n\r")
    assert not name.startswith(".")


def test_incidents_record_students_of_the_same_sitting_only(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    mine = allocations(client, demo, admin)
    url = f"{API}/staff/sittings/{demo.sitting_id}/incidents"
    body = {"kind": "power_cut", "occurred_at": (START + timedelta(minutes=20)).isoformat(),
            "allocation_ids": [mine["Ada Lovelace"], mine["Grace Hopper"]], "note": "Lights out in room 4"}  # fmt: skip
    made = client.post(url, json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert (made.json()["students"], made.json()["recorded_by"]) == (["Ada Lovelace", "Grace Hopper"], "demo-admin")

    # A second sitting of the same school: its students cannot be named in this sitting's incident.
    other = client.post(
        f"{API}/staff/sittings",
        json={"assessment": "demo-literacy", "name": "Afternoon", "window_start": START.isoformat(),
              "window_end": (START + timedelta(hours=2)).isoformat(),
              "student_ids": [demo.data["students"][0]["id"]]},
        headers=admin,
    ).json()  # fmt: skip
    stranger = other["sitting"]["allocations"][0]["id"]
    refused = client.post(url, json=body | {"allocation_ids": [stranger]}, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["message"].startswith(f"allocation_ids: {stranger} is not in the sitting Demo sitting.")

    vague = client.post(url, json=body | {"kind": "other", "note": " "}, headers=admin)
    assert vague.status_code == 422
    assert "note" in vague.json()["message"]
    naive = client.post(url, json=body | {"occurred_at": "2027-03-01T09:20:00"}, headers=admin)
    assert naive.status_code == 422
    assert "occurred_at" in naive.json()["message"]

    listed = client.get(url, headers=admin).json()
    assert [(i["kind"], i["note"]) for i in listed] == [("power_cut", "Lights out in room 4")]
    log = client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json()
    assert [e["detail"]["kind"] for e in log if e["action"] == "add_incident"] == ["power_cut"]


def test_results_carry_section_scores_and_manual_entries(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    ada = player_login(client, demo.codes[0])
    sent = client.post(
        f"{API}/attempts/{ada['attempt_id']}/results",
        json=envelope(ada["attempt_id"], {"mc-circles": "b", "mc-opposite": "a"}),
        headers=bearer(ada["attempt_token"]),
    )
    assert sent.json()["status"] == "marked"
    allocation = allocations(client, demo, admin)["Ada Lovelace"]
    client.put(f"{API}/staff/allocations/{allocation}/manual", json={"written_dictation": "9"}, headers=admin)
    upload(client, admin, allocation, PNG, "image/png", "dictation.png")

    [result] = client.get(f"{API}/staff/sittings/{demo.sitting_id}/results", headers=admin).json()
    assert (result["allocation_id"], result["unique_id"]) == (allocation, "DEMO-001")
    scores = {s["section_id"]: s for s in result["section_scores"]}
    assert list(scores) == ["mc", "short", "dictation"]
    assert scores["mc"]["title"] == "Multiple choice"
    assert scores["mc"]["score"] > 0
    assert scores["mc"]["score"] <= scores["mc"]["max_score"]
    assert scores["short"]["score"] == 0
    assert result["manual"]["written_dictation"] == "9"
    assert [e["filename"] for e in result["manual"]["evidence"]] == ["dictation.png"]
    one = client.get(f"{API}/staff/results/{result['id']}", headers=admin).json()
    assert one["section_scores"] == result["section_scores"]


def test_an_invigilator_may_record_but_not_see_another_schools_records(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    invigilator = role_headers(client, store, school_id=demo.school_id, role="invigilator")
    ada = allocations(client, demo, admin)["Ada Lovelace"]
    assert upload(client, invigilator, ada, PNG, "image/png", "a.png").status_code == 201
    assert client.put(f"{API}/staff/allocations/{ada}/manual", json={"comments": "ok"}, headers=invigilator).is_success
    assert client.get(f"{API}/staff/evidence/not-an-id", headers=invigilator).status_code == 404
