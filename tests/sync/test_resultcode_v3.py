"""Result code format 3: round trips against the delivery form, typos located, forgeries refused, format 2 kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings

from sync import resultcode
from sync.protocol import (
    AnswerRecord,
    DeliveryAssessment,
    DeliverySection,
    ResultEnvelope,
)
from sync.resultcode import GROUP_LENGTH, ResultCodeError, check_symbol, decode, encode, normalize
from sync.server.crypto import new_result_secret
from tests.helpers.result_envelopes import FORM, envelopes
from tests.helpers.result_envelopes import item as _item
from tests.helpers.result_envelopes import whole_seconds as _whole_seconds

SECRET = new_result_secret()
FINISHED = datetime(2026, 12, 4, 10, 30, 12, 345678, tzinfo=UTC)
untimed = settings(deadline=None)


@untimed
@given(envelope=envelopes())
def test_every_item_type_comes_back_exactly_from_a_format_3_code(envelope: ResultEnvelope) -> None:
    code = encode(envelope, result_secret=SECRET, delivery=FORM)

    assert code[0] == "3"
    assert decode(code, result_secret=SECRET, attempt_id=envelope.attempt_id, delivery=FORM) == _whole_seconds(envelope)


def _sitting(count: int = 40, *, gap: int = 37) -> tuple[ResultEnvelope, DeliveryAssessment]:
    items = [_item(f"q{n:02d}", "single_choice", 4) for n in range(1, count + 1)]
    form = DeliveryAssessment(
        id="mc",
        version="1",
        content_hash="b" * 64,
        title="Forty",
        sections=[DeliverySection(id="mc", title="Choices", time_limit_seconds=2400, items=items)],
    )
    start = FINISHED - timedelta(minutes=40)
    envelope = ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=str(uuid.uuid4()),
        section_ids=["mc"],
        answers=[
            AnswerRecord(item_id=item.id, value=f"o{(n * 7) % 4}", answered_at=start + timedelta(seconds=gap * n))
            for n, item in enumerate(items)
        ],
        finished_at=FINISHED,
    )
    return envelope, form


def test_an_unanswered_sitting_and_one_answered_out_of_order_come_back() -> None:
    envelope, form = _sitting(6)
    for changed in (
        envelope.model_copy(update={"answers": []}),
        envelope.model_copy(update={"answers": list(reversed(envelope.answers))}),
        envelope.model_copy(update={"answers": envelope.answers[::2]}),
    ):
        code = encode(changed, result_secret=SECRET, delivery=form)
        assert decode(code, result_secret=SECRET, attempt_id=changed.attempt_id, delivery=form) == _whole_seconds(
            changed
        )


@pytest.mark.parametrize(
    "change",
    [
        {"section_ids": ["elsewhere"]},  # a section the form does not hold
        {"idempotency_key": "0" * 8 + "-0000-1000-8000-" + "0" * 12},  # not a version 4 UUID
        {"attempt_id": "attempt-7"},  # not a UUID: the server could not find it by its first bits
    ],
)
def test_an_envelope_format_3_cannot_say_gets_a_format_2_code_that_still_decodes(change: dict[str, object]) -> None:
    envelope, form = _sitting(4)
    changed = envelope.model_copy(update=change)

    code = encode(changed, result_secret=SECRET, delivery=form)

    assert code[0] == "2"
    assert decode(code, result_secret=SECRET, attempt_id=changed.attempt_id) == _whole_seconds(changed)


def test_an_answer_the_form_does_not_offer_gets_format_2() -> None:
    envelope, form = _sitting(4)
    changed = envelope.model_copy(update={"answers": [envelope.answers[0].model_copy(update={"value": "zz"})]})
    code = encode(changed, result_secret=SECRET, delivery=form)
    assert code[0] == "2"
    assert decode(code, result_secret=SECRET) == _whole_seconds(changed)


def test_the_code_names_the_start_of_its_attempt_and_decodes_only_for_that_attempt() -> None:
    envelope, form = _sitting()
    code = encode(envelope, result_secret=SECRET, delivery=form)
    assert resultcode.peek_attempt_id(code) == envelope.attempt_id[:18]
    other = str(uuid.uuid4())
    with pytest.raises(ResultCodeError) as caught:
        decode(code, result_secret=SECRET, attempt_id=other, delivery=form)
    assert caught.value.reason == "wrong_attempt"
    assert caught.value.message.startswith(f"This result code belongs to attempt {envelope.attempt_id[:18]}, not to")


# ---- typos located, forgeries refused --------------------------------------------------------------


def _group(code: str, index: int) -> str:
    return normalize(code)[index * GROUP_LENGTH : (index + 1) * GROUP_LENGTH]


def _with_group(code: str, index: int, group: str) -> str:
    symbols = normalize(code)
    return symbols[: index * GROUP_LENGTH] + group + symbols[(index + 1) * GROUP_LENGTH :]


def _other(symbol: str) -> str:
    return "7" if symbol != "7" else "8"


def _refusal(code: str, *, secret: str = SECRET, attempt_id: str, form: DeliveryAssessment) -> ResultCodeError:
    with pytest.raises(ResultCodeError) as caught:
        decode(code, result_secret=secret, attempt_id=attempt_id, delivery=form)
    return caught.value


def test_a_changed_symbol_is_located_by_its_group_check() -> None:
    envelope, form = _sitting()
    code = encode(envelope, result_secret=SECRET, delivery=form)
    group = _group(code, 9)
    typed = _with_group(code, 9, group[:2] + _other(group[2]) + group[3:])

    error = _refusal(typed, attempt_id=envelope.attempt_id, form=form)

    assert error.reason == "check_failed"
    assert (
        error.message == f"Group 10 ({typed[54:60]}) has a typing mistake: compare it with the code on the student's "
        "screen or results slip."
    )


def test_two_swapped_groups_are_named() -> None:
    envelope, form = _sitting()
    code = encode(envelope, result_secret=SECRET, delivery=form)
    first, second = _group(code, 3), _group(code, 20)
    swapped = _with_group(_with_group(code, 3, second), 20, first)

    error = _refusal(swapped, attempt_id=envelope.attempt_id, form=form)

    assert error.reason == "check_failed"
    assert error.message.startswith(f"Groups 4 ({second}) and 21 ({first}) look swapped")


@pytest.mark.parametrize("index", [3, 5, 20])  # the attempt's first bits, the tag, the ciphertext
def test_a_forged_group_with_a_valid_check_symbol_is_not_authentic(index: int) -> None:
    envelope, form = _sitting()
    code = encode(envelope, result_secret=SECRET, delivery=form)
    data = _group(code, index)[:-1]
    forged_data = _other(data[0]) + data[1:]
    forged = _with_group(code, index, forged_data + check_symbol(forged_data, group_index=index, version=3))

    error = _refusal(forged, attempt_id=envelope.attempt_id, form=form)

    assert error.reason == ("wrong_attempt" if index == 3 else "not_authentic")


def test_another_secret_or_another_form_is_not_authentic() -> None:
    envelope, form = _sitting()
    code = encode(envelope, result_secret=SECRET, delivery=form)
    changed_form = form.model_copy(update={"content_hash": "c" * 64})

    assert (
        _refusal(code, secret=new_result_secret(), attempt_id=envelope.attempt_id, form=form).reason == "not_authentic"
    )
    assert _refusal(code, attempt_id=envelope.attempt_id, form=changed_form).reason == "not_authentic"


def test_a_long_code_has_the_order_check_and_names_groups_31_apart_swapped() -> None:
    envelope, form = _sitting(4)
    essay = DeliverySection(id="essay", title="Essay", time_limit_seconds=600, items=[_item("essay", "extended_text")])
    form = form.model_copy(update={"sections": [*form.sections, essay]})
    text = " ".join(str(uuid.UUID(int=n * 7919)) for n in range(30))  # hard to compress: a long code
    answer = AnswerRecord(item_id="essay", value=text, answered_at=FINISHED - timedelta(seconds=5))
    long_one = envelope.model_copy(update={"section_ids": ["mc", "essay"], "answers": [*envelope.answers, answer]})
    code = encode(long_one, result_secret=SECRET, delivery=form)
    assert len(normalize(code)) > 40 * GROUP_LENGTH
    assert decode(code, result_secret=SECRET, attempt_id=long_one.attempt_id, delivery=form) == _whole_seconds(long_one)
    first, second = _group(code, 4), _group(code, 35)  # the same check-symbol tag: only the order check sees it
    swapped = _with_group(_with_group(code, 4, second), 35, first)

    error = _refusal(swapped, attempt_id=long_one.attempt_id, form=form)

    assert error.message.startswith(f"Groups 5 ({second}) and 36 ({first}) look swapped")


def test_a_format_2_code_still_decodes() -> None:
    envelope, _ = _sitting()
    old = encode(envelope, result_secret=SECRET)  # no delivery form: what older players made
    assert old[0] == "2"
    assert decode(old, result_secret=SECRET, attempt_id=envelope.attempt_id) == _whole_seconds(envelope)
