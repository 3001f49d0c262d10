"""The batch result route: each envelope stored once by key in one transaction, with a receipt or refusal each."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sync.protocol import MAX_BATCH_ENVELOPES
from sync.server.models import Result
from sync.server.store import Store
from tests.sync.server.conftest import API, Demo, bearer, envelope, player_login


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
