"""InvigilClient.submit_result_bodies: envelopes held as JSON text go to the real server exactly as they are."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sync.client import BadReply, InvigilClient, Refused
from sync.protocol import MAX_BATCH_ENVELOPES
from tests.helpers.clock import START
from tests.helpers.live_server import LiveServer
from tests.helpers.server import Demo


class RecordingSession(requests.Session):
    """A real session that also keeps the bytes of every request body it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append(kwargs.get("data") or b"")
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def session() -> Iterator[RecordingSession]:
    with RecordingSession() as recording:
        yield recording


@pytest.fixture
def player(live_server: LiveServer, session: RecordingSession) -> InvigilClient:
    return InvigilClient(live_server.url, machine_id="pc-1", session=session)


def stored_text(attempt_id: str, value: str, *, key: str | None = None) -> tuple[str, str]:
    """(key, JSON) as the journal may hold it: its own spacing and key order, which the server need not know."""
    key = key or str(uuid.uuid4())
    text = json.dumps(
        {
            "attempt_id": attempt_id,
            "idempotency_key": key,
            "answers": [{"answered_at": START.isoformat(), "value": value, "item_id": "mc-circles"}],
            "section_ids": ["mc"],
            "finished_at": START.isoformat(),
            "final": False,
        },
        indent=1,
    )
    return key, text


def test_the_stored_text_is_sent_byte_for_byte_and_each_gets_its_receipt(
    player: InvigilClient, session: RecordingSession, demo: Demo
) -> None:
    login = player.login(demo.codes[0])
    bodies = [stored_text(login.attempt_id, v) for v in "abc"]

    items = player.submit_result_bodies(login.attempt_id, login.attempt_token, bodies)

    sent = session.sent[-1]
    assert sent == ('{"envelopes":[' + ",".join(text for _, text in bodies) + "]}").encode()
    assert [i.idempotency_key for i in items] == [key for key, _ in bodies]
    assert [(i.status, i.receipt.duplicate if i.receipt else None) for i in items] == [(200, False)] * 3
    again = player.submit_result_bodies(login.attempt_id, login.attempt_token, bodies[:1])
    assert again[0].receipt is not None
    assert again[0].receipt.duplicate


def test_a_text_that_is_not_an_envelope_gets_its_own_refusal_and_the_others_are_stored(
    player: InvigilClient, demo: Demo
) -> None:
    login = player.login(demo.codes[0])
    good = stored_text(login.attempt_id, "a")
    bad_key, bad = stored_text(login.attempt_id, "b")

    items = player.submit_result_bodies(
        login.attempt_id, login.attempt_token, [good, (bad_key, bad.replace('"final": false', '"final": 7'))]
    )

    stored, refused = items
    assert (stored.status, stored.receipt is not None) == (200, True)
    assert (refused.status, refused.idempotency_key, refused.receipt) == (422, bad_key, None)
    assert refused.error is not None
    assert refused.error.message.startswith("These results are not valid: final: ")
    again = player.submit_result_bodies(login.attempt_id, login.attempt_token, [good])
    assert again[0].receipt is not None
    assert again[0].receipt.duplicate, "the good envelope was stored by the first request"


def test_a_text_whose_key_cannot_be_read_refuses_the_whole_request(player: InvigilClient, demo: Demo) -> None:
    login = player.login(demo.codes[0])
    good = stored_text(login.attempt_id, "a")
    bad_key, bad = stored_text(login.attempt_id, "b")
    with pytest.raises(Refused) as refused:
        # Without its key, the reply for this envelope could not be matched to it: nothing is stored.
        player.submit_result_bodies(
            login.attempt_id, login.attempt_token, [good, (bad_key, bad.replace(f'"{bad_key}"', "7"))]
        )
    assert (refused.value.status, refused.value.error) == (422, "invalid_request")
    assert "envelopes.1.idempotency_key" in str(refused.value)
    first = player.submit_result_bodies(login.attempt_id, login.attempt_token, [good])
    assert first[0].receipt is not None
    assert not first[0].receipt.duplicate, "nothing of the refused request was stored"


def test_receipts_for_other_keys_are_a_reply_the_client_cannot_read(player: InvigilClient, demo: Demo) -> None:
    login = player.login(demo.codes[0])
    key, text = stored_text(login.attempt_id, "a")
    with pytest.raises(BadReply, match="1 receipts for 1 envelopes, or not in order"):
        # The row's key does not match the key inside its JSON (a damaged journal): never marked sent.
        player.submit_result_bodies(login.attempt_id, login.attempt_token, [("some-other-key", text)])
    assert key != "some-other-key"


@pytest.mark.parametrize("count", [0, MAX_BATCH_ENVELOPES + 1])
def test_a_batch_of_no_or_too_many_envelopes_is_refused_before_sending(
    player: InvigilClient, session: RecordingSession, count: int
) -> None:
    with pytest.raises(ValueError, match=f"1 to {MAX_BATCH_ENVELOPES} envelopes, not {count}"):
        player.submit_result_bodies("attempt", "token", [stored_text("attempt", "a")] * count)
    assert session.sent == []
