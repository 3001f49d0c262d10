"""InvigilClient.submit_results against the real server under uvicorn."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sync.client import InvigilClient, Refused
from sync.protocol import MAX_BATCH_ENVELOPES, AnswerRecord, ResultEnvelope
from tests.helpers.clock import START
from tests.helpers.live_server import LiveServer
from tests.helpers.server import Demo


@pytest.fixture
def player(live_server: LiveServer) -> Iterator[InvigilClient]:
    with InvigilClient(live_server.url, machine_id="pc-1") as client:
        yield client


def envelope(attempt_id: str, value: str) -> ResultEnvelope:
    return ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=attempt_id,
        section_ids=["mc"],
        answers=[AnswerRecord(item_id="mc-circles", value=value, answered_at=START)],
        finished_at=START,
        final=False,
    )


def test_submit_results_gives_one_receipt_per_envelope_in_order(player: InvigilClient, demo: Demo) -> None:
    login = player.login(demo.codes[0])
    sent = [envelope(login.attempt_id, v) for v in "abc"]
    forged = sent[0].model_copy(update={"answers": []})

    first = player.submit_results(login.attempt_id, login.attempt_token, sent)
    second = player.submit_results(login.attempt_id, login.attempt_token, [forged, sent[1]])

    assert [i.idempotency_key for i in first] == [e.idempotency_key for e in sent]
    assert [(i.status, i.receipt.duplicate if i.receipt else None) for i in first] == [(200, False)] * 3
    conflict, repeat = second
    assert (conflict.status, conflict.error.error if conflict.error else None) == (409, "idempotency_conflict")
    assert repeat.receipt is not None
    assert repeat.receipt.duplicate


def test_too_many_envelopes_are_refused_before_anything_is_sent(player: InvigilClient, demo: Demo) -> None:
    login = player.login(demo.codes[0])
    many = [envelope(login.attempt_id, "a") for _ in range(MAX_BATCH_ENVELOPES + 1)]
    with pytest.raises(Refused) as refused:
        player.submit_results(login.attempt_id, login.attempt_token, many)
    assert refused.value.status == 422
    assert "envelopes" in str(refused.value)
    assert str(MAX_BATCH_ENVELOPES) in str(refused.value)
