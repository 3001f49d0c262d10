"""Hostile staff input against the real app: times, text that is not UTF-8, and bounds; refused, nothing stored."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from sync.server.store import Store
from tests.helpers.clock import START
from tests.helpers.server import API, Demo
from tests.sync.server.test_hostile_results import post_json

TABLES = ("students", "sittings", "allocations", "credits", "incidents", "incident_students", "audit_log",
          "manual_entries", "instructions", "attempts", "results")  # fmt: skip


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables staff routes write: "nothing stored" means this does not change."""
    with store.transaction() as session:
        return {table: [tuple(r) for r in session.execute(text(f"SELECT * FROM {table}"))] for table in TABLES}


def sitting(**over: Any) -> dict[str, Any]:
    return {
        "assessment": "demo-literacy",
        "name": "Year 7 spelling",
        "window_start": (START + timedelta(hours=1)).isoformat(),
        "window_end": (START + timedelta(hours=3)).isoformat(),
        "student_ids": [],
        **over,
    }


def allocation_of(client: TestClient, demo: Demo, admin: dict[str, str], name: str = "Ada Lovelace") -> str:
    shown = client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=admin).json()
    return str(next(a["id"] for a in shown["allocations"] if a["student_name"] == name))


def refused(reply: Any, words: str) -> None:
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == "invalid_request"
    assert words in reply.json()["message"], reply.json()["message"]
    assert len(reply.text) < 2000


@pytest.mark.parametrize(
    ("over", "words"),
    [
        ({"window_start": "2027-03-01T10:00:00"}, "window_start: has no time zone; add one, e.g. 2027-03-01T09:00:00Z"),
        ({"window_end": "2027-03-01T12:00:00"}, "window_end: has no time zone; add one"),
        ({"window_start": "0001-01-01T00:00:00+05:00"}, "window_start: is too close to the year 1 or 9999"),
        ({"window_end": "9999-12-31T23:59:59-05:00"}, "window_end: is too close to the year 1 or 9999"),
        ({"name": "Spelling \ud800"}, "name: is not valid Unicode text"),
        ({"assessment": "\ud800"}, "assessment: is not valid Unicode text"),
        ({"student_ids": ["\udc00"]}, "student_ids.0: is not valid Unicode text"),
        ({"student_ids": ["x" * 101]}, "student_ids.0: is 101 characters long; at most 100"),
        ({"student_ids": ["s"] * 2001}, "student_ids: has too many entries; at most 2,000"),
        ({"name": "Spelling\x00"}, "name: contains a NUL character (U+0000"),
        ({"assessment": "demo-literacy\x00"}, "assessment: contains a NUL character"),
        ({"student_ids": ["\x00"]}, "student_ids.0: contains a NUL character"),
    ],
)
def test_a_hostile_sitting_is_refused_with_a_message_and_nothing_is_stored(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store, over: dict[str, Any], words: str
) -> None:
    body = sitting(student_ids=[demo.data["students"][0]["id"]]) | over
    before = snapshot(store)
    refused(post_json(client, f"{API}/staff/sittings", body, admin), words)
    assert snapshot(store) == before


def test_a_sitting_edit_with_a_time_without_a_zone_is_refused_and_changes_nothing(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    created = post_json(client, f"{API}/staff/sittings", sitting(student_ids=[demo.data["students"][0]["id"]]), admin)
    assert created.status_code == 201, created.text
    url = f"{API}/staff/sittings/{created.json()['sitting']['id']}"
    before = snapshot(store)
    for body, words in [
        ({"window_end": "2027-03-01T15:00:00"}, "window_end: has no time zone"),
        ({"window_start": "0001-01-01T00:00:00+01:00"}, "window_start: is too close to the year 1"),
        ({"name": "\ud800"}, "name: is not valid Unicode text"),
        ({"add_student_ids": ["\ud800"]}, "add_student_ids.0: is not valid Unicode text"),
    ]:
        headers = admin | {"Content-Type": "application/json"}
        refused(client.patch(url, content=json.dumps(body).encode(), headers=headers), words)
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("over", "words"),
    [
        ({"occurred_at": "9999-12-31T23:00:00-05:00"}, "occurred_at: is too close to the year 1 or 9999"),
        ({"occurred_at": "0001-01-01T00:10:00+01:00"}, "occurred_at: is too close to the year 1 or 9999"),
        ({"occurred_at": "2027-03-01T09:20:00"}, "occurred_at: has no time zone"),
        ({"note": "a \ud800 b"}, "note: is not valid Unicode text"),
        ({"allocation_ids": ["\ud800"]}, "allocation_ids.0: is not valid Unicode text"),
        ({"note": "Lights\x00out"}, "note: contains a NUL character (U+0000"),
        ({"kind": "other", "note": "\x00"}, "note: contains a NUL character"),
    ],
)
def test_a_hostile_incident_is_refused_with_a_message_and_nothing_is_stored(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store, over: dict[str, Any], words: str
) -> None:
    body = {"kind": "power_cut", "occurred_at": (START + timedelta(minutes=20)).isoformat(), "note": "Lights out"}
    before = snapshot(store)
    refused(post_json(client, f"{API}/staff/sittings/{demo.sitting_id}/incidents", body | over, admin), words)
    assert snapshot(store) == before


def test_hostile_text_in_any_other_staff_field_is_refused_and_nothing_is_stored(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    ada = allocation_of(client, demo, admin)
    student = {"unique_id": "S-9", "first_name": "Ann", "last_name": "Lee"}
    cases = [
        ("POST", f"{API}/staff/students", student | {"first_name": "\ud800"}, "first_name: is not valid Unicode"),
        ("POST", f"{API}/staff/students", student | {"groups": ["7B\udc00"]}, "groups.0: is not valid Unicode"),
        ("POST", f"{API}/staff/students", student | {"groups": ["x" * 500_000]}, "groups.0: is 500,000 char"),
        ("POST", f"{API}/staff/students", student | {"groups": ["g"] * 51}, "groups: has too many entries; at most 50"),
        ("POST", f"{API}/staff/students", student | {"extra_time_percent": 2**63}, "extra_time_percent: is 92233"),
        ("POST", f"{API}/staff/allocations/{ada}/release", {"reason_kind": "other", "reason": "\ud800"},
         "reason: is not valid Unicode"),
        ("POST", f"{API}/staff/allocations/{ada}/actions", {"kind": "add_time", "seconds": 2**63,
                                                            "reason_kind": "illness"}, "add between 60 and 3600"),
        ("PUT", f"{API}/staff/allocations/{ada}/manual", {"comments": "\ud800"}, "comments: is not valid Unicode"),
        ("POST", f"{API}/staff/sittings/{demo.sitting_id}/log", {"action": "print_slips", "detail": {"n": 2**63}},
         "detail.n: is 9223372036854775808; it must be at most"),
        ("POST", f"{API}/staff/sittings/{demo.sitting_id}/log", {"action": "print_slips", "detail": {"\ud800": 1}},
         "is not valid Unicode"),
        ("POST", f"{API}/staff/sittings/{demo.sitting_id}/actions", {"kind": "pause", "reason_kind": "other",
                                                                      "reason": "x\ud800"}, "reason: is not valid"),
        ("POST", f"{API}/staff/login", {"username": "\ud800", "password": "x"}, "username: is not valid Unicode"),
        # PostgreSQL cannot store (or look up) U+0000 in text: refused on every engine
        ("POST", f"{API}/staff/students", student | {"unique_id": "S\x009"}, "unique_id: contains a NUL character"),
        ("POST", f"{API}/staff/students", student | {"first_name": "A\x00b"}, "first_name: contains a NUL char"),
        ("POST", f"{API}/staff/students", student | {"last_name": "\x00"}, "last_name: contains a NUL character"),
        ("POST", f"{API}/staff/students", student | {"groups": ["7B\x00"]}, "groups.0: contains a NUL character"),
        ("POST", f"{API}/staff/allocations/{ada}/release", {"reason_kind": "other", "reason": "moved\x00"},
         "reason: contains a NUL character"),
        ("POST", f"{API}/staff/allocations/{ada}/actions", {"kind": "pause", "reason_kind": "illness",
                                                            "reason": "\x00"}, "reason: contains a NUL character"),
        ("PUT", f"{API}/staff/allocations/{ada}/manual", {"comments": "good\x00"}, "comments: contains a NUL char"),
        ("PUT", f"{API}/staff/allocations/{ada}/manual", {"typed_dictation": "8\x00"},
         "typed_dictation: contains a NUL character"),
        ("POST", f"{API}/staff/sittings/{demo.sitting_id}/actions", {"kind": "end_section", "reason_kind": "other",
         "reason": "x", "section_id": "mc\x00"}, "section_id: contains a NUL character"),
        ("POST", f"{API}/staff/login", {"username": "admin\x00", "password": "x"}, "username: contains a NUL char"),
    ]  # fmt: skip
    before = snapshot(store)
    for method, url, body, words in cases:
        reply = client.request(
            method, url, content=json.dumps(body).encode(), headers=admin | {"Content-Type": "application/json"}
        )
        refused(reply, words)
    assert snapshot(store) == before


def test_a_log_detail_that_is_not_a_finite_number_is_refused(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    before = snapshot(store)
    reply = client.post(
        f"{API}/staff/sittings/{demo.sitting_id}/log",
        content=b'{"action": "print_slips", "detail": {"rows": NaN}}',
        headers=admin | {"Content-Type": "application/json"},
    )
    refused(reply, "detail.rows: is not a finite number")
    assert snapshot(store) == before
