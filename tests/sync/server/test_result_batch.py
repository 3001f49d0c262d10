"""The batch result route: each envelope stored once by key in one transaction, with a receipt or refusal each."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from sync.protocol import MAX_BATCH_ENVELOPES, AnswerValue, ResultEnvelope
from sync.server.content import load_stored_manifest
from sync.server.models import Assessment, Attempt, Result
from sync.server.result_batch import insert_results
from sync.server.results import NewResults
from sync.server.store import Store
from tests.helpers.clock import START
from tests.helpers.server import API, Demo, bearer, envelope, player_login
from tests.sync.server.test_marking import reference_marks


def send_batch(client: TestClient, login: dict[str, Any], envelopes: list[dict[str, Any]]) -> Any:
    return client.post(
        f"{API}/attempts/{login['attempt_id']}/results/batch",
        json={"envelopes": envelopes},
        headers=bearer(login["attempt_token"]),
    )


def stored_keys(store: Store) -> list[str]:
    with store.transaction() as session:
        return list(session.scalars(select(Result.idempotency_key)))


def test_a_batch_stores_each_envelope_once_and_a_repeat_is_all_duplicates(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    batch = [envelope(login["attempt_id"], {"mc-circles": v}, final=False) for v in "abc"]

    first = send_batch(client, login, batch)
    again = send_batch(client, login, batch)

    assert first.status_code == 200, first.text
    items = first.json()["items"]
    assert [i["idempotency_key"] for i in items] == [e["idempotency_key"] for e in batch]
    assert [(i["status"], i["receipt"]["duplicate"], i["receipt"]["status"]) for i in items] == [
        (200, False, "marked")
    ] * 3
    repeat = again.json()["items"]
    assert [i["receipt"]["duplicate"] for i in repeat] == [True, True, True]
    assert [i["receipt"]["result_id"] for i in repeat] == [i["receipt"]["result_id"] for i in items]
    assert sorted(stored_keys(store)) == sorted(e["idempotency_key"] for e in batch)


def test_one_conflicting_envelope_is_refused_alone_and_the_others_are_stored(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    taken = envelope(login["attempt_id"], {"mc-circles": "a"}, final=False)
    assert send_batch(client, login, [taken]).status_code == 200
    forged = {**taken, "answers": []}  # the same key with different answers
    other = envelope("someone-elses-attempt", {"mc-circles": "b"}, final=False)
    good = envelope(login["attempt_id"], {"mc-circles": "c"}, final=False)

    reply = send_batch(client, login, [forged, other, good, good])

    assert reply.status_code == 200, reply.text
    conflict, wrong, stored, repeated = reply.json()["items"]
    assert (conflict["status"], conflict["error"]["error"]) == (409, "idempotency_conflict")
    assert taken["idempotency_key"] in conflict["error"]["message"]
    assert (wrong["status"], wrong["error"]["error"]) == (422, "wrong_attempt")
    assert (stored["status"], stored["receipt"]["duplicate"]) == (200, False)
    assert (repeated["status"], repeated["receipt"]["duplicate"]) == (200, True), "the same key twice in one batch"
    assert sorted(stored_keys(store)) == sorted([taken["idempotency_key"], good["idempotency_key"]])


def test_a_batch_too_big_or_empty_is_refused_naming_the_limit(client: TestClient, demo: Demo, store: Store) -> None:
    login = player_login(client, demo.codes[0])
    many = [envelope(login["attempt_id"], {"mc-circles": "a"}, final=False) for _ in range(MAX_BATCH_ENVELOPES + 1)]

    too_big = send_batch(client, login, many)
    empty = send_batch(client, login, [])

    assert too_big.status_code == 422
    assert "envelopes" in too_big.json()["message"]
    assert str(MAX_BATCH_ENVELOPES) in too_big.json()["message"]
    assert empty.status_code == 422
    assert stored_keys(store) == []


def test_a_batch_with_another_attempts_token_is_refused_whole(client: TestClient, demo: Demo, store: Store) -> None:
    ada = player_login(client, demo.codes[0], machine="pc-1")
    grace = player_login(client, demo.codes[1], machine="pc-2")
    reply = client.post(
        f"{API}/attempts/{ada['attempt_id']}/results/batch",
        json={"envelopes": [envelope(ada["attempt_id"], {"mc-circles": "a"})]},
        headers=bearer(grace["attempt_token"]),
    )
    assert reply.status_code == 404
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Result)) == 0


def raw_rows(store: Store) -> dict[str, Any]:
    """Every stored result as the database holds it (the JSON as its text, not through the ORM's types), by key."""
    with store.transaction() as session:
        rows = session.execute(
            text(
                "SELECT idempotency_key, attempt_id, CAST(body AS TEXT) AS body, received_at, status, error, "
                "CAST(marks AS TEXT) AS marks, marks IS NULL, marked_at FROM results"
            )
        )
        return {row[0]: row for row in rows}


def test_a_batch_stores_each_row_as_the_single_route_does(client: TestClient, demo: Demo, store: Store) -> None:
    login = player_login(client, demo.codes[0])
    answer_sets = [{"mc-circles": "b", "short-plural": "children"}, {"dict-cat": "the cat"}, {}]
    alone = [envelope(login["attempt_id"], answers, final=False) for answers in answer_sets]
    together = [{**e, "idempotency_key": str(uuid.uuid4())} for e in alone]
    for one in alone:
        reply = client.post(
            f"{API}/attempts/{login['attempt_id']}/results", json=one, headers=bearer(login["attempt_token"])
        )
        assert reply.status_code == 200, reply.text
    assert send_batch(client, login, together).status_code == 200

    rows = raw_rows(store)
    for one, batched in zip(alone, together, strict=True):
        single, batch = rows[one["idempotency_key"]], rows[batched["idempotency_key"]]
        assert json.loads(batch.body) == {**json.loads(single.body), "idempotency_key": batched["idempotency_key"]}
        # Same clock, same text: the times are stored in the column's own format.
        assert (batch.received_at, batch.marked_at) == (single.received_at, single.marked_at)
        assert (batch.status, batch.error) == (single.status, single.error)
        assert batch[7] == single[7], "no marks is SQL NULL either way (not the JSON text 'null')"
        assert batch.marks is None or json.loads(batch.marks) == json.loads(single.marks)


def test_a_batch_marks_each_result_as_the_models_did(client: TestClient, demo: Demo, store: Store) -> None:
    login = player_login(client, demo.codes[0])
    answers: dict[str, AnswerValue] = {
        "mc-circles": "b",
        "mc-nouns": ["a", "c"],
        "short-describe": "My garden.",
        "dict-cat": "the cat sat",
    }
    sent = envelope(login["attempt_id"], answers, final=False)
    [item] = send_batch(client, login, [sent]).json()["items"]
    assert item["receipt"]["status"] == "marked"
    with store.transaction() as session:
        manifest = load_stored_manifest(session.scalars(select(Assessment.manifest_json)).one())
    stored = json.loads(raw_rows(store)[sent["idempotency_key"]].marks)
    assert json.dumps(stored) == json.dumps(reference_marks(manifest, answers))


def test_an_envelope_twice_in_one_batch_with_other_answers_is_a_conflict_for_the_second(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    first = envelope(login["attempt_id"], {"mc-circles": "a"}, final=False)
    same_later = {**first, "finished_at": first["finished_at"].replace("+00:00", ".999+00:00")}
    changed = {**first, "answers": []}

    reply = send_batch(client, login, [first, same_later, changed])

    stored, repeat, conflict = reply.json()["items"]
    assert (stored["status"], repeat["status"], conflict["status"]) == (200, 200, 409)
    assert repeat["receipt"] == {**stored["receipt"], "duplicate": True}, "a time within the same second is the same"
    assert conflict["error"]["error"] == "idempotency_conflict"
    assert stored_keys(store) == [first["idempotency_key"]]


def test_a_final_envelope_in_a_batch_finishes_the_attempt_and_frees_the_machine(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    part = envelope(login["attempt_id"], {"mc-circles": "a"}, final=False)
    last = envelope(login["attempt_id"], {"dict-cat": "the cat"}, final=True)
    assert send_batch(client, login, [part, last]).status_code == 200
    with store.transaction() as session:
        attempt = session.get(Attempt, login["attempt_id"])
        assert attempt is not None
        assert attempt.finished_at == datetime.fromisoformat(last["finished_at"])
        assert attempt.machine_id is None


def test_new_result_ids_are_uuids_that_grow_with_time(client: TestClient, demo: Demo, store: Store) -> None:
    login = player_login(client, demo.codes[0])
    before = time.time_ns() // 1_000_000
    items = send_batch(client, login, [envelope(login["attempt_id"], {}, final=False) for _ in range(3)]).json()
    after = time.time_ns() // 1_000_000
    for item in items["items"]:
        made = uuid.UUID(item["receipt"]["result_id"])
        assert (made.version, made.variant) == (7, uuid.RFC_4122)
        # The first 48 bits are the milliseconds it was made at, so a batch's rows append to the index.
        assert before <= made.int >> 80 <= after


@pytest.mark.sqlite_only  # the driver path is SQLite's alone
def test_rows_handed_to_the_driver_are_stored_as_sqlalchemy_would_store_them(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    answer_sets: list[dict[str, AnswerValue]] = [{"mc-circles": "b"}, {"mc-circles": "c"}]
    keys: dict[bool, list[str]] = {}
    with store.transaction() as session:
        attempt = session.get(Attempt, login["attempt_id"])
        assert attempt is not None
        accepting = NewResults(session, attempt, now=START)
        for through_driver in (True, False):
            marked, unmarked = (
                accepting.accept(ResultEnvelope.model_validate(envelope(attempt.id, answers, final=False)))
                for answers in answer_sets
            )
            # As marking against a damaged package leaves it (answers are checked before they are marked).
            failed = unmarked._replace(status="marking_failed", error="damaged", marks_json=None, marked_at=None)
            rows = [marked, failed]
            insert_results(session, rows, now=START, through_driver=through_driver)
            keys[through_driver] = [row.idempotency_key for row in rows]
    raw = raw_rows(store)
    for driver_key, core_key in zip(keys[True], keys[False], strict=True):
        driver, core = raw[driver_key], raw[core_key]
        assert driver[3:] == core[3:], "the same text in every column, NULL where the other has NULL"
        assert json.loads(driver.body) == {**json.loads(core.body), "idempotency_key": driver_key}
    assert raw[keys[True][1]].marks is None


def test_the_api_description_gives_the_batch_body_and_every_schema_it_refers_to(client: TestClient) -> None:
    spec = client.get(f"{API}/openapi.json").json()
    body = spec["paths"][f"{API}/attempts/{{attempt_id}}/results/batch"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema["properties"]["envelopes"]["maxItems"] == MAX_BATCH_ENVELOPES
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(schema)))
    assert refs == {"ResultEnvelope"}
    assert refs <= set(spec["components"]["schemas"])


def test_a_batch_that_is_not_json_is_refused_as_an_invalid_request(client: TestClient, demo: Demo) -> None:
    login = player_login(client, demo.codes[0])
    reply = client.post(
        f"{API}/attempts/{login['attempt_id']}/results/batch",
        content=b'{"envelopes": [',
        headers={**bearer(login["attempt_token"]), "Content-Type": "application/json"},
    )
    assert reply.status_code == 422
    assert reply.json()["error"] == "invalid_request"
    assert "JSON" in reply.json()["message"]


def test_another_attempts_batch_is_a_404_whatever_its_body(client: TestClient, demo: Demo) -> None:
    ada = player_login(client, demo.codes[0], machine="pc-1")
    grace = player_login(client, demo.codes[1], machine="pc-2")
    for body in (b"", b"not json", b'{"envelopes": []}'):
        reply = client.post(
            f"{API}/attempts/{ada['attempt_id']}/results/batch",
            content=body,
            headers={**bearer(grace["attempt_token"]), "Content-Type": "application/json"},
        )
        assert reply.status_code == 404, (body, reply.text)
    own = client.post(
        f"{API}/attempts/{grace['attempt_id']}/results/batch",
        content=b'{"envelopes": []}',
        headers={**bearer(grace["attempt_token"]), "Content-Type": "application/json"},
    )
    assert (own.status_code, own.json()["error"]) == (422, "invalid_request")
    assert "envelopes" in own.json()["message"]
