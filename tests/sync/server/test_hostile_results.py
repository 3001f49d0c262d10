"""Hostile results against the real app: answers checked against their items, and a bad envelope refused alone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from sync.protocol import MAX_ANSWER_CHARS, MAX_BATCH_ENVELOPES
from sync.server.models import Result
from sync.server.store import Store
from tests.helpers.server import API, Demo, bearer, envelope, player_login


def post_json(client: TestClient, url: str, body: Any, headers: dict[str, str]) -> Any:
    """POST `body` as JSON written by `json.dumps`: a lone surrogate goes as the escape "\\ud800", as a hostile
    client can send it (a client library would refuse to encode it)."""
    return client.post(url, content=json.dumps(body).encode(), headers={**headers, "Content-Type": "application/json"})


def result_count(store: Store) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Result)) or 0)


def send_one(client: TestClient, login: dict[str, Any], body: dict[str, Any]) -> Any:
    url = f"{API}/attempts/{login['attempt_id']}/results"
    return post_json(client, url, body, bearer(login["attempt_token"]))


def send_batch(client: TestClient, login: dict[str, Any], envelopes: Any, **headers: str) -> Any:
    url = f"{API}/attempts/{login['attempt_id']}/results/batch"
    return post_json(client, url, {"envelopes": envelopes}, bearer(login["attempt_token"]) | headers)


# ---- answers checked against the item they answer ---------------------------------------------------

REFUSED_ANSWERS = [
    # (answers, error, words the message must hold)
    ({"short-plural": "x" * 50_000}, "answer_too_long", ["item short-plural", "50,000 characters", "at most 40"]),
    ({"short-describe": "x" * 1501}, "answer_too_long", ["item short-describe", "at most 1,500", "shorten"]),
    ({"mc-circles": "z"}, "not_an_option", ["item mc-circles", "option 'z'", "(a, b, c)"]),
    ({"mc-circles": ["a"]}, "wrong_answer_shape", ["item mc-circles", "single choice", "one option id"]),
    ({"mc-nouns": ["a", "a"]}, "not_an_option", ["item mc-nouns", "option a twice"]),
    ({"mc-nouns": ["a", "e"]}, "not_an_option", ["item mc-nouns", "option 'e'", "(a, b, c, d)"]),
    ({"mc-nouns": "a"}, "wrong_answer_shape", ["item mc-nouns", "a list of option ids"]),
    ({"dict-cat": ["the", "cat"]}, "wrong_answer_shape", ["item dict-cat", "text, not a list"]),
    ({"no-such-item": "x"}, "unknown_item", ["item 'no-such-item'", "does not have"]),
    ({"mc-circles": "a\x00"}, "not_an_option", ["item mc-circles", "option 'a\\x00'", "(a, b, c)"]),
    ({"mc-nouns": ["a", "\x00"]}, "not_an_option", ["item mc-nouns", "option '\\x00'"]),
]


@pytest.mark.parametrize(("answers", "error", "words"), REFUSED_ANSWERS)
def test_an_answer_that_does_not_fit_its_item_is_refused_and_nothing_is_stored(
    client: TestClient, demo: Demo, store: Store, answers: dict[str, Any], error: str, words: list[str]
) -> None:
    login = player_login(client, demo.codes[0])
    reply = send_one(client, login, envelope(login["attempt_id"], answers))
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == error
    message = reply.json()["message"]
    assert all(word in message for word in words), message
    assert "nothing was stored" in message.lower()
    assert len(reply.text) < 1000, "the refusal does not echo the answer back"
    assert result_count(store) == 0


def test_an_answer_at_its_items_limit_and_every_real_option_is_stored(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    answers = {"short-plural": "x" * 40, "mc-nouns": ["d", "a"], "mc-circles": "c", "mc-opposite": "d"}
    reply = send_one(client, login, envelope(login["attempt_id"], answers))
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "marked"
    assert result_count(store) == 1


def test_sections_and_items_must_exist_in_the_envelopes_own_sections(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    cases = [
        ({**envelope(login["attempt_id"], {}), "section_ids": ["mc", "nope"]}, "unknown_section", "section 'nope'"),
        ({**envelope(login["attempt_id"], {}), "section_ids": []}, "unknown_section", "name no section"),
        ({**envelope(login["attempt_id"], {}), "section_ids": ["mc", "mc"]}, "unknown_section", "mc twice"),
        (
            {**envelope(login["attempt_id"], {"short-plural": "geese"}), "section_ids": ["mc"]},
            "unknown_item",
            "item short-plural of section short, but name only the sections mc",
        ),
    ]
    twice = envelope(login["attempt_id"], {"mc-circles": "a"})
    twice["answers"] = twice["answers"] * 2
    cases.append((twice, "answered_twice", "Item mc-circles is answered twice"))
    for body, error, words in cases:
        reply = send_one(client, login, body)
        assert (reply.status_code, reply.json()["error"]) == (422, error), reply.text
        assert words in reply.json()["message"]
    assert result_count(store) == 0


def test_an_answer_longer_than_any_item_accepts_is_refused_on_the_wire(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    reply = send_one(client, login, envelope(login["attempt_id"], {"short-describe": "x" * (MAX_ANSWER_CHARS + 1)}))
    assert reply.status_code == 422
    assert reply.json()["message"] == (
        f"The request is not valid: answers.0.value: is {MAX_ANSWER_CHARS + 1:,} characters long; "
        f"at most {MAX_ANSWER_CHARS:,} characters are accepted; shorten it."
    )
    assert result_count(store) == 0


def test_an_answer_holding_nul_is_stored_and_marked_as_written(
    client: TestClient, demo: Demo, store: Store, admin: dict[str, str]
) -> None:
    # Answers are kept as JSON, which holds U+0000 on both engines: a student's result is never refused for one.
    login = player_login(client, demo.codes[0])
    answers = {"short-plural": "geese\x00", "short-describe": "It was\x00 dark.", "dict-cat": "\x00the cat"}
    reply = send_one(client, login, envelope(login["attempt_id"], answers))
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "marked"
    assert result_count(store) == 1
    sheet = client.get(f"{API}/staff/sittings/{demo.sitting_id}/hand-marking", headers=admin).json()
    written = [a["answer"] for item in sheet["items"] if item["item_id"] == "short-describe" for a in item["answers"]]
    assert written == ["It was\x00 dark."]
    result = client.get(f"{API}/staff/results/{reply.json()['result_id']}", headers=admin).json()
    assert result["status"] == "marked"
    assert result["marks"]["items"]["short-plural"]["score"] == 0  # "geese" with a NUL is not "geese"


def test_an_answer_holding_nul_in_a_batch_is_stored(client: TestClient, demo: Demo, store: Store) -> None:
    login = player_login(client, demo.codes[0])
    reply = send_batch(client, login, [envelope(login["attempt_id"], {"short-describe": "\x00"})])
    assert reply.status_code == 200, reply.text
    assert [item["status"] for item in reply.json()["items"]] == [200]
    assert result_count(store) == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda e: e["answers"][0].update(item_id="mc-circles\x00"), "answers.0.item_id: contains a NUL character"),
        (lambda e: e.update(section_ids=["mc", "\x00"]), "section_ids.1: contains a NUL character (U+0000"),
        (lambda e: e.update(attempt_id="\x00"), "attempt_id: contains a NUL character"),
        (lambda e: e["answers"][0].update(value="\ud800"), "answers.0.value: is not valid Unicode text"),
        (lambda e: e["answers"][0].update(item_id="mc\udfff"), "answers.0.item_id: is not valid Unicode text"),
        (lambda e: e.update(section_ids=["\ud800"]), "section_ids.0: is not valid Unicode text"),
        (lambda e: e.update(attempt_id="\ud800"), "attempt_id: is not valid Unicode text"),
        (lambda e: e["answers"][0].update(answered_at="2027-03-01T09:00:00"), "answered_at: has no time zone; add"),
        (lambda e: e.update(finished_at="0001-01-01T00:30:00+01:00"), "finished_at: is too close to the year 1"),
        (lambda e: e.update(finished_at="9999-12-31T23:00:00-05:00"), "finished_at: is too close to the year 1"),
        (lambda e: e["answers"][0].update(value=2**63), "answers.0.value: must be text or a list of option ids"),
    ],
)
def test_hostile_fields_of_a_result_are_refused_with_a_message_and_nothing_is_stored(
    client: TestClient, demo: Demo, store: Store, change: Any, words: str
) -> None:
    login = player_login(client, demo.codes[0])
    body = envelope(login["attempt_id"], {"mc-circles": "a"})
    change(body)
    reply = send_one(client, login, body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == "invalid_request"
    assert words in reply.json()["message"]
    assert result_count(store) == 0


# ---- the batch: a bad envelope is refused alone -----------------------------------------------------


def test_in_a_batch_each_bad_envelope_gets_its_own_refusal_and_the_rest_are_stored(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    good = [envelope(login["attempt_id"], {"mc-circles": v}, final=False) for v in "abc"]
    surrogate = envelope(login["attempt_id"], {"short-plural": "\ud800"}, final=False)
    naive = envelope(login["attempt_id"], {"mc-circles": "a"}, final=False)
    naive["finished_at"] = "2027-03-01T09:30:00"
    overflowing = envelope(login["attempt_id"], {"mc-circles": "a"}, final=False)
    overflowing["answers"][0]["answered_at"] = "0001-01-01T00:00:00+01:00"
    too_long = envelope(login["attempt_id"], {"short-plural": "x" * 41}, final=False)
    batch = [good[0], surrogate, good[1], naive, overflowing, too_long, good[2]]

    reply = send_batch(client, login, batch)

    assert reply.status_code == 200, reply.text
    items = reply.json()["items"]
    assert [i["idempotency_key"] for i in items] == [e["idempotency_key"] for e in batch]
    assert [i["status"] for i in items] == [200, 422, 200, 422, 422, 422, 200]
    messages = [i["error"]["message"] for i in items if i["error"]]
    assert messages[0] == (
        "These results are not valid: answers.0 (item short-plural).value: is not valid Unicode text (it holds a "
        "lone surrogate such as \\ud800); send the text as UTF-8. Nothing of them was stored; the rest of the "
        "batch was."
    )
    assert "finished_at: has no time zone; add one" in messages[1]
    assert "answers.0 (item mc-circles).answered_at: is too close to the year 1 or 9999" in messages[2]
    assert items[5]["error"]["error"] == "answer_too_long"
    assert "at most 40" in messages[3]
    with store.transaction() as session:
        stored = set(session.scalars(select(Result.idempotency_key)))
    assert stored == {e["idempotency_key"] for e in good}


def test_an_all_good_batch_after_a_refused_one_is_stored_as_usual(client: TestClient, demo: Demo, store: Store) -> None:
    login = player_login(client, demo.codes[0])
    bad = envelope(login["attempt_id"], {"mc-circles": "\udc00"}, final=False)
    assert send_batch(client, login, [bad]).json()["items"][0]["status"] == 422
    good = envelope(login["attempt_id"], {"mc-circles": "b"}, final=False)
    assert send_batch(client, login, [good]).json()["items"][0]["receipt"]["status"] == "marked"
    assert result_count(store) == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json at all", "request body: is not valid JSON"),
        (b'["an", "array"]', "request body: must be a JSON object"),
        (b'{"envelopes": "none"}', "envelopes: Input should be a valid array"),
        (b'{"envelopes": []}', "envelopes: List should have at least 1 item"),
        (b'{"envelopes": [], "extra": 1}', "extra: is not a field of this request"),
        (b'{"envelopes": [7]}', "envelopes.0: Input should be a valid dictionary"),
        (b'{"envelopes": [{"idempotency_key": "\\ud800"}]}', "envelopes.0.idempotency_key: is not valid Unicode"),
        (b'{"envelopes": [{"idempotency_key": 5}]}', "envelopes.0.idempotency_key: Input should be a valid string"),
        (b'\xff\xfe{"envelopes": []}', "request body: is not valid JSON"),
        (b"[" * 100_000, "request body: is not valid JSON"),
    ],
)
def test_a_batch_whose_outer_shape_is_wrong_is_refused_whole(
    client: TestClient, demo: Demo, store: Store, body: bytes, words: str
) -> None:
    login = player_login(client, demo.codes[0])
    reply = client.post(
        f"{API}/attempts/{login['attempt_id']}/results/batch",
        content=body,
        headers=bearer(login["attempt_token"]) | {"Content-Type": "application/json"},
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == "invalid_request"
    assert words in reply.json()["message"], reply.json()["message"]
    assert result_count(store) == 0


def test_a_batch_of_too_many_envelopes_is_refused_whole(client: TestClient, demo: Demo, store: Store) -> None:
    login = player_login(client, demo.codes[0])
    many = [envelope(login["attempt_id"], {}, final=False) for _ in range(MAX_BATCH_ENVELOPES + 1)]
    many[0]["answers"] = "broken"  # also a bad envelope: the count is what the refusal is about
    reply = send_batch(client, login, many)
    assert reply.status_code == 422
    assert f"envelopes: has too many entries; at most {MAX_BATCH_ENVELOPES}" in reply.json()["message"]
    assert result_count(store) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_batch_not_sent_as_json_is_refused_with_415(
    client: TestClient, demo: Demo, store: Store, content_type: str | None
) -> None:
    login = player_login(client, demo.codes[0])
    headers = bearer(login["attempt_token"]) | ({"Content-Type": content_type} if content_type else {})
    body = json.dumps({"envelopes": [envelope(login["attempt_id"], {"mc-circles": "a"})]}).encode()
    reply = client.post(f"{API}/attempts/{login['attempt_id']}/results/batch", content=body, headers=headers)
    assert reply.status_code == 415
    assert reply.json()["error"] == "unsupported_media_type"
    assert reply.json()["message"].startswith("Results must be sent as JSON (Content-Type: application/json), not ")
    assert result_count(store) == 0
    json_with_charset = bearer(login["attempt_token"]) | {"Content-Type": "application/json; charset=utf-8"}
    ok = client.post(f"{API}/attempts/{login['attempt_id']}/results/batch", content=body, headers=json_with_charset)
    assert ok.status_code == 200


def test_a_batch_not_sent_as_json_to_another_schools_attempt_is_still_a_404(client: TestClient, demo: Demo) -> None:
    ada = player_login(client, demo.codes[0], machine="pc-1")
    grace = player_login(client, demo.codes[1], machine="pc-2")
    reply = client.post(
        f"{API}/attempts/{ada['attempt_id']}/results/batch",
        content=b"x",
        headers=bearer(grace["attempt_token"]) | {"Content-Type": "text/plain"},
    )
    assert reply.status_code == 404


# ---- rows stored by older servers ------------------------------------------------------------------


def test_a_result_stored_unchecked_by_an_older_server_answers_a_resend_with_409_not_500(
    client: TestClient, demo: Demo, store: Store
) -> None:
    login = player_login(client, demo.codes[0])
    body = envelope(login["attempt_id"], {"mc-circles": "a"})
    assert send_one(client, login, body).status_code == 200
    with store.transaction() as session:  # as an older server stored it: a time without a zone
        held = json.loads(session.scalar(text("SELECT CAST(body AS TEXT) FROM results")))
        held["finished_at"] = "2027-03-01T09:30:00"
        session.execute(text("UPDATE results SET body = :body"), {"body": json.dumps(held)})
    again = send_one(client, login, body)
    batch = send_batch(client, login, [body])
    assert (again.status_code, again.json()["error"]) == (409, "idempotency_conflict")
    assert (batch.json()["items"][0]["status"], batch.json()["items"][0]["error"]["error"]) == (
        409,
        "idempotency_conflict",
    )
    assert result_count(store) == 1
