"""QTI choice counts through the real server: more ticks than maxChoices are refused, fewer than minChoices kept."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sync.server.content import AnyItem, ExtendedTextItem, MultipleChoiceItem, load_stored_manifest
from sync.server.content.scoring_rules import QtiScoring
from sync.server.models import Assessment, Result
from sync.server.store import Store
from tests.helpers.server import API, Demo, bearer, envelope, player_login

# mc-nouns (options a-d, nouns a and c) as a QTI item: at least 1 and at most 2 ticks; river (a) +1.5, happiness
# (c) +0.5, each other word -1, never below 0 (the map_response template). Native partial marking would give
# other scores, so these show the QTI rules decided.
NOUNS_QTI = QtiScoring.model_validate(
    {
        "response": {
            "identifier": "RESPONSE",
            "cardinality": "multiple",
            "base_type": "identifier",
            "correct": ["a", "c"],
            "mapping": {
                "entries": [{"key": k, "value": v} for k, v in {"a": 1.5, "b": -1, "c": 0.5, "d": -1}.items()],
                "lower_bound": 0,
            },
        },
        "outcomes": [{"identifier": "SCORE", "base_type": "float"}],
        "rules": [
            {
                "branches": [
                    {
                        "when": {"op": "is_null", "args": [{"variable": "RESPONSE"}]},
                        "then": [{"set": "SCORE", "value": {"base": "float", "value": 0}}],
                    }
                ],
                "otherwise": [{"set": "SCORE", "value": {"map_response": "RESPONSE"}}],
            }
        ],
        "template": "map_response",
    }
)

# short-describe (extended text, 4 points) with QTI rules: 4 if the text is "the beach" in any case, else 0.
DESCRIBE_QTI = QtiScoring.model_validate(
    {
        "response": {"identifier": "RESPONSE", "cardinality": "single", "base_type": "string"},
        "outcomes": [{"identifier": "SCORE", "base_type": "float"}],
        "rules": [
            {
                "branches": [
                    {
                        "when": {
                            "op": "string_match",
                            "args": [{"variable": "RESPONSE"}, {"base": "string", "value": "the beach"}],
                            "case_sensitive": False,
                        },
                        "then": [{"set": "SCORE", "value": {"base": "float", "value": 4}}],
                    }
                ],
            }
        ],
    }
)


def _as_qti(item: AnyItem) -> AnyItem:
    if isinstance(item, MultipleChoiceItem) and item.id == "mc-nouns":
        return item.model_copy(update={"max_choices": 2, "min_choices": 1, "qti": NOUNS_QTI, "correct": []})
    if isinstance(item, ExtendedTextItem) and item.id == "short-describe":
        return item.model_copy(update={"qti": DESCRIBE_QTI})
    return item


@pytest.fixture
def qti_demo(store: Store, demo: Demo) -> Demo:
    """The demo with mc-nouns a QTI item allowing 1 to 2 ticks and short-describe a QTI-marked extended-text item,
    stored as a package loaded with them would be."""
    with store.transaction() as session:
        assessment = session.scalars(select(Assessment)).one()
        manifest = load_stored_manifest(assessment.manifest_json)
        sections = []
        for section in manifest.sections:
            sections.append(section.model_copy(update={"items": [_as_qti(item) for item in section.items]}))
        changed = manifest.model_copy(update={"sections": sections})
        text = changed.model_dump_json()
        load_stored_manifest(text)  # the stored form passes the load-time checks
        session.execute(
            update(Assessment)
            .where(Assessment.id == assessment.id)
            .values(manifest_json=text, content_hash=changed.content_hash())
        )
    return demo


def results(store: Store) -> list[Result]:
    with store.transaction() as session:
        rows = list(session.scalars(select(Result)))
        session.expunge_all()
        return rows


def send(client: TestClient, login: dict[str, Any], answers: dict[str, Any]) -> Any:
    return client.post(
        f"{API}/attempts/{login['attempt_id']}/results",
        json=envelope(login["attempt_id"], answers),
        headers=bearer(login["attempt_token"]),
    )


def test_ticking_more_options_than_max_choices_is_refused_and_nothing_stored(
    client: TestClient, qti_demo: Demo, store: Store
) -> None:
    login = player_login(client, qti_demo.codes[0])
    item = next(i for s in login["assessment"]["sections"] for i in s["items"] if i["id"] == "mc-nouns")
    assert (item["max_choices"], item["min_choices"]) == (2, 1), "the player is told the limits"

    reply = send(client, login, {"mc-nouns": ["a", "b", "c"], "mc-circles": "b"})

    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == "too_many_choices"
    message = reply.json()["message"]
    assert "item mc-nouns" in message
    assert "ticks 3" in message
    assert "at most 2" in message
    assert "Nothing was stored" in message
    assert results(store) == []


def test_up_to_max_choices_is_marked_by_the_qti_rules_and_fewer_than_min_choices_is_kept(
    client: TestClient, qti_demo: Demo, store: Store
) -> None:
    sent = {
        # mapResponse, lowerBound 0: a alone = 1.5; c and b = 0.5 - 1, bounded to 0; no tick at all is NULL: the
        # template's isNull branch gives 0. Fewer than min_choices is a hint, never a lost answer.
        qti_demo.codes[0]: (["a"], 1.5),
        qti_demo.codes[1]: (["c", "b"], 0.0),
        qti_demo.codes[2]: ([], 0.0),
    }
    attempts = {}
    for code, (ticks, _) in sent.items():
        login = player_login(client, code)
        reply = send(client, login, {"mc-nouns": ticks})
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "marked"
        attempts[login["attempt_id"]] = code

    stored = {attempts[r.attempt_id]: r.marks for r in results(store)}
    assert len(stored) == 3
    for code, (_, score) in sent.items():
        marks = stored[code]
        assert marks is not None
        assert marks["items"]["mc-nouns"]["score"] == score
        assert marks["items"]["mc-nouns"]["max_score"] == 2.0


def test_an_extended_text_item_with_qti_rules_is_marked_by_them_and_never_by_hand(
    client: TestClient, qti_demo: Demo, store: Store, admin: dict[str, str]
) -> None:
    login = player_login(client, qti_demo.codes[0])
    reply = send(client, login, {"short-describe": "  The   BEACH "})
    assert reply.status_code == 200, reply.text
    [result] = results(store)
    assert result.marks is not None
    described = result.marks["items"]["short-describe"]
    assert (described["score"], described["needs_manual"]) == (4.0, False), "typed text normalised, case folded"
    assert result.marks["sections"]["short"]["needs_manual"] is False

    sheet = client.get(f"{API}/staff/sittings/{qti_demo.sitting_id}/hand-marking", headers=admin)
    assert sheet.status_code == 200, sheet.text
    assert sheet.json()["items"] == [], "nothing waits for a person"
    by_hand = client.put(
        f"{API}/staff/results/{result.id}/hand-marks/short-describe",
        json={"score": 1, "replaces": None},
        headers=admin,
    )
    assert by_hand.status_code == 422, by_hand.text
    assert by_hand.json()["error"] == "not_hand_marked"
    assert "QTI scoring rules" in by_hand.json()["message"]


# A QTI item whose SCORE has defaultValue 1 and no rule: it scores 1 answered or not (QTI 2.1, 5.1: an outcome no
# rule sets keeps its default).
ALWAYS_ONE = QtiScoring.model_validate(
    {
        "response": {"identifier": "RESPONSE", "cardinality": "single", "base_type": "string"},
        "outcomes": [{"identifier": "SCORE", "base_type": "float", "default": 1}],
    }
)


def test_a_blank_qti_default_counts_in_its_own_sections_result_only(
    client: TestClient, qti_demo: Demo, store: Store
) -> None:
    with store.transaction() as session:
        assessment = session.scalars(select(Assessment)).one()
        manifest = load_stored_manifest(assessment.manifest_json)
        short = manifest.sections[1]
        items = [i.model_copy(update={"qti": ALWAYS_ONE}) if i.id == "short-plural" else i for i in short.items]
        sections = [*manifest.sections[:1], short.model_copy(update={"items": items}), *manifest.sections[2:]]
        changed = manifest.model_copy(update={"sections": sections})
        session.execute(update(Assessment).values(manifest_json=changed.model_dump_json()))
    login = player_login(client, qti_demo.codes[0])

    def section_result(section_id: str, answers: dict[str, Any]) -> dict[str, Any]:
        body = envelope(login["attempt_id"], answers) | {"section_ids": [section_id]}
        reply = client.post(
            f"{API}/attempts/{login['attempt_id']}/results", json=body, headers=bearer(login["attempt_token"])
        )
        assert reply.status_code == 200, reply.text
        [stored] = [r for r in results(store) if r.body["section_ids"] == [section_id]]
        assert stored.marks is not None
        return stored.marks

    first = section_result("mc", {"mc-circles": "b"})
    assert (first["items"]["short-plural"]["score"], first["sections"]["short"]["score"]) == (0.0, 0.0)
    assert first["total"] == first["sections"]["mc"]["score"] == 1.0, "section 2's default is not section 1's"
    second = section_result("short", {})
    assert (second["items"]["short-plural"]["score"], second["sections"]["short"]["score"]) == (1.0, 1.0)
    assert second["total"] == 1.0
