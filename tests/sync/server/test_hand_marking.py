"""Hand marking through the real app: the sheet a marker works from, marks with marker and time in results and the
sitting's log, and every bad mark refused with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.server.store import Store
from tests.helpers.clock import FakeClock
from tests.helpers.server import API, Demo, bearer, envelope, player_login, role_headers

DESCRIBE = "short-describe"
ESSAY = "My favourite place is the beach.\n\nThe sand is warm  and the sea is loud."


def hand_in(client: TestClient, code: str, answers: dict[str, Any], *, final: bool = True) -> str:
    """A student logs in and sends their answers; returns the stored result's id."""
    login = player_login(client, code)
    sent = client.post(
        f"{API}/attempts/{login['attempt_id']}/results",
        json=envelope(login["attempt_id"], answers, final=final),
        headers=bearer(login["attempt_token"]),
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "marked"
    return str(sent.json()["result_id"])


def sheet(client: TestClient, demo: Demo, headers: dict[str, str]) -> dict[str, Any]:
    reply = client.get(f"{API}/staff/sittings/{demo.sitting_id}/hand-marking", headers=headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def mark(
    client: TestClient, headers: dict[str, str], result_id: str, score: object, *, replaces: int | None = None,
    item: str = DESCRIBE,
) -> Any:  # fmt: skip
    body = {"score": score, "replaces": replaces}
    return client.put(f"{API}/staff/results/{result_id}/hand-marks/{item}", json=body, headers=headers)


def results(client: TestClient, demo: Demo, headers: dict[str, str]) -> list[dict[str, Any]]:
    reply = client.get(f"{API}/staff/sittings/{demo.sitting_id}/results", headers=headers)
    body: list[dict[str, Any]] = reply.json()
    return body


def state_in_room(client: TestClient, demo: Demo, headers: dict[str, str], name: str) -> str:
    reply = client.get(f"{API}/staff/sittings/{demo.sitting_id}/room", headers=headers)
    assert reply.status_code == 200, reply.text
    return str(next(s["state"] for s in reply.json()["students"] if s["student_name"] == name))


def short(result: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in result["section_scores"] if s["section_id"] == "short")


def test_the_sheet_lists_each_answer_to_mark_as_written_by_student_name(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    hand_in(client, demo.codes[2], {DESCRIBE: "Grace's place."})
    hand_in(client, demo.codes[0], {DESCRIBE: ESSAY, "short-plural": "children"})
    hand_in(client, demo.codes[1], {DESCRIBE: "   "})  # blank: scores 0, needs nobody's time

    [item] = sheet(client, demo, admin)["items"]
    assert (item["item_id"], item["section_title"], item["max_score"]) == (DESCRIBE, "Short answers", 4)
    assert item["guidance"].startswith("Up to 4 points")
    assert [(a["student_name"], a["answer"], a["mark"]) for a in item["answers"]] == [
        ("Ada Lovelace", ESSAY, None),
        ("Grace Hopper", "Grace's place.", None),
    ]
    assert not any(a["still_sitting"] for a in item["answers"])


def test_a_hand_mark_goes_into_scores_totals_and_the_log(
    client: TestClient, demo: Demo, admin: dict[str, str], clock: FakeClock
) -> None:
    result_id = hand_in(client, demo.codes[0], {DESCRIBE: ESSAY, "short-plural": "children"})
    [before] = results(client, demo, admin)
    assert (short(before)["score"], short(before)["hand_marks_needed"], short(before)["hand_marks_done"]) == (1, 1, 0)
    assert short(before)["needs_manual"] is True
    total_before = before["marks"]["total"]

    clock.advance(60)
    given = mark(client, admin, result_id, 3.5)
    assert given.status_code == 200, given.text
    out = given.json()
    assert (out["score"], out["max_score"], out["marker"]) == (3.5, 4, "demo-admin")
    assert out["marked_at"].startswith(clock().isoformat()[:19])

    [after] = results(client, demo, admin)
    assert (short(after)["score"], short(after)["needs_manual"], short(after)["hand_marks_done"]) == (4.5, False, 1)
    assert after["marks"]["total"] == total_before + 3.5
    assert after["marks"]["items"][DESCRIBE]["hand_mark"]["marker"] == "demo-admin"
    assert (
        client.get(f"{API}/staff/results/{result_id}", headers=admin).json()["section_scores"]
        == (after["section_scores"])
    )
    [answer] = sheet(client, demo, admin)["items"][0]["answers"]
    assert (answer["mark"]["score"], answer["mark"]["id"]) == (3.5, out["id"])
    log = client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json()
    [entry] = [e for e in log if e["action"] == "hand_mark"]
    assert entry["student_name"] == "Ada Lovelace"
    assert {k: entry["detail"][k] for k in ("item_id", "score", "max_score", "previous_score")} == {
        "item_id": DESCRIBE,
        "score": 3.5,
        "max_score": 4,
        "previous_score": None,
    }


def test_a_re_mark_changes_the_score_and_the_log_keeps_both(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    result_id = hand_in(client, demo.codes[0], {DESCRIBE: ESSAY})
    first = mark(client, admin, result_id, 2).json()
    second = mark(client, admin, result_id, 3, replaces=first["id"])
    assert second.status_code == 200, second.text
    [result] = results(client, demo, admin)
    assert short(result)["score"] == 3
    log = client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json()
    marks = [(e["detail"]["score"], e["detail"]["previous_score"]) for e in log if e["action"] == "hand_mark"]
    assert sorted(marks, key=str) == sorted([(2, None), (3, 2)], key=str)


def test_a_second_marker_who_has_not_seen_the_first_mark_is_refused(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    teacher = role_headers(client, store, school_id=demo.school_id, role="teacher")
    result_id = hand_in(client, demo.codes[0], {DESCRIBE: ESSAY})
    seen = sheet(client, demo, teacher)["items"][0]["answers"][0]["mark"]  # the teacher opens it: no mark yet
    assert seen is None
    assert mark(client, admin, result_id, 4).status_code == 200
    late = mark(client, teacher, result_id, 1, replaces=None)
    assert late.status_code == 409
    assert late.json()["error"] == "marked_meanwhile"
    message = late.json()["message"]
    assert message.startswith("Your mark (1) was not saved: demo-admin marked Ada Lovelace's answer")
    assert "4 of 4" in message
    assert short(results(client, demo, admin)[0])["score"] == 4, "the first mark stands"


@pytest.mark.parametrize(
    ("score", "item", "status", "words"),
    [
        (5, DESCRIBE, 422, "5 is more than item 'short-describe' is worth: give a score from 0 to 4"),
        (-1, DESCRIBE, 422, "score: is -1; it must be at least 0"),
        ("three", DESCRIBE, 422, "score:"),
        (1.255, DESCRIBE, 422, "at most two decimals"),
        (1, "short-plural", 422, "is a short-answer item, marked automatically"),
        (1, "no-such-item", 404, "has no item 'no-such-item'"),
    ],
)
def test_a_bad_mark_is_refused_in_words_and_changes_nothing(
    client: TestClient, demo: Demo, admin: dict[str, str], score: object, item: str, status: int, words: str
) -> None:
    result_id = hand_in(client, demo.codes[0], {DESCRIBE: ESSAY})
    reply = mark(client, admin, result_id, score, item=item)
    assert reply.status_code == status, reply.text
    assert words in reply.json()["message"]
    assert short(results(client, demo, admin)[0])["hand_marks_done"] == 0
    log = client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json()
    assert not [e for e in log if e["action"] == "hand_mark"]


def test_a_student_still_sitting_is_not_marked_yet(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    result_id = hand_in(client, demo.codes[0], {DESCRIBE: ESSAY}, final=False)
    [answer] = sheet(client, demo, admin)["items"][0]["answers"]
    assert answer["still_sitting"] is True
    reply = mark(client, admin, result_id, 2)
    assert (reply.status_code, reply.json()["error"]) == (409, "still_sitting")
    assert "Ada Lovelace is still sitting the test" in reply.json()["message"]


def test_a_blank_answer_and_an_invigilator_are_refused(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    blank = hand_in(client, demo.codes[1], {DESCRIBE: ""})
    reply = mark(client, admin, blank, 1)
    assert (reply.status_code, reply.json()["error"]) == (409, "nothing_to_mark")
    answered = hand_in(client, demo.codes[0], {DESCRIBE: ESSAY})
    invigilator = role_headers(client, store, school_id=demo.school_id, role="invigilator")
    reply = mark(client, invigilator, answered, 1)
    assert reply.status_code == 403
    assert "admin or teacher" in reply.json()["message"]


def test_manual_dictation_values_are_on_the_tests_scale(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    sitting = client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=admin).json()
    ada = sitting["allocations"][0]["id"]
    url = f"{API}/staff/allocations/{ada}/manual"
    assert client.get(url, headers=admin).json()["dictation_max"] == 10, "the demo's two dictation items of 5"
    for bad in ("8/10", "11", "-1", "eight", "7.125", "nan"):
        reply = client.put(url, json={"typed_dictation": bad}, headers=admin)
        assert reply.status_code == 422, bad
        assert "Typed dictation must be a number from 0 to 10" in reply.json()["message"]
    assert client.get(url, headers=admin).json()["typed_dictation"] is None, "nothing was saved"
    saved = client.put(url, json={"typed_dictation": "08", "written_dictation": "7.5"}, headers=admin).json()
    assert (saved["typed_dictation"], saved["written_dictation"]) == ("8", "7.5")


def test_the_room_says_marked_only_once_every_answer_needing_a_person_is_marked(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    ada = hand_in(client, demo.codes[0], {DESCRIBE: ESSAY, "short-plural": "children"})
    hand_in(client, demo.codes[2], {DESCRIBE: "  ", "short-plural": "children"})  # blank: nothing to mark
    assert state_in_room(client, demo, admin, "Grace Hopper") == "marked"
    assert state_in_room(client, demo, admin, "Ada Lovelace") == "finished_sent", "her essay is not marked yet"

    assert mark(client, admin, ada, 2).status_code == 200
    assert state_in_room(client, demo, admin, "Ada Lovelace") == "marked"
