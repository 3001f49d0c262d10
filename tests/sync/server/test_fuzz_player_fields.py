"""Hostile strings and numbers in each field of the player's requests and the staff's: refused or harmless.

Each example starts from a valid request, swaps one field (at any depth) for a hostile value (a lone surrogate,
2**63, a time without a timezone or one that overflows in UTC, a megabyte, "ß" ...), sends it to the real app
over a fresh copy of a real database, and then uses the attempt as the player and the console would: sign in
again, checkpoint, heartbeat, look at the room and the results. None of that may get a 5xx: a value that
was stored must read back, and a refusal must be an ErrorBody that changed nothing.

Examples per route: a fixed number under a fixed seed; `INVIGIL_FUZZ_EXAMPLES` for a soak (see the README).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.helpers.clock import START
from tests.helpers.server import API, DemoTemplate, bearer
from tests.sync.server.fuzzing import (
    MEGABYTE,
    World,
    build_world,
    checked_reply,
    hostile_values,
    leaf_paths,
    open_app,
    replace,
    restore,
    rows,
)

SOAK_EXAMPLES = int(os.environ.get("INVIGIL_FUZZ_EXAMPLES", "0"))
EXAMPLES = SOAK_EXAMPLES or 30


def _checkpoint(minutes: int = 1) -> dict[str, Any]:
    return {
        "section_id": "mc",
        "item_id": "mc-circles",
        "remaining_seconds": 600,
        "taken_at": (START + timedelta(minutes=minutes)).isoformat(),
        "plays": {"dict-cat": 1},
    }


def _heartbeat() -> dict[str, Any]:
    return {
        "section_id": "short",
        "section_title": "Short answers",
        "item_id": "short-plural",
        "item_index": 1,
        "item_count": 4,
        "remaining_seconds": 600,
        "paused": False,
        "finished": False,
        "outbox_depth": 0,
        "machine_id": "pc-fuzz",
    }


def _envelope(world: World, key: str) -> dict[str, Any]:
    at = (START + timedelta(minutes=5)).isoformat()
    return {
        "idempotency_key": key,
        "attempt_id": world.ids["attempt_id"],
        "section_ids": ["short"],
        "answers": [
            {"item_id": "short-plural", "value": "mice", "answered_at": at},
            {"item_id": "mc-nouns", "value": ["a", "c"], "answered_at": at},
        ],
        "finished_at": at,
        "final": False,
    }


KEY_A = "00000000-0000-4000-8000-00000000000a"
KEY_B = "00000000-0000-4000-8000-00000000000b"

Route = tuple[str, str, Callable[[World], Any], str]
"""Method, path (ids filled from the world), the valid body, and whose token: "none", "student" or "staff"."""

ROUTES: dict[str, Route] = {
    "login": ("POST", "/login", lambda w: {"access_code": w.access_code, "machine_id": "pc-fuzz"}, "none"),
    "checkpoint": ("PUT", "/attempts/{attempt_id}/checkpoint", lambda w: _checkpoint(), "student"),
    "heartbeat": ("POST", "/attempts/{attempt_id}/heartbeat", lambda w: _heartbeat(), "student"),
    "results": ("POST", "/attempts/{attempt_id}/results", lambda w: _envelope(w, KEY_A), "student"),
    "batch": (
        "POST",
        "/attempts/{attempt_id}/results/batch",
        lambda w: {"envelopes": [_envelope(w, KEY_A), _envelope(w, KEY_B) | {"section_ids": ["mc"]}]},
        "student",
    ),
    "result-code": ("POST", "/staff/result-codes", lambda w: {"code": "ABCD-EFGH-JKLM"}, "staff"),
    "incident": (
        "POST",
        "/staff/sittings/{sitting_id}/incidents",
        lambda w: {
            "kind": "power_cut",
            "occurred_at": (START + timedelta(minutes=2)).isoformat(),
            "allocation_ids": [w.ids["allocation_id"]],
            "note": "lights out",
        },
        "staff",
    ),
    "sitting": (
        "POST",
        "/staff/sittings",
        lambda w: {
            "assessment": "demo-literacy",
            "name": "Fuzz sitting",
            "window_start": START.isoformat(),
            "window_end": (START + timedelta(hours=2)).isoformat(),
            "student_ids": [w.ids["student_id"]],
        },
        "staff",
    ),
    "manual": (
        "PUT",
        "/staff/allocations/{allocation_id}/manual",
        lambda w: {"typed_dictation": "8", "written_dictation": "7", "comments": "Neat"},
        "staff",
    ),
    "student": (
        "POST",
        "/staff/students",
        lambda w: {
            "unique_id": "FUZZ-001",
            "first_name": "Fuzz",
            "last_name": "Tester",
            "date_of_birth": "2017-05-01",
            "groups": ["Demo class"],
            "extra_time_percent": 25,
        },
        "staff",
    ),
    "sitting-edit": (
        "PATCH",
        "/staff/sittings/{untouched_sitting_id}",
        lambda w: {
            "name": "Renamed sitting",
            "window_start": (START - timedelta(minutes=5)).isoformat(),
            "window_end": (START + timedelta(hours=8)).isoformat(),
            "add_student_ids": [w.ids["student_id"]],
            "remove_student_ids": [],
        },
        "staff",
    ),
    "release": (
        "POST",
        "/staff/allocations/{allocation_id}/release",
        lambda w: {"reason_kind": "moved_machine", "reason": "screen broke"},
        "staff",
    ),
    "action": (
        "POST",
        "/staff/allocations/{allocation_id}/actions",
        lambda w: {"reason_kind": "toilet_break", "reason": "", "kind": "add_time", "seconds": 300},
        "staff",
    ),
    "room-action": (
        "POST",
        "/staff/sittings/{sitting_id}/actions",
        lambda w: {"reason_kind": "fire_alarm", "reason": "", "kind": "pause"},
        "staff",
    ),
    "log": (
        "POST",
        "/staff/sittings/{sitting_id}/log",
        lambda w: {"action": "export_results", "detail": {"rows": 3, "file": "results.csv"}},
        "staff",
    ),
}

# The cases issue 10 lists, and those an exhaustive sweep of every field found: always run, whatever the seed.
KNOWN: list[tuple[str, tuple[Any, ...], Any]] = [
    ("login", ("access_code",), "ß"),
    ("login", ("access_code",), "ﬀ"),
    ("login", ("machine_id",), "\ud800"),
    ("checkpoint", ("section_id",), "\ud800"),
    ("checkpoint", ("taken_at",), "2027-03-01T09:30:00"),
    ("checkpoint", ("remaining_seconds",), 2**63),
    ("heartbeat", ("remaining_seconds",), 2**63),
    ("heartbeat", ("remaining_seconds",), -1),
    ("heartbeat", ("section_id",), "\ud800"),
    ("heartbeat", ("section_title",), "\ud800"),
    ("heartbeat", ("machine_id",), MEGABYTE[:128] + "\ud800"),
    ("results", ("answers", 0, "value"), "\ud800"),
    ("results", ("answers", 0, "value"), MEGABYTE),
    ("results", ("answers", 0, "item_id"), "\ud800"),
    ("results", ("finished_at",), "9999-12-31T23:59:59-14:00"),
    ("results", ("answers", 0, "answered_at"), "0001-01-01T00:00:00+14:00"),
    ("batch", ("envelopes", 1, "finished_at"), "9999-12-31T23:59:59-14:00"),
    ("result-code", ("code",), "ABCD-ßﬀ-EFGH"),
    ("incident", ("occurred_at",), "9999-12-31T23:59:59-14:00"),
    ("incident", ("allocation_ids", 0), "a\udfffb"),
    ("student", ("groups", 0), "\ud800"),
    ("sitting", ("window_start",), "2027-03-01T09:00:00"),
    ("sitting", ("window_end",), "9999-12-31T23:59:59-14:00"),
    ("sitting-edit", ("name",), "\ud800"),
    ("sitting-edit", ("window_end",), "2027-03-01T17:00:00"),
]


JSON = {"Content-Type": "application/json"}


def as_json(body: Any) -> bytes | None:
    # ASCII-escaped, as a hostile client sends it: a lone surrogate travels as "\\ud800" (httpx would refuse it).
    return None if body is None else json.dumps(body).encode()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_demo_template: DemoTemplate, server_key: bytes) -> World:
    return build_world(tmp_path_factory.mktemp("fuzz-fields-world"), sqlite_demo_template, server_key)


def send(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str], what: str) -> Any:
    """The reply, checked: no 5xx, a refusal is an ErrorBody; an exception out of the app says which request."""
    return checked_reply(
        lambda: client.request(method, API + path, content=as_json(body), headers=headers | JSON), what
    )


def _use_the_attempt(client: TestClient, world: World, *, after: str) -> None:
    """What the console and the player do next; each would fail for good on a value stored unreadably."""
    staff = bearer(str(world.tokens["staff"]))
    sitting, allocation = world.ids["sitting_id"], world.ids["allocation_id"]
    for path in (
        f"/staff/sittings/{sitting}/room",
        f"/staff/sittings/{sitting}/results",
        f"/staff/sittings/{sitting}/incidents",
        f"/staff/allocations/{allocation}/manual",
        "/staff/sittings",
        "/staff/students",
    ):
        send(client, "GET", path, None, staff, f"GET {path} after {after}")
    # Signing in again (a resume) sends back the stored checkpoint; it replaces the attempt token, so the player's
    # next requests use the new one.
    login = {"access_code": world.access_code, "machine_id": "pc-fuzz"}
    resumed = send(client, "POST", "/login", login, {}, f"POST /login after {after}")
    token = resumed.json()["attempt_token"] if resumed.status_code == 200 else str(world.tokens["student"])
    attempt = world.ids["attempt_id"]
    for method, path, body in (
        ("PUT", f"/attempts/{attempt}/checkpoint", _checkpoint(minutes=20)),
        ("POST", f"/attempts/{attempt}/heartbeat", _heartbeat()),
    ):
        send(client, method, path, body, bearer(token), f"{method} {path} after {after}")


@pytest.mark.parametrize("route", ROUTES)
def test_a_hostile_value_in_any_field_is_refused_or_stored_readably(
    route: str, world: World, tmp_path: Path, server_key: bytes
) -> None:
    method, template, valid, kind = ROUTES[route]
    path = template.format(**world.ids)
    good = valid(world)
    token = world.tokens[kind]
    headers = bearer(token) if token else {}
    db = tmp_path / "server.db"
    shutil.copy(world.path, db)
    app, store = open_app(db, server_key)
    client = TestClient(app)
    before = rows(world.path)

    @settings(
        max_examples=EXAMPLES,
        derandomize=not SOAK_EXAMPLES,
        database=None,
        deadline=None,
        print_blob=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(where=st.sampled_from(leaf_paths(good)), value=hostile_values())
    def one(where: tuple[Any, ...], value: Any) -> None:
        restore(world.path, db)  # every example starts from the same world
        hostile = f"{method} {path} with {'.'.join(map(str, where))} = {value!r:.80}"
        reply = send(client, method, path, replace(good, where, value), headers, hostile)
        if reply.status_code >= 400 and route != "login":  # a refused login is counted, by design
            assert rows(db) == before, f"{hostile}: the refusal ({reply.json()['error']}) changed the database"
        _use_the_attempt(client, world, after=hostile)

    for known_route, where, value in KNOWN:
        if known_route == route:
            one = example(where=where, value=value)(one)
    try:
        one()
    finally:
        store.close()
