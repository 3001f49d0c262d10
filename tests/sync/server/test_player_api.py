"""The player API after login: media by hash, checkpoints, heartbeats, results (idempotent) and marking."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sync.server.models import Assessment
from sync.server.store import Store
from tests.helpers.clock import START
from tests.helpers.server import API, Demo, bearer, envelope, player_login

# The demo's answer key for the automatically marked items.
GOOD = {"mc-circles": "b", "short-plural": "children"}


def media_hashes(login: dict[str, Any]) -> list[str]:
    return [m["sha256"] for s in login["assessment"]["sections"] for i in s["items"] for m in i["media"]]


def results_of(client: TestClient, admin: dict[str, str], demo: Demo) -> list[dict[str, Any]]:
    reply = client.get(f"{API}/staff/sittings/{demo.sitting_id}/results", headers=admin)
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, Any]] = reply.json()
    return rows


# ---- media ------------------------------------------------------------------------------------


def test_media_is_served_by_content_hash_and_cached_forever(client: TestClient, demo: Demo) -> None:
    login = player_login(client, demo.codes[0])
    sha = media_hashes(login)[0]
    url = f"{API}/attempts/{login['attempt_id']}/media/{sha}"
    reply = client.get(url, headers=bearer(login["attempt_token"]))
    assert reply.status_code == 200
    assert hashlib.sha256(reply.content).hexdigest() == sha
    assert reply.headers["etag"] == f'"{sha}"'
    assert "immutable" in reply.headers["cache-control"]
    again = client.get(url, headers={**bearer(login["attempt_token"]), "If-None-Match": f'"{sha}"'})
    assert again.status_code == 304
    assert again.content == b""


def test_media_needs_the_attempt_token(client: TestClient, demo: Demo) -> None:
    login = player_login(client, demo.codes[0])
    url = f"{API}/attempts/{login['attempt_id']}/media/{media_hashes(login)[0]}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer("not-a-token")).status_code == 401


def test_media_outside_the_attempts_assessment_is_not_found(client: TestClient, demo: Demo) -> None:
    login = player_login(client, demo.codes[0])
    other = hashlib.sha256(b"some other package's picture").hexdigest()
    reply = client.get(f"{API}/attempts/{login['attempt_id']}/media/{other}", headers=bearer(login["attempt_token"]))
    assert reply.status_code == 404
    assert reply.json()["error"] == "not_found"


# ---- checkpoints and heartbeats ---------------------------------------------------------------


def checkpoint(item: str, minutes: int) -> dict[str, Any]:
    return {
        "section_id": "mc",
        "item_id": item,
        "remaining_seconds": 600 - minutes * 60,
        "taken_at": (START + timedelta(minutes=minutes)).isoformat(),
    }


def test_a_newer_checkpoint_replaces_an_older_one_and_an_older_one_is_ignored(client: TestClient, demo: Demo) -> None:
    login = player_login(client, demo.codes[0])
    url = f"{API}/attempts/{login['attempt_id']}/checkpoint"
    auth = bearer(login["attempt_token"])
    assert client.put(url, json=checkpoint("mc-circles", 1), headers=auth).status_code == 204
    assert client.put(url, json=checkpoint("mc-nouns", 3), headers=auth).status_code == 204
    assert client.put(url, json=checkpoint("mc-opposite", 2), headers=auth).status_code == 204  # arrived late
    resumed = player_login(client, demo.codes[0])  # the same machine signs in again
    assert resumed["checkpoint"]["item_id"] == "mc-nouns"
    assert resumed["checkpoint"]["remaining_seconds"] == 420


def test_each_play_a_checkpoint_gives_back_is_logged_once_in_the_sittings_log(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    url = f"{API}/attempts/{login['attempt_id']}/checkpoint"
    auth = bearer(login["attempt_token"])
    crash = {
        "item_id": "dict-cat",
        "started_at": (START + timedelta(minutes=1)).isoformat(),
        "reason": "player_stopped",
    }
    pause = {"item_id": "dict-cat", "started_at": (START + timedelta(minutes=2)).isoformat(), "reason": "paused"}

    def send(minutes: int, given_back: list[dict[str, str]]) -> None:
        body = {**checkpoint("mc-circles", minutes), "plays": {"dict-cat": 1}, "plays_given_back": given_back}
        assert client.put(url, json=body, headers=auth).status_code == 204

    send(2, [crash])
    send(3, [crash, pause])  # every checkpoint lists them all: only the new one is logged
    send(3, [crash, pause])  # a repeated delivery
    send(1, [crash, pause, {**pause, "reason": "audio_device"}])  # arrived late: an older checkpoint is ignored

    log = client.get(f"{API}/staff/sittings/{demo.sitting_id}/log", headers=admin).json()
    given_back = [entry for entry in log if entry["action"] == "play_given_back"]
    assert [(e["actor"], e["student_name"], e["detail"]["item_id"], e["detail"]["cause"]) for e in given_back] == [
        ("player", "Ada Lovelace", "dict-cat", "player_stopped"),
        ("player", "Ada Lovelace", "dict-cat", "paused"),
    ]


def test_heartbeats_are_answered_with_instructions(client: TestClient, demo: Demo) -> None:
    login = player_login(client, demo.codes[0])
    reply = client.post(
        f"{API}/attempts/{login['attempt_id']}/heartbeat",
        json={"section_id": "mc", "outbox_depth": 2},
        headers=bearer(login["attempt_token"]),
    )
    assert reply.status_code == 200
    assert reply.json() == {"instructions": []}


def test_a_released_machine_is_cut_off(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    login = player_login(client, demo.codes[0], machine="pc-old")
    sitting = client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=admin).json()
    allocation = next(a for a in sitting["allocations"] if a["student_name"] == "Ada Lovelace")
    released = client.post(
        f"{API}/staff/allocations/{allocation['id']}/release",
        json={"reason_kind": "technical_problem", "reason": "crash"},
        headers=admin,
    )
    assert released.json()["state"] == "released"
    reply = client.post(
        f"{API}/attempts/{login['attempt_id']}/heartbeat", json={}, headers=bearer(login["attempt_token"])
    )
    assert reply.status_code == 401
    assert "invigilator" in reply.json()["message"]
    assert player_login(client, demo.codes[0], machine="pc-new")["attempt_id"] == login["attempt_id"]


# ---- results ----------------------------------------------------------------------------------


def test_the_same_results_sent_twice_are_stored_once(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    login = player_login(client, demo.codes[0])
    body = envelope(login["attempt_id"], GOOD)
    url = f"{API}/attempts/{login['attempt_id']}/results"
    first = client.post(url, json=body, headers=bearer(login["attempt_token"]))
    second = client.post(url, json=body, headers=bearer(login["attempt_token"]))
    assert first.status_code == second.status_code == 200
    assert first.json()["duplicate"] is False
    assert second.json() == {**first.json(), "duplicate": True}
    assert len(results_of(client, admin, demo)) == 1


def test_the_same_key_with_different_answers_is_refused_and_changes_nothing(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    url = f"{API}/attempts/{login['attempt_id']}/results"
    auth = bearer(login["attempt_token"])
    body = envelope(login["attempt_id"], GOOD, final=False)
    assert client.post(url, json=body, headers=auth).status_code == 200
    changed = {**body, "answers": envelope(login["attempt_id"], {"mc-circles": "a"})["answers"]}
    reply = client.post(url, json=changed, headers=auth)
    assert reply.status_code == 409
    assert reply.json()["error"] == "idempotency_conflict"
    assert body["idempotency_key"] in reply.json()["message"]
    [held] = results_of(client, admin, demo)
    assert held["marks"]["items"]["mc-circles"]["score"] == 1


def test_results_are_marked_on_arrival_and_finish_the_attempt(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    auth = bearer(login["attempt_token"])
    receipt = client.post(
        f"{API}/attempts/{login['attempt_id']}/results", json=envelope(login["attempt_id"], GOOD), headers=auth
    ).json()
    assert receipt["status"] == "marked"
    result = client.get(f"{API}/staff/results/{receipt['result_id']}", headers=admin).json()
    assert result["student_name"] == "Ada Lovelace"
    assert result["marks"]["items"]["short-plural"]["score"] == 1
    late = client.put(f"{API}/attempts/{login['attempt_id']}/checkpoint", json=checkpoint("mc-nouns", 5), headers=auth)
    assert late.status_code == 409
    assert late.json()["error"] == "already_finished"
    sitting = client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=admin).json()
    assert {a["student_name"]: a["state"] for a in sitting["allocations"]}["Ada Lovelace"] == "finished"


def test_results_for_another_attempt_in_the_body_are_refused(client: TestClient, demo: Demo) -> None:
    mine = player_login(client, demo.codes[0], machine="pc-1")
    theirs = player_login(client, demo.codes[1], machine="pc-2")
    reply = client.post(
        f"{API}/attempts/{mine['attempt_id']}/results",
        json=envelope(theirs["attempt_id"], GOOD),
        headers=bearer(mine["attempt_token"]),
    )
    assert reply.status_code == 422
    assert reply.json()["error"] == "wrong_attempt"


def damage_package(store: Store, item_id: str) -> str:
    """Rename an item in the stored package, as a damaged copy loaded over it by hand would; returns the original.

    Answers are checked against the package before they are stored, so marking fails only when the package
    changed afterwards (or for rows an older server stored unchecked)."""
    with store.transaction() as session:
        assessment = session.scalars(select(Assessment)).one()
        original = assessment.manifest_json
        damaged = original.replace(f'"id":"{item_id}"', f'"id":"{item_id}-renamed"', 1)
        assert damaged != original
        session.execute(update(Assessment).where(Assessment.id == assessment.id).values(manifest_json=damaged))
    return original


def restore_package(store: Store, manifest_json: str) -> None:
    with store.transaction() as session:
        session.execute(update(Assessment).values(manifest_json=manifest_json))


def test_failed_marking_keeps_the_error_and_remark_retries_once_the_cause_is_gone(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    receipt = client.post(
        f"{API}/attempts/{login['attempt_id']}/results",
        json=envelope(login["attempt_id"], GOOD),
        headers=bearer(login["attempt_token"]),
    ).json()
    assert receipt["status"] == "marked"
    original = damage_package(store, "short-plural")

    failed = client.post(f"{API}/staff/results/{receipt['result_id']}/remark", headers=admin).json()
    assert failed["status"] == "marking_failed"
    assert "short-plural" in failed["error"]
    # While the cause is there, remark says so again (and the stored answers are untouched).
    again = client.post(f"{API}/staff/results/{receipt['result_id']}/remark", headers=admin).json()
    assert again["status"] == "marking_failed"
    assert "short-plural" in again["error"]

    # The operator puts the package right; remark then succeeds.
    restore_package(store, original)
    marked = client.post(f"{API}/staff/results/{receipt['result_id']}/remark", headers=admin).json()
    assert marked["status"] == "marked", marked
    assert marked["error"] is None
    assert "short-plural" in marked["marks"]["items"]
