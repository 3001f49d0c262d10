"""The canonical body digest: the same bytes as the model-copy form for every envelope, uploaded or typed in."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from sync import protocol
from sync.server.result_digest import body_digest, canonical, canonical_json

ZONES = st.one_of(
    st.just(UTC),
    st.builds(lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60)),
)
MOMENTS = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1)),
    ZONES,
)
TEXT = st.text(max_size=12)
ID_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
"""Ids never hold U+0000 (the wire refuses it); answers may."""


@st.composite
def envelopes(draw: st.DrawFn) -> protocol.ResultEnvelope:
    answers = draw(
        st.lists(
            st.builds(
                protocol.AnswerRecord,
                item_id=ID_TEXT,
                value=st.one_of(TEXT, st.lists(TEXT, max_size=3)),
                answered_at=MOMENTS,
            ),
            max_size=4,
        )
    )
    made = protocol.ResultEnvelope(
        idempotency_key=draw(st.from_regex(r"\A[0-9a-f-]{36}\Z")),
        attempt_id=draw(ID_TEXT),
        section_ids=draw(st.lists(ID_TEXT, max_size=3)),
        answers=answers,
        finished_at=draw(MOMENTS),
        final=draw(st.booleans()),
    )
    # As the server receives it: parsed from JSON (pydantic's own time zone objects), or built in Python.
    return protocol.ResultEnvelope.model_validate_json(made.model_dump_json()) if draw(st.booleans()) else made


@given(envelopes())
def test_the_canonical_json_is_the_model_copy_form_byte_for_byte(envelope: protocol.ResultEnvelope) -> None:
    expected = canonical(envelope).model_dump_json().encode()
    assert canonical_json(envelope) == expected
    assert canonical_json(envelope, envelope.model_dump_json()) == expected
    assert body_digest(envelope) == hashlib.sha256(expected).hexdigest()


def test_the_same_answers_in_another_time_zone_or_within_the_second_have_the_same_digest() -> None:
    moment = datetime(2027, 3, 1, 9, 30, 5, 123_456, tzinfo=UTC)
    answers = [protocol.AnswerRecord(item_id="q1", value="b", answered_at=moment)]
    uploaded = protocol.ResultEnvelope(
        idempotency_key="0" * 36, attempt_id="a", section_ids=["s"], answers=answers, finished_at=moment
    )
    paris = timezone(timedelta(hours=1))
    typed_in = uploaded.model_copy(
        update={
            "finished_at": moment.astimezone(paris).replace(microsecond=0),
            "answers": [answers[0].model_copy(update={"answered_at": moment.replace(microsecond=0, tzinfo=None)})],
        }
    )
    other_answer = uploaded.model_copy(update={"answers": [answers[0].model_copy(update={"value": "c"})]})
    assert body_digest(uploaded) == body_digest(typed_in)
    assert body_digest(uploaded) != body_digest(other_answer)
