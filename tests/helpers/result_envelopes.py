"""Result envelopes for result-code tests: a delivery form with every item type, and hypothesis envelopes of it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from sync.protocol import (
    AnswerRecord,
    AnswerValue,
    ChoiceOption,
    DeliveryAssessment,
    DeliveryItem,
    DeliverySection,
    ItemType,
    ResultEnvelope,
)


def options(count: int) -> list[ChoiceOption]:
    return [ChoiceOption(id=f"o{n}", text=f"Option {n}") for n in range(count)]


def item(item_id: str, kind: ItemType, option_count: int = 0) -> DeliveryItem:
    return DeliveryItem(id=item_id, type=kind, prompt=f"Prompt of {item_id}", options=options(option_count))


FORM = DeliveryAssessment(
    id="form",
    version="1",
    content_hash="a" * 64,
    title="Every item type",
    sections=[
        DeliverySection(
            id="choices",
            title="Choices",
            time_limit_seconds=600,
            items=[
                item("single-2", "single_choice", 2),
                item("single-5", "single_choice", 5),
                item("single-1", "single_choice", 1),
                item("multi-4", "multiple_choice", 4),
                item("multi-7", "multiple_choice", 7),
            ],
        ),
        DeliverySection(
            id="writing",
            title="Writing",
            time_limit_seconds=600,
            items=[
                item("short", "short_text"),
                item("essay", "extended_text"),
                item("dictation", "dictation"),
            ],
        ),
    ],
)
ITEMS = {item.id: item for section in FORM.sections for item in section.items}


def _value_of(item: DeliveryItem) -> st.SearchStrategy[AnswerValue]:
    ids = [option.id for option in item.options]
    if item.type == "single_choice":
        return st.sampled_from(ids)
    if item.type == "multiple_choice":
        return st.lists(st.booleans(), min_size=len(ids), max_size=len(ids)).map(
            lambda chosen: [option for option, yes in zip(ids, chosen, strict=True) if yes]
        )
    return st.text(max_size=120)


@st.composite
def envelopes(draw: st.DrawFn) -> ResultEnvelope:
    sections = draw(st.sets(st.sampled_from([s.id for s in FORM.sections])))
    section_ids = [s.id for s in FORM.sections if s.id in sections]
    candidates = [item for s in FORM.sections if s.id in sections for item in s.items]
    answered = draw(
        st.permutations(candidates).flatmap(lambda items: st.integers(0, len(items)).map(lambda n: items[:n]))
    )
    finished = draw(
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
    )
    answers = [
        AnswerRecord(
            item_id=item.id,
            value=draw(_value_of(item)),
            # Mostly before the finish; sometimes after it or far off (a wrong clock).
            answered_at=finished
            - timedelta(seconds=draw(st.integers(-3600, 10**8)), microseconds=draw(st.integers(0, 999_999))),
        )
        for item in answered
    ]
    return ResultEnvelope(
        idempotency_key=str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)), version=4)),
        attempt_id=str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        section_ids=section_ids,
        answers=answers,
        finished_at=finished,
        final=draw(st.booleans()),
    )


def whole_seconds(envelope: ResultEnvelope) -> ResultEnvelope:
    return envelope.model_copy(
        update={
            "finished_at": envelope.finished_at.replace(microsecond=0),
            "answers": [
                a.model_copy(update={"answered_at": a.answered_at.replace(microsecond=0)}) for a in envelope.answers
            ],
        }
    )
