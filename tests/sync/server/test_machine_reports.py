"""What a player says of its machine beside its position: its version, its readiness check in one line, and how
often the student left the test window, each rise of which the sitting's log keeps once (real app, both engines)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.server.machine_reports import LEFT_WINDOW_ACTION
from tests.helpers.room_api import beat, room, send_beat, student
from tests.helpers.server import API, Demo, player_login

ADA, ALAN = "Ada Lovelace", "Alan Turing"
MC = {"section_id": "mc", "section_title": "Multiple choice", "item_count": 3, "item_index": 1}
NOT_READY = "Clock against the server: this machine is 75 seconds behind the server"


def left_window_entries(client: TestClient, demo: Demo, admin: dict[str, str]) -> list[dict[str, Any]]:
    reply = client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin)
    assert reply.status_code == 200, reply.text
    return [e for e in reply.json() if e["action"] == LEFT_WINDOW_ACTION]


def test_the_room_shows_each_machines_version_readiness_and_times_the_window_was_left(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = player_login(client, demo.codes[0], machine="pc-ada")
    beat(client, ada, **MC, app_version="0.13.0", readiness=NOT_READY, left_window_count=2)
    alan = player_login(client, demo.codes[1], machine="pc-alan")
    beat(client, alan, starting=True)  # a player from before these fields: says nothing of them

    view = room(client, demo, admin)
    shown = student(view, ADA)
    assert (shown["app_version"], shown["readiness"], shown["left_window_count"]) == ("0.13.0", NOT_READY, 2)
    alan_shown = student(view, ALAN)
    assert (alan_shown["app_version"], alan_shown["readiness"], alan_shown["left_window_count"]) == (None, None, 0)


def test_a_heartbeat_without_a_report_keeps_the_last_one(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    """Readiness is checked once after start: the heartbeats before it (and any from an older player) leave what
    the room shows alone."""
    ada = player_login(client, demo.codes[0])
    beat(client, ada, **MC, app_version="0.13.0", readiness="Ready")
    beat(client, ada, **MC)
    shown = student(room(client, demo, admin), ADA)
    assert (shown["app_version"], shown["readiness"]) == ("0.13.0", "Ready")


def test_each_rise_in_times_the_window_was_left_is_logged_once(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = player_login(client, demo.codes[0], machine="pc-ada")
    beat(client, ada, **MC, machine_name="room12-pc03", left_window_count=0)
    assert left_window_entries(client, demo, admin) == []

    beat(client, ada, **MC, left_window_count=1)
    beat(client, ada, **MC, left_window_count=1)  # the next heartbeat says the same: nothing new
    beat(client, ada, **MC, left_window_count=3)  # left twice between two heartbeats: one entry for the rise
    beat(client, ada, **MC, left_window_count=3)
    beat(client, ada, **MC, left_window_count=2)  # late or from a player that lost count: nothing changes

    entries = left_window_entries(client, demo, admin)
    assert [(e["student_name"], e["actor"], e["detail"]["count"]) for e in entries] == [
        (ADA, "player", 1),
        (ADA, "player", 3),
    ]
    assert entries[-1]["detail"]["machine"] == "room12-pc03"
    assert student(room(client, demo, admin), ADA)["left_window_count"] == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("readiness", "x" * 201),
        ("readiness", "Ready\nbut not"),
        ("readiness", "Ready\x00"),
        ("app_version", "1" * 41),
        ("app_version", "0.13\x1b[2J"),
        ("left_window_count", -1),
        ("left_window_count", 100_001),
    ],
    ids=["long-readiness", "newline", "nul", "long-version", "escape", "negative", "too-many"],
)
def test_a_bad_report_is_refused_by_name_and_nothing_is_kept(
    client: TestClient, demo: Demo, admin: dict[str, str], field: str, value: object
) -> None:
    ada = player_login(client, demo.codes[0])
    beat(client, ada, **MC, app_version="0.13.0", readiness="Ready", left_window_count=1)
    refused = send_beat(client, ada, **{**MC, "item_index": 2}, **{field: value})
    assert refused.status_code == 422, refused.text
    assert field in refused.text
    shown = student(room(client, demo, admin), ADA)
    assert (shown["app_version"], shown["readiness"], shown["left_window_count"], shown["item_index"]) == (
        "0.13.0",
        "Ready",
        1,
        1,
    )
    assert len(left_window_entries(client, demo, admin)) == 1
