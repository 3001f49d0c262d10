"""Schools cannot see each other: every route with an id, generated from the app, answers 404 across schools."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from sync import marking_protocol as mp
from sync import protocol
from sync import staff_protocol as sp
from sync.server import accounts, sittings
from sync.server.audit import Actor
from sync.server.crypto import Keyring
from sync.server.settings import ServerSettings
from sync.server.store import Store
from tests.helpers.clock import START
from tests.helpers.server import API, Demo, bearer, envelope, player_login

PACKAGE = "demo-literacy"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@dataclass
class OtherSchool:
    """School B, with one of everything a route can name."""

    staff: dict[str, str]
    ids: dict[str, str]
    attempt_token: str


def make_other_school(client: TestClient, store: Store, settings: ServerSettings, demo: Demo) -> OtherSchool:
    with store.transaction() as session:
        school = accounts.create_school(session, name="Other School")
        accounts.add_staff(session, school_id=school.id, username="b-admin", password="b-password", role="admin")
        actor = Actor.cli(school.id)
        accounts.grant_credits(session, actor, package_id=PACKAGE, amount=5, expires_on=None)
        student = accounts.add_student(session, actor, unique_id="B-1", first_name="Bea", last_name="Other")
        sitting, [issued] = sittings.create_sitting(
            session,
            actor,
            Keyring(settings.secret_key),
            assessment_ref=PACKAGE,
            name="B sitting",
            window_start=START - timedelta(minutes=1),
            window_end=START + timedelta(hours=2),
            student_ids=[student.id],
            now=START,
        )
        ids = {"student_id": student.id, "sitting_id": sitting.id, "allocation_id": issued.allocation.id}
        code = issued.code
    login = player_login(client, code, machine="b-pc")
    receipt = client.post(
        f"{API}/attempts/{login['attempt_id']}/results",
        json=envelope(login["attempt_id"], {"mc-circles": "b"}, final=False),
        headers=bearer(login["attempt_token"]),
    ).json()
    reply = client.post(f"{API}/staff/login", json={"username": "b-admin", "password": "b-password"})
    staff = bearer(reply.json()["token"])
    evidence = client.post(
        f"{API}/staff/allocations/{ids['allocation_id']}/evidence",
        content=PNG,
        headers=staff | {"Content-Type": "image/png", "X-Filename": "b.png"},
    )
    assert evidence.status_code == 201, evidence.text
    sha256 = next(m["sha256"] for s in login["assessment"]["sections"] for i in s["items"] for m in i["media"])
    ids |= {
        "attempt_id": login["attempt_id"],
        "result_id": receipt["result_id"],
        "sha256": sha256,
        "evidence_id": evidence.json()["id"],
        "item_id": "short-describe",
    }
    return OtherSchool(staff=staff, ids=ids, attempt_token=login["attempt_token"])


def sample_body(model: type[BaseModel], ids: dict[str, str]) -> dict[str, Any]:
    """A valid body per request model, so validation never answers before the ownership check does."""
    samples: dict[type[BaseModel], dict[str, Any]] = {
        sp.StudentPatch: {"active": False},
        sp.SittingPatch: {"name": "Taken over"},
        sp.ReleaseRequest: {"reason_kind": "moved_machine", "reason": "test"},
        sp.ActionIn: {"kind": "add_time", "seconds": 60, "reason_kind": "technical_problem"},
        sp.RoomActionIn: {"kind": "pause", "reason_kind": "fire_alarm"},
        sp.ManualEntryIn: {"typed_dictation": "7", "comments": "Taken over"},
        mp.HandMarkIn: {"score": 1},
        sp.IncidentIn: {"kind": "network", "occurred_at": START.isoformat(), "allocation_ids": [], "note": "x"},
        protocol.Checkpoint: {"section_id": "mc", "item_id": "mc-circles", "remaining_seconds": 1,
                              "taken_at": START.isoformat()},
        protocol.Heartbeat: {},
        protocol.SittingLogEventIn: {"action": "export_results", "detail": {"rows": 1}},
        protocol.ResultBatch: {"envelopes": [envelope(ids["attempt_id"], {"mc-circles": "a"})]},
        protocol.ResultEnvelope: envelope(ids["attempt_id"], {"mc-circles": "a"}),
    }  # fmt: skip
    assert model in samples, f"no sample body for {model.__name__}: add one to sample_body()"
    return samples[model]


def routes_with_ids(app: FastAPI) -> list[tuple[str, set[str], APIRoute]]:
    """(full path, methods, route) for every API route whose path takes a parameter, included routers and all."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path and "{" in context.path:
            found.append((context.path, set(context.methods or ()), route))
    return found


def requests_for(app: FastAPI, ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    for template, methods, route in routes_with_ids(app):
        params = re.findall(r"{(\w+)}", template)
        unknown = [p for p in params if p not in ids]
        assert not unknown, f"{template} has path parameters {unknown} this test cannot fill; teach it how"
        body_field = route.body_field
        model = body_field.field_info.annotation if body_field is not None else None
        assert model is None or (isinstance(model, type) and issubclass(model, BaseModel)), f"{template}: {model}"
        body = sample_body(model, ids) if model is not None else None
        out.extend((method, template.format(**ids), body) for method in sorted(methods))
    return out


def test_every_route_with_an_id_hides_other_schools_objects(
    app: FastAPI, client: TestClient, store: Store, settings: ServerSettings, demo: Demo, admin: dict[str, str]
) -> None:
    other = make_other_school(client, store, settings, demo)
    mine = player_login(client, demo.codes[0], machine="a-pc")
    calls = requests_for(app, other.ids)
    assert len(calls) >= 22  # students, sittings, codes, results, allocations, attempts, room, log, evidence...
    leaks = []
    for method, path, body in calls:
        credentials = bearer(mine["attempt_token"]) if "/attempts/" in path else admin
        reply = client.request(method, path, json=body, headers=credentials)
        if reply.status_code != 404:
            leaks.append(f"{method} {path} -> {reply.status_code} {reply.text[:120]}")
    assert not leaks, "school A reached school B's objects:\n" + "\n".join(leaks)

    # Nothing of B's changed, and B's own staff and player still reach every one of those routes.
    sitting = client.get(f"{API}/staff/sittings/{other.ids['sitting_id']}", headers=other.staff).json()
    assert (sitting["name"], sitting["closed_at"]) == ("B sitting", None)
    assert client.get(f"{API}/staff/students/{other.ids['student_id']}", headers=other.staff).json()["active"]
    manual = client.get(f"{API}/staff/allocations/{other.ids['allocation_id']}/manual", headers=other.staff).json()
    assert (manual["typed_dictation"], manual["comments"]) == (None, None)
    b_log = client.get(f"{API}/staff/sittings/{other.ids['sitting_id']}/log", headers=other.staff).json()
    assert {e["actor"] for e in b_log} <= {"cli", "b-admin"}, b_log
    b_room = client.get(f"{API}/staff/sittings/{other.ids['sitting_id']}/room", headers=other.staff).json()
    assert b_room["students"][0]["extra_time_seconds"] == 0
    for method, path, body in calls:
        credentials = bearer(other.attempt_token) if "/attempts/" in path else other.staff
        reply = client.request(method, path, json=body, headers=credentials)
        assert reply.status_code != 404, f"{method} {path}: B's own request was not found: {reply.text}"


def test_an_attempt_token_opens_only_its_own_attempt(
    client: TestClient, store: Store, settings: ServerSettings, demo: Demo
) -> None:
    other = make_other_school(client, store, settings, demo)
    mine = player_login(client, demo.codes[0], machine="a-pc")
    reply = client.post(
        f"{API}/attempts/{other.ids['attempt_id']}/heartbeat", json={}, headers=bearer(mine["attempt_token"])
    )
    assert reply.status_code in (401, 404)
    theirs = client.post(f"{API}/attempts/{mine['attempt_id']}/heartbeat", json={}, headers=bearer(other.attempt_token))
    assert theirs.status_code in (401, 404)


def test_lists_show_only_the_signed_in_school(
    client: TestClient, store: Store, settings: ServerSettings, demo: Demo, admin: dict[str, str]
) -> None:
    other = make_other_school(client, store, settings, demo)
    students = {s["unique_id"] for s in client.get(f"{API}/staff/students", headers=admin).json()}
    assert "B-1" not in students
    assert len(students) == 3
    sittings_seen = {s["id"] for s in client.get(f"{API}/staff/sittings", headers=admin).json()}
    assert other.ids["sitting_id"] not in sittings_seen
    b_credits = client.get(f"{API}/staff/credits", headers=other.staff).json()
    assert [c["balance"] for c in b_credits] == [4]
