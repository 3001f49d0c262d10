"""Hostile checkpoints and heartbeats against the real app, rows older servers stored, and the API description."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from sync.protocol import MAX_ITEMS, MAX_SECONDS
from sync.server.store import Store
from tests.helpers.clock import START
from tests.helpers.server import API, Demo, bearer, envelope, player_login
from tests.sync.server.test_hostile_results import post_json, result_count


def attempt_row(store: Store, attempt_id: str) -> dict[str, Any]:
    """The attempt as SQLite holds it: every column, so "nothing was stored" means nothing changed at all."""
    with store.transaction() as session:
        row = session.execute(text("SELECT * FROM attempts WHERE id = :id"), {"id": attempt_id}).mappings().one()
        return dict(row)


def put_checkpoint(client: TestClient, login: dict[str, Any], body: Any) -> Any:
    url = f"{API}/attempts/{login['attempt_id']}/checkpoint"
    return client.put(
        url,
        content=json.dumps(body).encode(),
        headers=bearer(login["attempt_token"]) | {"Content-Type": "application/json"},
    )


def beat(client: TestClient, login: dict[str, Any], body: Any) -> Any:
    return post_json(client, f"{API}/attempts/{login['attempt_id']}/heartbeat", body, bearer(login["attempt_token"]))


CHECKPOINT = {"section_id": "dictation", "item_id": "dict-cat", "remaining_seconds": 60, "taken_at": START.isoformat()}
BEAT = {"section_id": "mc", "section_title": "Multiple choice", "item_id": "mc-circles", "item_index": 1,
        "item_count": 3, "remaining_seconds": 500, "outbox_depth": 0}  # fmt: skip


# ---- heartbeats ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("remaining_seconds", -1, "remaining_seconds: is -1; it must be at least 0"),
        ("remaining_seconds", 2**63, f"remaining_seconds: is 9223372036854775808; it must be at most {MAX_SECONDS}"),
        ("item_index", 2**63, f"item_index: is 9223372036854775808; it must be at most {MAX_ITEMS}"),
        ("item_index", 0, "item_index: is 0; it must be at least 1"),
        ("item_count", 2**64, f"item_count: is 18446744073709551616; it must be at most {MAX_ITEMS}"),
        ("outbox_depth", 2**63, "outbox_depth: is 9223372036854775808; it must be at most 1000000"),
        ("section_id", "\ud800", "section_id: is not valid Unicode text (it holds a lone surrogate"),
        ("item_id", "x\udbff", "item_id: is not valid Unicode text"),
        ("section_title", "x" * 5_000, "section_title: is 5,000 characters long; at most 200"),
        ("machine_id", "\ud800", "machine_id: is not valid Unicode text"),
        # PostgreSQL cannot store U+0000 in text: refused on every engine, before anything is looked up
        ("section_id", "mc\x00", "section_id: contains a NUL character (U+0000"),
        (
            "section_title",
            "\x00",
            "section_title: contains a NUL character (U+0000, \\u0000 in JSON), which is not "
            "allowed in this field; remove it and send the text again",
        ),
        ("item_id", "\x00mc-circles", "item_id: contains a NUL character"),
        ("machine_id", "pc\x001", "machine_id: contains a NUL character"),
        ("machine_name", "room12\x00", "machine_name: contains a NUL character"),
    ],
)
def test_a_hostile_heartbeat_is_refused_with_a_message_and_changes_nothing(
    client: TestClient, demo: Demo, store: Store, field: str, value: Any, words: str
) -> None:
    login = player_login(client, demo.codes[0])
    assert beat(client, login, BEAT).status_code == 200
    before = attempt_row(store, login["attempt_id"])
    reply = beat(client, login, {**BEAT, field: value})
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == "invalid_request"
    assert words in reply.json()["message"]
    assert len(reply.text) < 1000
    assert attempt_row(store, login["attempt_id"]) == before


@pytest.mark.parametrize(
    ("over", "words"),
    [
        ({"section_id": "nosuch"}, "This heartbeat is in section 'nosuch', which the test"),
        ({"item_id": "nosuch"}, "This heartbeat is at item 'nosuch', which section mc does not have"),
        ({"section_id": None}, "This heartbeat names item 'mc-circles' but no section; send the section too."),
    ],
    ids=["unknown section", "unknown item", "item without a section"],
)
def test_a_heartbeat_naming_what_the_test_lacks_is_refused_and_changes_nothing(
    client: TestClient, demo: Demo, store: Store, over: dict[str, Any], words: str
) -> None:
    login = player_login(client, demo.codes[0])
    assert beat(client, login, BEAT).status_code == 200
    before = attempt_row(store, login["attempt_id"])
    reply = beat(client, login, BEAT | over)
    assert reply.status_code == 422, reply.text
    assert words in reply.json()["message"]
    assert reply.json()["message"].endswith("Nothing was saved.") or "nothing was saved" in reply.json()["message"]
    assert attempt_row(store, login["attempt_id"]) == before


def test_a_heartbeat_at_the_bounds_is_stored_and_shown(
    client: TestClient, demo: Demo, store: Store, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    body = {**BEAT, "remaining_seconds": MAX_SECONDS, "item_index": MAX_ITEMS, "item_count": MAX_ITEMS}
    assert beat(client, login, body).status_code == 200
    room = client.get(f"{API}/staff/sittings/{demo.sitting_id}/room", headers=admin).json()
    ada = next(s for s in room["students"] if s["student_name"] == "Ada Lovelace")
    assert (ada["remaining_seconds"], ada["item_index"]) == (MAX_SECONDS, MAX_ITEMS)


@pytest.mark.sqlite_only  # PostgreSQL enforces the column's length, so no server could have stored this there
def test_the_room_view_reads_what_older_servers_stored_without_passing_it_on_whole(
    client: TestClient, demo: Demo, store: Store, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    assert beat(client, login, BEAT).status_code == 200
    with store.transaction() as session:  # as an older server stored a hostile heartbeat
        session.execute(
            text("UPDATE attempts SET section_title = :title, remaining_seconds = -300 WHERE id = :id"),
            {"title": "x" * 5_000_000, "id": login["attempt_id"]},
        )
    reply = client.get(f"{API}/staff/sittings/{demo.sitting_id}/room", headers=admin)
    assert reply.status_code == 200
    assert len(reply.content) < 20_000, "every room poll carried the 5 MB title"
    ada = next(s for s in reply.json()["students"] if s["student_name"] == "Ada Lovelace")
    assert (len(ada["section_title"]), ada["remaining_seconds"]) == (200, None)


# ---- checkpoints ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (
            {"plays": {"dict-cat": 2**63}},
            "invalid_request",
            "plays.dict-cat: is 9223372036854775808; it must be at most",
        ),
        ({"plays": {"dict-cat": -1}}, "invalid_request", "plays.dict-cat: is -1; it must be at least 0"),
        ({"plays": {"\ud800": 1}}, "invalid_request", "is not valid Unicode text"),
        ({"plays": {"nope": 1}}, "unknown_item", "counts plays of item 'nope', which the test"),
        ({"section_id": "nope"}, "unknown_section", "in section 'nope', which the test"),
        ({"item_id": "mc-circles"}, "unknown_item", "at item 'mc-circles', which section dictation does not have"),
        ({"section_id": "\ud800"}, "invalid_request", "section_id: is not valid Unicode text"),
        ({"item_id": "\udc00"}, "invalid_request", "item_id: is not valid Unicode text"),
        ({"item_id": "x" * 50_000}, "invalid_request", "item_id: is 50,000 characters long; at most 100"),
        ({"remaining_seconds": 2**63}, "invalid_request", "remaining_seconds: is 9223372036854775808"),
        ({"remaining_seconds": -5}, "invalid_request", "remaining_seconds: is -5; it must be at least 0"),
        ({"taken_at": "2027-03-01T09:00:00"}, "invalid_request", "taken_at: has no time zone; add one"),
        ({"taken_at": "9999-12-31T22:00:00-03:00"}, "invalid_request", "taken_at: is too close to the year 1"),
        ({"section_id": "dictation\x00"}, "invalid_request", "section_id: contains a NUL character"),
        ({"item_id": "\x00"}, "invalid_request", "item_id: contains a NUL character"),
        ({"plays": {"dict\x00cat": 1}}, "invalid_request", "contains a NUL character"),
        (
            {"plays_given_back": [{"item_id": "dict-cat\x00", "started_at": START.isoformat(), "reason": "paused"}]},
            "invalid_request",
            "plays_given_back.0.item_id: contains a NUL character",
        ),
    ],
)
def test_a_hostile_checkpoint_is_refused_with_a_message_and_nothing_is_saved(
    client: TestClient, demo: Demo, store: Store, change: dict[str, Any], error: str, words: str
) -> None:
    login = player_login(client, demo.codes[0])
    assert put_checkpoint(client, login, CHECKPOINT).status_code == 204
    before = attempt_row(store, login["attempt_id"])
    reply = put_checkpoint(client, login, {**CHECKPOINT, **change})
    assert reply.status_code == 422, reply.text
    assert (reply.json()["error"], words in reply.json()["message"]) == (error, True), reply.json()["message"]
    assert attempt_row(store, login["attempt_id"]) == before
    assert player_login(client, demo.codes[0])["checkpoint"]["item_id"] == "dict-cat"


@pytest.mark.parametrize(
    "stored",
    [
        {**CHECKPOINT, "taken_at": "2027-03-01T09:00:00"},  # a time without a zone
        {**CHECKPOINT, "item_id": "\ud800"},  # a lone surrogate
        {**CHECKPOINT, "item_id": "x" * 50_000_000},  # the 50 MB checkpoint sent back in every login reply
        {**CHECKPOINT, "item_id": "not-in-the-test"},
        {"something": "else"},
    ],
    ids=["naive-time", "surrogate", "50MB", "unknown-item", "not-a-checkpoint"],
)
def test_a_checkpoint_an_older_server_stored_unchecked_never_blocks_login_or_later_checkpoints(
    client: TestClient, demo: Demo, store: Store, stored: dict[str, Any]
) -> None:
    login = player_login(client, demo.codes[0])
    with store.transaction() as session:
        session.execute(
            text("UPDATE attempts SET checkpoint = :cp WHERE id = :id"),
            {"cp": json.dumps(stored), "id": login["attempt_id"]},
        )
    again = client.post(f"{API}/login", json={"access_code": demo.codes[0], "machine_id": "pc-1"})
    assert again.status_code == 200, again.text
    assert again.json()["checkpoint"] is None
    assert len(again.content) < 100_000
    assert attempt_row(store, login["attempt_id"])["checkpoint"] is None, "the unreadable one was dropped"
    assert put_checkpoint(client, again.json(), CHECKPOINT).status_code == 204
    resumed = player_login(client, demo.codes[0])
    assert resumed["checkpoint"]["item_id"] == "dict-cat"


def test_a_newer_checkpoint_replaces_an_unreadable_one_stored_before(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    with store.transaction() as session:
        session.execute(
            text("UPDATE attempts SET checkpoint = :cp WHERE id = :id"),
            {"cp": json.dumps({**CHECKPOINT, "taken_at": "2027-03-01T09:00:00"}), "id": login["attempt_id"]},
        )
    assert put_checkpoint(client, login, {**CHECKPOINT, "remaining_seconds": 42}).status_code == 204
    assert player_login(client, demo.codes[0])["checkpoint"]["remaining_seconds"] == 42


# ---- bodies that cannot be read, and the API description ---------------------------------------


def test_a_body_that_is_not_utf8_is_a_422_that_says_so(client: TestClient, demo: Demo, store: Store) -> None:
    login = player_login(client, demo.codes[0])
    before = attempt_row(store, login["attempt_id"])
    reply = client.post(
        f"{API}/attempts/{login['attempt_id']}/heartbeat",
        content=b'{"section_id": "\xff"}',
        headers=bearer(login["attempt_token"]) | {"Content-Type": "application/json"},
    )
    assert reply.status_code == 422
    assert reply.json()["error"] == "invalid_request"
    assert reply.json()["message"].startswith("The request body could not be read: it is not UTF-8 encoded JSON.")
    assert attempt_row(store, login["attempt_id"]) == before


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"remaining_seconds": ' + b"9" * 5000 + b"}", "it holds a number with too many digits."),
        (b'{"section_id": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "its JSON is nested too deeply."),
    ],
    ids=["5,000 digits", "nested 5,000 deep"],
)
def test_a_body_python_cannot_read_says_why(
    client: TestClient, demo: Demo, store: Store, body: bytes, why: str
) -> None:
    login = player_login(client, demo.codes[0])
    before = attempt_row(store, login["attempt_id"])
    reply = client.put(
        f"{API}/attempts/{login['attempt_id']}/checkpoint",
        content=body,
        headers=bearer(login["attempt_token"]) | {"Content-Type": "application/json"},
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["message"].startswith(f"The request body could not be read: {why}")
    assert attempt_row(store, login["attempt_id"]) == before


def test_every_route_with_a_body_declares_its_refusal_in_the_api_description(client: TestClient) -> None:
    spec = client.get(f"{API}/openapi.json").json()
    with_body = [
        (path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items() if "requestBody" in op
    ]
    assert len(with_body) >= 15
    for path, method, op in with_body:
        refusal = op["responses"].get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
        assert refusal.get("$ref") == "#/components/schemas/ErrorBody", (method, path, op["responses"].get("422"))
    batch = spec["paths"][f"{API}/attempts/{{attempt_id}}/results/batch"]["post"]["responses"]
    assert batch["415"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorBody"


# ---- any hostile value in any field: a clean 4xx or a success, never a 5xx --------------------------

HOSTILE = st.one_of(
    st.sampled_from(["\ud800", "a\udfffb", "", "x" * 100_001, "2027-03-01T09:00:00", "0001-01-01T00:00:00+01:00",
                     "9999-12-31T23:59:59-14:00", "NaN", "\x00"]),
    st.sampled_from([2**63, 2**63 - 1, -(2**63) - 1, -1, 0, 10**30, 1.5, True, None]),
    st.text(max_size=30),
    st.lists(st.sampled_from(["a", "\ud800", 2**63]), max_size=3),
    st.dictionaries(st.sampled_from(["dict-cat", "\ud800", "nope"]), st.sampled_from([1, -1, 2**63]), max_size=2),
)  # fmt: skip
FIELDS = {
    "checkpoint": ["section_id", "item_id", "remaining_seconds", "taken_at", "plays"],
    "heartbeat": ["section_id", "section_title", "item_id", "item_index", "item_count", "remaining_seconds",
                  "paused", "finished", "outbox_depth", "machine_id"],
    # Not "final": an accepted final envelope would end the attempt, and the examples share it.
    "results": ["attempt_id", "section_ids", "answers", "finished_at", "answers.0.item_id",
                "answers.0.value", "answers.0.answered_at"],
}  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(sorted(FIELDS)), data=st.data(), value=HOSTILE, batched=st.booleans())
def test_no_hostile_value_in_any_player_field_gives_a_5xx_and_a_refusal_stores_nothing(
    client: TestClient, demo: Demo, store: Store, route: str, data: st.DataObject, value: Any, batched: bool
) -> None:
    login = player_login(client, demo.codes[2], machine="pc-fuzz")
    batched = batched and route == "results"
    field = data.draw(st.sampled_from(FIELDS[route]))
    body: dict[str, Any] = {
        "checkpoint": dict(CHECKPOINT),
        "heartbeat": dict(BEAT),
        "results": envelope(login["attempt_id"], {"mc-circles": "a"}, final=False),
    }[route]
    target, *rest = field.split(".")
    if rest:
        body[target][int(rest[0])][rest[1]] = value
    else:
        body[target] = value
    before = (attempt_row(store, login["attempt_id"]), result_count(store))
    if route == "checkpoint":
        reply = put_checkpoint(client, login, body)
    elif route == "heartbeat":
        reply = beat(client, login, body)
    else:
        url = f"{API}/attempts/{login['attempt_id']}/results" + ("/batch" if batched else "")
        reply = post_json(client, url, {"envelopes": [body]} if batched else body, bearer(login["attempt_token"]))
    assert reply.status_code < 500, reply.text
    refused = reply.status_code >= 400 or (batched and reply.json()["items"][0]["status"] >= 400)
    if refused:
        message = reply.json()["message"] if reply.status_code >= 400 else reply.json()["items"][0]["error"]["message"]
        assert 0 < len(message) < 2000
        assert (attempt_row(store, login["attempt_id"]), result_count(store)) == before


def test_every_string_and_number_a_client_sends_is_bounded_in_the_api_description(client: TestClient) -> None:
    """A bounded string is also refused when it is not valid Unicode (pydantic checks it as a Rust string), so
    this walk over every request body's schema is what keeps lone surrogates and megabyte fields out."""
    spec = client.get(f"{API}/openapi.json").json()
    components = spec["components"]["schemas"]
    unbounded: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(components[name], name, seen | {name})
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for n, branch in enumerate(schema.get(key, [])):
                walk(branch, f"{where}|{n}", seen)
        kind = schema.get("type")
        plain_string = kind == "string" and not {"enum", "const", "format"} & set(schema)
        if plain_string and "maxLength" not in schema:
            unbounded.append(f"{where}: string without maxLength")
        if kind in ("integer", "number") and not ("maximum" in schema and "minimum" in schema):
            unbounded.append(f"{where}: {kind} without minimum and maximum")
        if kind == "array" and "maxItems" not in schema:
            unbounded.append(f"{where}: array without maxItems")
        if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
            if "maxProperties" not in schema or "maxLength" not in schema.get("propertyNames", {}):
                unbounded.append(f"{where}: object without maxProperties or bounded keys")
            walk(schema["additionalProperties"], f"{where}[*]", seen)
        for name, field in schema.get("properties", {}).items():
            walk(field, f"{where}.{name}", seen)
        if "items" in schema:
            walk(schema["items"], f"{where}[]", seen)

    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for media in op.get("requestBody", {}).get("content", {}).values():
                walk(media["schema"], f"{method.upper()} {path}", frozenset())
    assert unbounded == [], "\n".join(unbounded)
