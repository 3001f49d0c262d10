"""What players report for the room (machine name, progress, sound, restarts), actions on the whole room, what an
action shows before the player collects it, and the time a released attempt resumes with (real app, FakeClock)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.clock import START, FakeClock
from tests.helpers.room_api import act_on_room, beat, room, send_beat, student
from tests.helpers.server import API, Demo, bearer, player_login

ADA, ALAN, GRACE = "Ada Lovelace", "Alan Turing", "Grace Hopper"
MC = {"section_id": "mc", "section_title": "Multiple choice", "item_count": 3}
SHORT = {"section_id": "short", "section_title": "Short answers", "item_count": 4}


def test_the_room_shows_what_each_machine_reports_of_itself(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = player_login(client, demo.codes[0], machine="9f7a80a8-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
    restarted = (START + timedelta(minutes=3)).isoformat()
    beat(client, ada, **MC, item_index=2, remaining_seconds=500, machine_name="room12-pc03", answered_count=4,
         question_count=10, audio="not_heard", resumed_at=restarted)  # fmt: skip
    alan = player_login(client, demo.codes[1], machine="pc-alan")
    beat(client, alan, starting=True, audio="no_device")

    view = room(client, demo, admin)
    shown = student(view, ADA)
    assert shown["machine_name"] == "room12-pc03"
    assert (shown["answered_count"], shown["question_count"]) == (4, 10)
    assert shown["audio"] == "not_heard"
    assert shown["resumed_at"].startswith("2027-03-01T09:03:00")
    alan_shown = student(view, ALAN)
    assert (alan_shown["state"], alan_shown["section_id"], alan_shown["audio"]) == ("in_progress", None, "no_device")
    assert alan_shown["extra_time_percent"] == 25, "the demo gives Alan 25 % extra time"


@pytest.mark.parametrize(
    "name",
    ["pc\x1b[2J03", "x" * 65, "", "line\nbreak"],
    ids=["escape", "too-long", "empty", "newline"],
)
def test_a_hostile_machine_name_is_refused_and_nothing_is_kept(
    client: TestClient, demo: Demo, admin: dict[str, str], name: str
) -> None:
    ada = player_login(client, demo.codes[0], machine="pc-ada")
    beat(client, ada, **MC, item_index=1, remaining_seconds=600, machine_name="room12-pc03")
    refused = send_beat(client, ada, **MC, item_index=2, remaining_seconds=590, machine_name=name)
    assert refused.status_code == 422, refused.text
    assert "machine_name" in refused.text
    shown = student(room(client, demo, admin), ADA)
    assert (shown["machine_name"], shown["item_index"]) == ("room12-pc03", 1)


def test_instructions_wait_while_the_student_is_still_getting_ready(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = player_login(client, demo.codes[0])
    beat(client, ada, starting=True)
    paused = act_on_room(client, demo, admin, kind="add_time", seconds=300, reason_kind="fire_alarm")
    assert paused.status_code == 200, paused.text
    assert beat(client, ada, starting=True)["instructions"] == []
    assert student(room(client, demo, admin), ADA)["pending"] == ["add_time"]
    kinds = [i["kind"] for i in beat(client, ada, **MC, item_index=1, remaining_seconds=600)["instructions"]]
    assert kinds == ["add_time"]


def test_an_action_shows_in_the_room_at_once_and_clears_when_collected(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = player_login(client, demo.codes[0])
    beat(client, ada, **MC, item_index=3, remaining_seconds=400)
    allocation = student(room(client, demo, admin), ADA)["allocation_id"]
    ended = client.post(
        f"{API}/staff/allocations/{allocation}/actions",
        json={"kind": "end_section", "reason_kind": "finished_early"},
        headers=admin,
    )
    assert ended.status_code == 200, ended.text
    assert student(room(client, demo, admin), ADA)["pending"] == ["end_section"]
    assert [i["kind"] for i in beat(client, ada, **MC, item_index=3, remaining_seconds=395)["instructions"]] == [
        "end_section"
    ]
    beat(client, ada, **SHORT, item_index=1, remaining_seconds=900)
    shown = student(room(client, demo, admin), ADA)
    assert (shown["pending"], shown["section_id"], shown["item_index"]) == ([], "short", 1)


def test_add_time_for_the_room_reaches_everyone_still_working(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = player_login(client, demo.codes[0], machine="pc-ada")
    alan = player_login(client, demo.codes[1], machine="pc-alan")
    beat(client, ada, **MC, item_index=1, remaining_seconds=600)
    beat(client, alan, **MC, item_index=1, remaining_seconds=600, paused=True)
    added = act_on_room(client, demo, admin, kind="add_time", seconds=300, reason_kind="fire_alarm")
    assert added.status_code == 200, added.text
    assert sorted(r["student_name"] for r in added.json()) == [ADA, ALAN], "Grace has not started"
    for login in (ada, alan):
        assert [(i["kind"], i["seconds"]) for i in beat(client, login, **MC)["instructions"]] == [("add_time", 300)]
    log = client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json()
    added_entries = [e for e in log if e["action"] == "add_time"]
    assert len(added_entries) == 2
    assert all(e["detail"]["whole_room"] and e["reason_kind"] == "fire_alarm" for e in added_entries)


def test_ending_a_section_for_the_room_ends_it_only_for_those_in_it(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = player_login(client, demo.codes[0], machine="pc-ada")
    alan = player_login(client, demo.codes[1], machine="pc-alan")
    beat(client, ada, **MC, item_index=2, remaining_seconds=300)
    beat(client, alan, **SHORT, item_index=1, remaining_seconds=900)
    ended = act_on_room(client, demo, admin, kind="end_section", section_id="mc", reason_kind="room_timetable")
    assert ended.status_code == 200, ended.text
    assert [r["student_name"] for r in ended.json()] == [ADA]
    assert [(i["kind"], i["section_id"]) for i in beat(client, ada, **MC)["instructions"]] == [("end_section", "mc")]
    assert beat(client, alan, **SHORT)["instructions"] == []
    entry = next(e for e in client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json()
                 if e["action"] == "end_section")  # fmt: skip
    assert entry["detail"]["section_title"] == "Multiple choice"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"kind": "end_section", "reason_kind": "room_timetable"}, "needs section_id"),
        ({"kind": "end_section", "section_id": "nope", "reason_kind": "room_timetable"}, "has no section 'nope'"),
        ({"kind": "add_time", "reason_kind": "fire_alarm"}, "add_time needs seconds"),
        ({"kind": "add_time", "seconds": 7200, "reason_kind": "fire_alarm"}, "between 60 and 3600"),
        ({"kind": "pause", "section_id": "mc", "reason_kind": "fire_alarm"}, "only for end_section"),
        ({"kind": "pause", "seconds": 60, "reason_kind": "fire_alarm"}, "only for add_time"),
        ({"kind": "pause", "reason_kind": "other", "reason": "  "}, "a reason is required"),
    ],
    ids=[
        "no-section",
        "unknown-section",
        "no-seconds",
        "too-long",
        "section-for-pause",
        "seconds-for-pause",
        "other-without-words",
    ],
)
def test_a_bad_room_action_is_refused_and_nothing_is_given(
    client: TestClient, demo: Demo, admin: dict[str, str], body: dict[str, Any], says: str
) -> None:
    ada = player_login(client, demo.codes[0])
    beat(client, ada, **MC, item_index=1, remaining_seconds=600)
    refused = act_on_room(client, demo, admin, **body)
    assert refused.status_code == 422, refused.text
    assert says in refused.text
    assert student(room(client, demo, admin), ADA)["pending"] == []
    assert beat(client, ada, **MC)["instructions"] == []


def release(client: TestClient, demo: Demo, admin: dict[str, str], name: str) -> None:
    allocation = student(room(client, demo, admin), name)["allocation_id"]
    released = client.post(
        f"{API}/staff/allocations/{allocation}/release", json={"reason_kind": "moved_machine"}, headers=admin
    )
    assert released.status_code == 200, released.text


def test_a_released_attempt_resumes_with_the_time_the_room_showed_not_an_older_checkpoint(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    """The issue: the console showed 5:31 at the release; the new machine started at 5:51. The player's uploader
    sends checkpoints up to 30 s apart, its heartbeats every 5 s."""
    old = player_login(client, demo.codes[0], machine="pc-old")
    checkpoint = {"section_id": "mc", "item_id": "mc-opposite", "remaining_seconds": 351,
                  "taken_at": START.isoformat(), "plays": {}}  # fmt: skip
    put = client.put(
        f"{API}/attempts/{old['attempt_id']}/checkpoint", json=checkpoint, headers=bearer(old["attempt_token"])
    )
    assert put.status_code == 204, put.text
    clock.advance(20)
    beat(client, old, **MC, item_id="mc-nouns", item_index=3, remaining_seconds=331)
    assert student(room(client, demo, admin), ADA)["remaining_seconds"] == 331  # the console shows 5:31
    release(client, demo, admin, ADA)

    new = player_login(client, demo.codes[0], machine="pc-new")
    assert new["checkpoint"]["remaining_seconds"] == 331
    assert (new["checkpoint"]["section_id"], new["checkpoint"]["item_id"]) == ("mc", "mc-nouns")


def test_a_release_keeps_a_checkpoint_from_a_later_section_than_the_last_heartbeat(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    old = player_login(client, demo.codes[0], machine="pc-old")
    beat(client, old, **MC, item_id="mc-nouns", item_index=3, remaining_seconds=20)
    checkpoint = {"section_id": "short", "item_id": "short-plural", "remaining_seconds": 880,
                  "taken_at": START.isoformat(), "plays": {}}  # fmt: skip
    client.put(f"{API}/attempts/{old['attempt_id']}/checkpoint", json=checkpoint, headers=bearer(old["attempt_token"]))
    release(client, demo, admin, ADA)
    new = player_login(client, demo.codes[0], machine="pc-new")
    assert (new["checkpoint"]["section_id"], new["checkpoint"]["remaining_seconds"]) == ("short", 880)
