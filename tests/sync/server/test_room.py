"""The live room, invigilator actions delivered by heartbeat, and the sitting's log (real app, FakeClock)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.server.store import Store
from tests.helpers.clock import START, FakeClock
from tests.helpers.server import API, Demo, bearer, envelope, player_login
from tests.sync.server.test_player_api import damage_package


def room(client: TestClient, demo: Demo, admin: dict[str, str]) -> dict[str, Any]:
    reply = client.get(f"{API}/staff/sittings/{demo.sitting_id}/room", headers=admin)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def student(view: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in view["students"] if s["student_name"] == name)
    return found


def beat(client: TestClient, login: dict[str, Any], **fields: Any) -> dict[str, Any]:
    reply = client.post(
        f"{API}/attempts/{login['attempt_id']}/heartbeat", json=fields, headers=bearer(login["attempt_token"])
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def allocation_id(view: dict[str, Any], name: str) -> str:
    return str(student(view, name)["allocation_id"])


def act(client: TestClient, admin: dict[str, str], allocation: str, **body: Any) -> Any:
    return client.post(f"{API}/staff/allocations/{allocation}/actions", json=body, headers=admin)


LIVE = {"section_id": "short", "section_title": "Short answers", "item_id": "short-past", "item_index": 2,
        "item_count": 4, "remaining_seconds": 300, "outbox_depth": 0}  # fmt: skip


def test_the_room_shows_each_state_with_counts(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    view = room(client, demo, admin)
    assert [s["state"] for s in view["students"]] == ["not_started"] * 3
    assert view["counts"] == {"not_started": 3, "in_progress": 0, "paused": 0, "finished": 0, "offline": 0,
                              "waiting_to_send": 0}  # fmt: skip
    ada = player_login(client, demo.codes[0], machine="pc-ada")
    alan = player_login(client, demo.codes[1], machine="pc-alan")
    grace = player_login(client, demo.codes[2], machine="pc-grace")
    beat(client, ada, **LIVE)
    beat(client, alan, **LIVE | {"paused": True})
    beat(client, grace, **LIVE | {"outbox_depth": 2})

    view = room(client, demo, admin)
    shown = student(view, "Ada Lovelace")
    assert (shown["state"], shown["machine_id"], shown["online"]) == ("in_progress", "pc-ada", True)
    assert (shown["section_title"], shown["item_index"], shown["item_count"]) == ("Short answers", 2, 4)
    assert shown["remaining_seconds"] == 300
    assert student(view, "Alan Turing")["state"] == "paused"
    assert view["counts"] == {"not_started": 0, "in_progress": 2, "paused": 1, "finished": 0, "offline": 0,
                              "waiting_to_send": 1}  # fmt: skip

    # Grace says she finished while two results wait on her machine: finished, but not yet sent.
    beat(client, grace, outbox_depth=2, finished=True)
    assert student(room(client, demo, admin), "Grace Hopper")["state"] == "finished_waiting"
    # Ada's final result arrives and is marked.
    sent = client.post(
        f"{API}/attempts/{ada['attempt_id']}/results",
        json=envelope(ada["attempt_id"], {"mc-circles": "b"}),
        headers=bearer(ada["attempt_token"]),
    )
    assert sent.json()["status"] == "marked"
    view = room(client, demo, admin)
    assert student(view, "Ada Lovelace")["state"] == "marked"
    assert student(view, "Ada Lovelace")["section_id"] is None  # a finished student is in no section
    assert view["counts"]["finished"] == 2
    assert view["counts"]["waiting_to_send"] == 1

    # Alan's code is released to another machine: shown as released until he signs in there.
    alan_row = allocation_id(view, "Alan Turing")
    released = client.post(
        f"{API}/staff/allocations/{alan_row}/release",
        json={"reason_kind": "moved_machine", "reason": "keyboard broken"},
        headers=admin,
    )
    assert released.status_code == 200, released.text
    assert student(room(client, demo, admin), "Alan Turing")["state"] == "released"
    player_login(client, demo.codes[1], machine="pc-spare")
    shown = student(room(client, demo, admin), "Alan Turing")
    assert (shown["state"], shown["machine_id"]) == ("paused", "pc-spare")  # as last reported, until it beats


def test_a_marking_failure_shows_finished_sent_not_marked(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    ada = player_login(client, demo.codes[0])
    receipt = client.post(
        f"{API}/attempts/{ada['attempt_id']}/results",
        json=envelope(ada["attempt_id"], {"mc-circles": "b"}),
        headers=bearer(ada["attempt_token"]),
    ).json()
    assert student(room(client, demo, admin), "Ada Lovelace")["state"] == "marked"
    damage_package(store, "mc-circles")
    remarked = client.post(f"{API}/staff/results/{receipt['result_id']}/remark", headers=admin).json()
    assert remarked["status"] == "marking_failed"
    assert student(room(client, demo, admin), "Ada Lovelace")["state"] == "finished_sent"


def test_a_student_is_offline_after_30_seconds_without_a_heartbeat(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    ada = player_login(client, demo.codes[0])
    beat(client, ada, **LIVE)
    clock.advance(seconds=30)
    view = room(client, demo, admin)
    assert student(view, "Ada Lovelace")["online"] is True
    assert view["counts"]["offline"] == 0
    clock.advance(seconds=1)
    view = room(client, demo, admin)
    assert student(view, "Ada Lovelace")["online"] is False
    assert student(view, "Ada Lovelace")["last_seen_at"].startswith(START.strftime("%Y-%m-%dT%H:%M"))
    assert view["counts"]["offline"] == 1
    beat(client, ada, **LIVE)
    assert room(client, demo, admin)["counts"]["offline"] == 0


def test_a_pause_arrives_in_the_next_heartbeat_exactly_once(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = player_login(client, demo.codes[0])
    beat(client, ada, **LIVE)
    target = allocation_id(room(client, demo, admin), "Ada Lovelace")
    reply = act(client, admin, target, kind="pause", reason_kind="toilet_break")
    assert reply.status_code == 200, reply.text
    receipt = reply.json()
    assert (receipt["kind"], receipt["student_name"]) == ("pause", "Ada Lovelace")

    first = beat(client, ada, **LIVE)
    assert [(i["id"], i["kind"]) for i in first["instructions"]] == [(receipt["instruction_id"], "pause")]
    assert beat(client, ada, **LIVE | {"paused": True})["instructions"] == []
    assert student(room(client, demo, admin), "Ada Lovelace")["state"] == "paused"

    resumed = act(client, admin, target, kind="resume", reason_kind="break_over").json()
    assert [i["id"] for i in beat(client, ada, **LIVE | {"paused": True})["instructions"]] == [
        resumed["instruction_id"]
    ]


def test_instructions_keep_their_order_and_wait_for_a_silent_machine(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    ada = player_login(client, demo.codes[0])
    beat(client, ada, **LIVE)
    target = allocation_id(room(client, demo, admin), "Ada Lovelace")
    for kind, why in (("pause", "illness"), ("resume", "break_over"), ("pause", "illness")):
        assert act(client, admin, target, kind=kind, reason_kind=why).status_code == 200
    clock.advance(minutes=10)  # the machine was off the network meanwhile
    assert [i["kind"] for i in beat(client, ada, **LIVE)["instructions"]] == ["pause", "resume", "pause"]


def test_pause_all_reaches_only_students_in_progress_and_resume_all_the_paused(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = player_login(client, demo.codes[0], machine="pc-ada")
    alan = player_login(client, demo.codes[1], machine="pc-alan")
    beat(client, ada, **LIVE)
    beat(client, alan, **LIVE | {"finished": True, "outbox_depth": 1})  # Grace has not started
    url = f"{API}/staff/sittings/{demo.sitting_id}/actions"
    paused = client.post(url, json={"kind": "pause", "reason_kind": "fire_alarm"}, headers=admin)
    assert paused.status_code == 200, paused.text
    assert [r["student_name"] for r in paused.json()] == ["Ada Lovelace"]
    assert [i["kind"] for i in beat(client, alan, outbox_depth=1, finished=True)["instructions"]] == []

    # Resume-all before Ada's machine has even applied the pause still reaches her (no one is left paused).
    resumed = client.post(url, json={"kind": "resume", "reason_kind": "alarm_over"}, headers=admin).json()
    assert [r["student_name"] for r in resumed] == ["Ada Lovelace"]
    assert [i["kind"] for i in beat(client, ada, **LIVE)["instructions"]] == ["pause", "resume"]
    # Once the room is running again, resume-all has no one to reach.
    assert client.post(url, json={"kind": "resume", "reason_kind": "alarm_over"}, headers=admin).json() == []


@pytest.mark.parametrize(("seconds", "accepted"), [(59, False), (60, True), (3600, True), (3601, False), (None, False)])
def test_add_time_is_between_one_minute_and_one_hour(
    client: TestClient, demo: Demo, admin: dict[str, str], seconds: int | None, accepted: bool
) -> None:
    ada = player_login(client, demo.codes[0])
    beat(client, ada, **LIVE)
    target = allocation_id(room(client, demo, admin), "Ada Lovelace")
    reply = act(client, admin, target, kind="add_time", seconds=seconds, reason_kind="technical_problem")
    if not accepted:
        assert reply.status_code == 422
        assert "seconds" in reply.json()["message"]
        assert beat(client, ada, **LIVE)["instructions"] == []
        return
    assert reply.status_code == 200, reply.text
    [given] = beat(client, ada, **LIVE)["instructions"]
    assert (given["kind"], given["seconds"], given["section_id"]) == ("add_time", seconds, "short")
    assert student(room(client, demo, admin), "Ada Lovelace")["extra_time_seconds"] == seconds


def test_end_section_names_the_students_current_section(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    ada = player_login(client, demo.codes[0])
    target = allocation_id(room(client, demo, admin), "Ada Lovelace")
    beat(client, ada)  # the machine has not said where it is yet
    early = act(client, admin, target, kind="end_section", reason_kind="illness")
    assert early.status_code == 409
    assert "has not yet said which section" in early.json()["message"]
    beat(client, ada, **LIVE)
    assert act(client, admin, target, kind="end_section", reason_kind="illness").status_code == 200
    [given] = beat(client, ada, **LIVE)["instructions"]
    assert (given["kind"], given["section_id"]) == ("end_section", "short")


def test_actions_need_a_started_unfinished_attempt(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    target = allocation_id(room(client, demo, admin), "Grace Hopper")
    reply = act(client, admin, target, kind="pause", reason_kind="illness")
    assert reply.status_code == 409
    assert reply.json()["message"] == "Grace Hopper has not started the test yet, so you cannot pause them."


def test_other_needs_a_reason_in_words(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    ada = player_login(client, demo.codes[0])
    beat(client, ada, **LIVE)
    target = allocation_id(room(client, demo, admin), "Ada Lovelace")
    for body in ({"reason_kind": "other"}, {"reason_kind": "other", "reason": "   "}):
        reply = act(client, admin, target, kind="pause", **body)
        assert reply.status_code == 422
        assert reply.json()["message"].startswith("The request is not valid: reason: ")
        assert '"other"' in reply.json()["message"]
    unknown = act(client, admin, target, kind="pause", reason_kind="bored")
    assert unknown.status_code == 422
    assert "reason_kind" in unknown.json()["message"]
    release = client.post(f"{API}/staff/allocations/{target}/release", json={}, headers=admin)
    assert release.status_code == 422
    assert "reason_kind: is missing; this field is required" in release.json()["message"]
    assert beat(client, ada, **LIVE)["instructions"] == []
    assert act(client, admin, target, kind="pause", reason_kind="other", reason="Fainted").status_code == 200


def test_a_reason_that_does_not_fit_the_action_is_refused_in_words_and_changes_nothing(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    """The console offers each action its own reasons; the server holds to the same lists, so no client can make
    the sitting's log say a section was ended for a toilet break."""
    ada = player_login(client, demo.codes[0])
    beat(client, ada, **LIVE)
    target = allocation_id(room(client, demo, admin), "Ada Lovelace")
    log_before = client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json()

    refusals = [
        act(client, admin, target, kind="end_section", reason_kind="toilet_break"),
        act(client, admin, target, kind="resume", reason_kind="illness"),
        client.post(
            f"{API}/staff/sittings/{demo.sitting_id}/actions",
            json={"kind": "add_time", "seconds": 300, "reason_kind": "access_arrangement"},
            headers=admin,
        ),
        client.post(f"{API}/staff/allocations/{target}/release", json={"reason_kind": "fire_alarm"}, headers=admin),
    ]
    assert [(r.status_code, r.json()["error"]) for r in refusals] == [(422, "reason_not_for_action")] * 4
    assert [r.json()["message"] for r in refusals[::3]] == [
        '"toilet_break" is not a reason to end a student\'s section; the reason_kind must be one of finished_early, '
        'malpractice, illness, technical_problem or other (with "other", say what happened in reason). '
        "Nothing was changed.",
        '"fire_alarm" is not a reason to release a student\'s code; the reason_kind must be one of moved_machine, '
        'technical_problem or other (with "other", say what happened in reason). Nothing was changed.',
    ]
    assert "add time for the whole room" in refusals[2].json()["message"]

    assert beat(client, ada, **LIVE)["instructions"] == [], "no instruction was queued"
    assert client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json() == log_before
    assert student(room(client, demo, admin), "Ada Lovelace")["state"] == "in_progress", "not released"


def test_the_log_lists_every_action_with_who_when_and_why(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    ada = player_login(client, demo.codes[0], machine="pc-ada")
    alan = player_login(client, demo.codes[1], machine="pc-alan")
    beat(client, ada, **LIVE)
    beat(client, alan, **LIVE)
    view = room(client, demo, admin)
    clock.advance(minutes=1)
    act(client, admin, allocation_id(view, "Ada Lovelace"), kind="pause", reason_kind="toilet_break")
    clock.advance(minutes=1)
    act(client, admin, allocation_id(view, "Alan Turing"), kind="add_time", seconds=300, reason_kind="illness",
        reason="Nosebleed")  # fmt: skip
    clock.advance(minutes=1)
    client.post(
        f"{API}/staff/sittings/{demo.sitting_id}/actions",
        json={"kind": "pause", "reason_kind": "fire_alarm"},
        headers=admin,
    )
    clock.advance(minutes=1)
    client.post(
        f"{API}/staff/allocations/{allocation_id(view, 'Alan Turing')}/release",
        json={"reason_kind": "moved_machine", "reason": "PC 4 froze"},
        headers=admin,
    )
    entries = client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json()
    assert entries[0]["action"] == "create_sitting"  # the demo seed's, first in the sitting's log
    mine = entries[1:]
    assert [(e["action"], e["student_name"], e["reason_kind"], e["reason"]) for e in mine] == [
        ("pause", "Ada Lovelace", "toilet_break", ""),
        ("add_time", "Alan Turing", "illness", "Nosebleed"),
        ("pause", "Alan Turing", "fire_alarm", ""),  # Ada's own pause is still on its way, so not again
        ("release_code", "Alan Turing", "moved_machine", "PC 4 froze"),
    ]
    assert {e["actor"] for e in mine} == {"demo-admin"}
    assert [e["at"][11:16] for e in mine] == ["09:01", "09:02", "09:03", "09:04"]
    assert mine[1]["detail"]["seconds"] == 300
    assert mine[2]["detail"]["whole_room"] is True
    assert mine[3]["detail"]["previous_machine"] == "pc-alan"


def test_a_released_machine_gets_401_and_its_pending_instruction_goes_to_the_new_one(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    old = player_login(client, demo.codes[0], machine="pc-old")
    beat(client, old, **LIVE)
    target = allocation_id(room(client, demo, admin), "Ada Lovelace")
    act(client, admin, target, kind="add_time", seconds=120, reason_kind="technical_problem")
    client.post(f"{API}/staff/allocations/{target}/release", json={"reason_kind": "moved_machine"}, headers=admin)
    cut_off = client.post(
        f"{API}/attempts/{old['attempt_id']}/heartbeat", json=LIVE, headers=bearer(old["attempt_token"])
    )
    assert cut_off.status_code == 401
    new = player_login(client, demo.codes[0], machine="pc-new")
    assert [(i["kind"], i["seconds"]) for i in beat(client, new, **LIVE)["instructions"]] == [("add_time", 120)]
