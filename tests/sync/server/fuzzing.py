"""What the fuzz tests share: a database with everything a path can name, and hostile values to send into it."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import strategies as st

from sync.error_catalogue import by_number
from sync.protocol import ErrorBody
from sync.server.app import create_app
from sync.server.settings import LoginLimits, ServerSettings
from sync.server.store import Store
from tests.helpers.clock import START, FakeClock
from tests.helpers.server import API, DemoTemplate, bearer, envelope, player_login

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@dataclass(frozen=True)
class World:
    """A database file with everything the paths can name, and the tokens that open it."""

    path: Path
    ids: dict[str, str]
    """Real values for each path parameter name (attempt_id, sitting_id, ...)."""
    tokens: dict[str, str | None]
    """By kind: "none", "student" (Ada's attempt token), "staff" (the demo admin's)."""
    access_code: str
    """Ada's, signed in on machine pc-fuzz."""


def checked_reply(send: Callable[[], Any], what: str) -> Any:
    """`send()`'s reply, checked as every fuzz test checks it: no 5xx, and a refusal is an ErrorBody. An exception
    out of the app (a 500 to a real client) carries a note saying which request raised it."""
    try:
        reply = send()
    except Exception as exc:
        exc.add_note(f"The app raised (a 500 to the client) on: {what}")
        raise
    assert reply.status_code < 500, f"{what} -> {reply.status_code} {reply.text[:300]}"
    if reply.status_code >= 400:
        try:
            body = ErrorBody.model_validate_json(reply.content)
        except ValueError:
            pytest.fail(f"{what} -> {reply.status_code}, not an ErrorBody: {reply.text[:300]}")
        # Every refusal carries its number in the error catalogue (docs/errors.md), for a support call to quote.
        entry = by_number(body.number or "")
        assert entry is not None, f"{what} -> {body.error} has no catalogue number: add api.{body.error}"
        assert entry.key == f"api.{body.error}", f"{what} -> {body.error} numbered {body.number} ({entry.key})"
    return reply


def server_settings(path: Path, key: bytes) -> ServerSettings:
    return ServerSettings(
        database_url=f"sqlite:///{path}", secret_key=key, login_limits=LoginLimits(per_machine=10, per_address=100)
    )


def open_app(path: Path, key: bytes) -> tuple[FastAPI, Store]:
    """The real app over the database file at `path`, its clock stopped at START (where the demo is open)."""
    store = Store.open(f"sqlite:///{path}", migrate=False)
    return create_app(server_settings(path, key), store=store, clock=FakeClock(START)), store


def restore(source: Path, target: Path) -> None:
    """Put the database at `target` back to `source`'s content, in place: an app open on it sees the old world.

    Far cheaper than a new app per example, and it leaves nothing behind for the collector (the suite runs with
    automatic garbage collection off).
    """
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refusal changed nothing (this connection sees what was committed)."""
    with closing(sqlite3.connect(path)) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(db.execute(f'SELECT * FROM "{table}"'), key=repr) for table in tables}


def build_world(directory: Path, demo: DemoTemplate, key: bytes) -> World:
    """The demo with Ada signed in, a non-final result of hers, an evidence file, and a sitting not yet started."""
    path = directory / "world.db"
    shutil.copy(demo.path, path)
    admin = bearer(demo.admin_token)
    ada = demo.data["students"][0]
    app, store = open_app(path, key)
    try:
        with TestClient(app) as client:
            login = player_login(client, ada["access_code"], machine="pc-fuzz")
            attempt = login["attempt_id"]
            media = next(m for s in login["assessment"]["sections"] for i in s["items"] for m in i["media"])
            stored = client.post(
                f"{API}/attempts/{attempt}/results",
                json=envelope(attempt, {"mc-circles": "a"}, final=False) | {"section_ids": ["mc"]},
                headers=bearer(login["attempt_token"]),
            )
            assert stored.status_code == 200, stored.text
            sitting = client.get(f"{API}/staff/sittings/{demo.data['sitting']['id']}", headers=admin).json()
            allocation = next(a["id"] for a in sitting["allocations"] if a["student_id"] == ada["id"])
            evidence = client.post(
                f"{API}/staff/allocations/{allocation}/evidence",
                content=PNG,
                headers=admin | {"Content-Type": "image/png", "X-Filename": "page.png"},
            )
            assert evidence.status_code == 201, evidence.text
            # A second sitting nobody has signed in to yet: the demo's is locked against edits once Ada is in.
            grace = demo.data["students"][2]
            untouched = client.post(
                f"{API}/staff/sittings",
                json={
                    "assessment": demo.data["assessment"]["id"],
                    "name": "Not started",
                    "window_start": START.isoformat(),
                    "window_end": (START + timedelta(hours=8)).isoformat(),
                    "student_ids": [grace["id"]],
                },
                headers=admin,
            )
            assert untouched.status_code == 201, untouched.text
    finally:
        store.close()
    ids = {
        "attempt_id": attempt,
        "sha256": media["sha256"],
        "sitting_id": demo.data["sitting"]["id"],
        "student_id": ada["id"],
        "allocation_id": allocation,
        "result_id": stored.json()["result_id"],
        "evidence_id": evidence.json()["id"],
        "item_id": "short-describe",
        "untouched_sitting_id": untouched.json()["sitting"]["id"],
    }
    tokens = {"none": None, "student": login["attempt_token"], "staff": demo.admin_token}
    return World(path=path, ids=ids, tokens=tokens, access_code=ada["access_code"])


MEGABYTE = "x" * 1_000_000

HOSTILE_STRINGS = [
    "\ud800",  # a lone surrogate: valid JSON ("\ud800"), not encodable as UTF-8
    "a\udfffb",
    "\x00",
    "",
    " ",
    MEGABYTE,
    "ß",  # upper case is two letters ("SS")
    "ﬀ",
    "ﬁ",
    "ABCD-ßﬀ-EFGH",
    "İ",  # lower case is two code points
    "\u202e",  # right-to-left override
    "2027-03-01T09:00:00",  # a time without a timezone
    "9999-12-31T23:59:59+14:00",
    "9999-12-31T23:59:59-14:00",  # past year 9999 once converted to UTC
    "0001-01-01T00:00:00+14:00",  # before year 1 once converted to UTC
    "../../etc/passwd",
    "%00",
]
HOSTILE_NUMBERS: list[Any] = [
    2**63,  # one past SQLite's largest integer
    2**63 - 1,
    -(2**63) - 1,
    -1,
    0,
    2**31,
    10**100,
    1e308,
    -0.0,
    True,
]
HOSTILE_VALUES: list[Any] = [*HOSTILE_STRINGS, *HOSTILE_NUMBERS, None, [], {}]


def hostile_values() -> st.SearchStrategy[Any]:
    """One hand-picked hostile value, or an ordinary string with one of the hostile characters in it."""
    spiced = st.tuples(st.text(max_size=8), st.sampled_from(["\ud800", "ß", "ﬀ", "\x00"]), st.text(max_size=8)).map(
        "".join
    )
    return st.one_of(st.sampled_from(HOSTILE_VALUES), spiced)


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value that can be replaced (each member and element at any depth), as key paths."""
    paths = [path] if path else []
    if isinstance(value, dict):
        for key, member in value.items():
            paths += leaf_paths(member, (*path, key))
    elif isinstance(value, list):
        for index, element in enumerate(value):
            paths += leaf_paths(element, (*path, index))
    return paths


def replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = replace(copy[head], rest, new)
    return copy


def mutate_json(value: Any) -> st.SearchStrategy[Any]:
    """`value` with one member (at any depth, but not the whole) replaced by a hostile value."""
    paths = leaf_paths(value) or [()]
    return st.tuples(st.sampled_from(paths), hostile_values()).map(lambda pair: replace(value, pair[0], pair[1]))
