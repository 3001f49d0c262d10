"""Marking results from the package keys: per item, per section, totals, and answers that cannot be marked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resources import demo_assessment_path
from sync.protocol import AnswerValue
from sync.server.content import (
    DictationItem,
    ExtendedTextItem,
    Manifest,
    MultipleChoiceItem,
    ShortTextItem,
    SingleChoiceItem,
    load_package,
)
from sync.server.marking import MarkingError, Marks, dictation_fraction, mark

DEMO = load_package(demo_assessment_path()).manifest


def key_answers(manifest: Manifest) -> dict[str, AnswerValue]:
    """The answer key as a student would send it."""
    answers: dict[str, AnswerValue] = {}
    for item in manifest.items().values():
        if isinstance(item, SingleChoiceItem | MultipleChoiceItem):
            answers[item.id] = item.correct
        elif isinstance(item, ShortTextItem):
            answers[item.id] = item.accepted[0]
        elif isinstance(item, DictationItem):
            answers[item.id] = item.text
        else:
            answers[item.id] = "A long answer for a person to mark."
    return answers


def one_item_manifest(item: dict[str, Any]) -> Manifest:
    return Manifest.model_validate(
        {
            "id": "t",
            "version": "1",
            "title": "T",
            "sections": [{"id": "s", "title": "S", "time_limit_minutes": 1, "items": [{"id": "q", **item}]}],
        }
    )


CHOICES = [{"id": x, "text": x.upper()} for x in "abcd"]


def test_the_key_scores_full_marks_except_what_a_person_must_mark() -> None:
    marks = mark(DEMO, key_answers(DEMO))

    assert marks.sections["mc"].score == marks.sections["mc"].max_score == 4
    assert marks.sections["dictation"].score == 10
    short = marks.sections["short"]
    assert (short.score, short.max_score, short.needs_manual) == (3, 7, True)
    assert marks.items["short-describe"].needs_manual
    assert (marks.total, marks.max_total) == (17, 21)


def test_no_answers_score_nothing_and_are_marked_unanswered() -> None:
    marks = mark(DEMO, {})
    assert marks.total == 0
    assert marks.max_total == 21
    assert not any(m.answered or m.needs_manual for m in marks.items.values())


def test_single_choice_scores_only_the_correct_option() -> None:
    assert mark(DEMO, {"mc-circles": "a"}).items["mc-circles"].score == 0
    assert mark(DEMO, {"mc-circles": "b"}).items["mc-circles"].score == 1


@pytest.mark.parametrize(
    ("chosen", "partial", "all_or_nothing"),
    [
        (["a", "c"], 2, 2),
        (["c", "a", "a"], 2, 2),  # order and repeats do not matter
        (["a"], 1, 0),
        (["a", "b"], 0, 0),  # a wrong pick cancels a right one
        (["a", "b", "c", "d"], 0, 0),  # ticking everything earns nothing
        ([], 0, 0),
    ],
)
def test_multiple_choice_partial_and_all_or_nothing(chosen: list[str], partial: float, all_or_nothing: float) -> None:
    item = {"type": "multiple_choice", "prompt": "P", "options": CHOICES, "correct": ["a", "c"], "points": 2}
    assert mark(one_item_manifest({**item, "scoring": "partial"}), {"q": chosen}).total == partial
    assert mark(one_item_manifest(item), {"q": chosen}).total == all_or_nothing


@pytest.mark.parametrize(
    ("answer", "score"), [("children", 1), ("  CHILDREN ", 1), ("Chil dren", 0), ("child", 0), ("", 0)]
)
def test_short_text_ignores_case_and_outer_spaces(answer: str, score: int) -> None:
    assert mark(DEMO, {"short-plural": answer}).items["short-plural"].score == score


def test_short_text_can_require_case() -> None:
    manifest = one_item_manifest(
        {"type": "short_text", "prompt": "P", "accepted": ["Paris", "PARIS  FR"], "case_sensitive": True}
    )
    assert mark(manifest, {"q": "paris"}).total == 0
    assert mark(manifest, {"q": " Paris"}).total == 1
    assert mark(manifest, {"q": "PARIS FR"}).total == 1


def test_extended_text_waits_for_a_person_only_when_answered() -> None:
    assert mark(DEMO, {"short-describe": "My garden."}).items["short-describe"].needs_manual
    assert not mark(DEMO, {"short-describe": "   "}).items["short-describe"].needs_manual


@pytest.mark.parametrize(
    ("typed", "score"),
    [
        ("the CAT sat on the warm mat, by the door", 5),  # case and punctuation do not count
        ("The cat sat on the mat by the door.", 4.5),  # 9 of 10 words
        ("The cat sat on the warm hat by the door.", 4.5),  # 9 of 10 words
        ("The cat sat on the warm mat by the door and then it slept all day", 3.12),  # padding costs: 10 of 16
        ("door the by mat warm the on sat cat The", 1.5),  # 3 of 10 in order
        ("", 0),
    ],
)
def test_dictation_scores_words_in_order(typed: str, score: float) -> None:
    assert mark(DEMO, {"dict-cat": typed}).items["dict-cat"].score == score


@pytest.mark.parametrize(
    ("answers", "names"),
    [
        ({"nope": "a"}, ["'nope'", "demo-literacy", "1.0.0"]),
        ({"mc-circles": "z"}, ["'mc-circles'", "'z'", "a, b, c"]),
        ({"mc-nouns": ["a", "z"]}, ["'mc-nouns'", "'z'"]),
        ({"mc-circles": ["b"]}, ["'mc-circles'", "one option id"]),
        ({"mc-nouns": "a"}, ["'mc-nouns'", "list of option ids"]),
        ({"dict-cat": ["the", "cat"]}, ["'dict-cat'", "must be text"]),
    ],
)
def test_answers_that_cannot_be_marked_are_refused_by_name(answers: dict[str, AnswerValue], names: list[str]) -> None:
    with pytest.raises(MarkingError) as info:
        mark(DEMO, answers)
    for name in names:
        assert name in str(info.value)


def test_marks_survive_a_json_round_trip() -> None:
    marks = mark(DEMO, key_answers(DEMO))
    assert Marks.from_json(marks.to_json()) == marks


def answer_for(item: Any) -> st.SearchStrategy[AnswerValue]:
    if isinstance(item, SingleChoiceItem):
        return st.sampled_from([o.id for o in item.options])
    if isinstance(item, MultipleChoiceItem):
        return st.lists(st.sampled_from([o.id for o in item.options]), max_size=6)
    assert isinstance(item, ShortTextItem | ExtendedTextItem | DictationItem)
    words = st.sampled_from([*item.model_dump_json().split(), "cat", "Paris", " ", "swam"])
    return st.one_of(st.text(max_size=80), st.lists(words, max_size=15).map(" ".join))


@st.composite
def some_answers(draw: st.DrawFn) -> dict[str, AnswerValue]:
    answers: dict[str, AnswerValue] = {}
    for item in DEMO.items().values():
        if draw(st.booleans()):
            answers[item.id] = draw(answer_for(item))
    return answers


@given(some_answers())
def test_no_score_exceeds_its_maximum_and_sections_add_up(answers: dict[str, AnswerValue]) -> None:
    marks = mark(DEMO, answers)
    for item_mark in marks.items.values():
        assert 0 <= item_mark.score <= item_mark.max_score
    for section in DEMO.sections:
        section_mark = marks.sections[section.id]
        assert 0 <= section_mark.score <= section_mark.max_score
        assert section_mark.score == pytest.approx(sum(marks.items[i.id].score for i in section.items))
    assert marks.total <= marks.max_total


@given(
    st.lists(st.sampled_from(["a", "c", "b", "d"]), unique=True, min_size=1),
    st.floats(min_value=0.01, max_value=1000),
    st.sampled_from(["partial", "all_or_nothing"]),
)
def test_the_multiple_choice_key_always_scores_full(correct: list[str], points: float, scoring: str) -> None:
    manifest = one_item_manifest(
        {
            "type": "multiple_choice",
            "prompt": "P",
            "options": CHOICES,
            "correct": correct,
            "points": points,
            "scoring": scoring,
        }
    )
    marks = mark(manifest, {"q": list(reversed(correct))})
    assert marks.items["q"].score == marks.items["q"].max_score


@given(st.text(min_size=1).filter(lambda t: any(c.isalnum() for c in t)), st.text())
def test_dictation_fraction_is_one_for_the_key_and_never_above(key: str, typed: str) -> None:
    assert dictation_fraction(key, key) == 1
    assert 0 <= dictation_fraction(key, typed) <= 1


# ---- plain-data marking: exactly the marks the models gave ----------------------------------------------------


def reference_marks(manifest: Manifest, answers: dict[str, AnswerValue]) -> dict[str, Any]:
    """How results were marked before `Marker` (pydantic models per item), kept as the reference it must equal."""
    from sync.server import marking

    def one(item: Any, answer: AnswerValue | None) -> marking.ItemMark:
        max_score = round(item.points, 2)
        if answer is None:
            return marking.ItemMark(score=0, max_score=max_score, answered=False)
        if isinstance(item, SingleChoiceItem):
            choice = marking._one_option(item, answer)
            return marking.ItemMark(score=round(item.points * (choice == item.correct), 2), max_score=max_score)
        if isinstance(item, MultipleChoiceItem):
            fraction = marking._multiple_choice_fraction(item, marking._options(item, answer))
            return marking.ItemMark(score=round(item.points * fraction, 2), max_score=max_score)
        text = marking._text(item, answer)
        if isinstance(item, ShortTextItem):
            given = marking._normalise(text, case_sensitive=item.case_sensitive)
            accepted = {marking._normalise(a, case_sensitive=item.case_sensitive) for a in item.accepted}
            return marking.ItemMark(
                score=round(item.points * (1.0 if given in accepted else 0.0), 2), max_score=max_score
            )
        if isinstance(item, ExtendedTextItem):
            return marking.ItemMark(score=0, max_score=max_score, needs_manual=bool(text.strip()))
        return marking.ItemMark(score=round(item.points * dictation_fraction(item.text, text), 2), max_score=max_score)

    known = manifest.items()
    for item_id in answers:
        if item_id not in known:
            raise MarkingError(
                f"answer for item '{item_id}', which assessment '{manifest.id}' version {manifest.version} "
                "does not have; check the result was sent for the right assessment version"
            )
    items: dict[str, marking.ItemMark] = {}
    sections: dict[str, marking.SectionMark] = {}
    for section in manifest.sections:
        for item in section.items:
            items[item.id] = one(item, answers.get(item.id))
        in_section = [items[item.id] for item in section.items]
        sections[section.id] = marking.SectionMark(
            score=round(sum(m.score for m in in_section), 2),
            max_score=round(sum(m.max_score for m in in_section), 2),
            needs_manual=any(m.needs_manual for m in in_section),
        )
    marks = Marks(
        items=items,
        sections=sections,
        total=round(sum(s.score for s in sections.values()), 2),
        max_total=round(sum(s.max_score for s in sections.values()), 2),
    )
    return marks.model_dump(mode="json")


def same_outcome(manifest: Manifest, answers: dict[str, AnswerValue]) -> None:
    """`Marker.marks` stores the same JSON text (key order, 1.0 not 1) or refuses with the same sentence."""
    from sync.server.marking import Marker

    try:
        expected = json.dumps(reference_marks(manifest, answers))
    except MarkingError as refused:
        expected = f"refused: {refused}"
    try:
        got = json.dumps(Marker(manifest).marks(answers))
    except MarkingError as refused:
        got = f"refused: {refused}"
    assert got == expected


@given(some_answers())
def test_plain_data_marks_are_the_models_marks_for_the_demo(answers: dict[str, AnswerValue]) -> None:
    same_outcome(DEMO, answers)


@st.composite
def manifests_and_answers(draw: st.DrawFn) -> tuple[Manifest, dict[str, AnswerValue]]:
    """Random packages (points left out, whole or fractional) with answers that may be wrong in shape or id."""
    sections = []
    n = 0
    for s in range(draw(st.integers(1, 3))):
        items = []
        for _ in range(draw(st.integers(1, 4))):
            n += 1
            kind = draw(
                st.sampled_from(["single_choice", "multiple_choice", "short_text", "extended_text", "dictation"])
            )
            item: dict[str, Any] = {"id": f"q{n}", "type": kind, "prompt": "P"}
            points = draw(st.one_of(st.none(), st.integers(1, 20), st.floats(0.01, 1000)))
            if points is not None:
                item["points"] = points
            if kind == "single_choice":
                item |= {"options": CHOICES, "correct": draw(st.sampled_from("abcd"))}
            elif kind == "multiple_choice":
                correct = draw(st.lists(st.sampled_from("abcd"), unique=True, min_size=1))
                item |= {
                    "options": CHOICES,
                    "correct": correct,
                    "scoring": draw(st.sampled_from(["partial", "all_or_nothing"])),
                }
            elif kind == "short_text":
                item |= {"accepted": ["cat", "Paris"], "case_sensitive": draw(st.booleans())}
            elif kind == "dictation":
                item |= {"text": "The cat sat on the warm mat."}
            items.append(item)
        sections.append({"id": f"s{s}", "title": "S", "time_limit_minutes": 1, "items": items})
    manifest = Manifest.model_validate({"id": "t", "version": "1", "title": "T", "sections": sections})
    values = st.one_of(
        st.sampled_from(["a", "b", "z", "cat", " PARIS ", "", "the cat sat", "The cat sat on the warm mat."]),
        st.lists(st.sampled_from("abcdz"), max_size=5),
    )
    ids = st.sampled_from([f"q{i}" for i in range(1, n + 1)] + ["unknown"])
    return manifest, draw(st.dictionaries(ids, values, max_size=n + 1))


@given(manifests_and_answers())
def test_plain_data_marks_are_the_models_marks_for_any_package(case: tuple[Manifest, dict[str, AnswerValue]]) -> None:
    same_outcome(*case)
