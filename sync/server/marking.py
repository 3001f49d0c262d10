"""Marks a result from the package's keys: a score per item, per section and in total."""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from sync.protocol import AnswerValue
from sync.server.content import (
    AnyItem,
    DictationItem,
    ExtendedTextItem,
    Manifest,
    MultipleChoiceItem,
    ShortTextItem,
    SingleChoiceItem,
)

log = logging.getLogger(__name__)

# Scores keep two decimals so partial credit (2/3 of a point) stays readable in reports and exports.
_PLACES = 2


class MarkingError(Exception):
    """An answer the package cannot mark: an unknown item or option, or a value of the wrong shape."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemMark(_Record):
    score: float = Field(ge=0)
    max_score: float = Field(gt=0)
    needs_manual: bool = False
    """True for answered extended-text items: a person must mark them; score stays 0 until then."""
    answered: bool = True


class SectionMark(_Record):
    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    needs_manual: bool = False


class Marks(_Record):
    items: dict[str, ItemMark]
    sections: dict[str, SectionMark]
    total: float
    max_total: float

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> Marks:
        return cls.model_validate_json(text)


def mark(manifest: Manifest, answers: Mapping[str, AnswerValue]) -> Marks:
    """Scores every item; unanswered items score 0. Raises MarkingError for answers that cannot be marked."""
    known = manifest.items()
    for item_id in answers:
        if item_id not in known:
            raise MarkingError(
                f"answer for item '{item_id}', which assessment '{manifest.id}' version {manifest.version} "
                "does not have; check the result was sent for the right assessment version"
            )
    items: dict[str, ItemMark] = {}
    sections: dict[str, SectionMark] = {}
    for section in manifest.sections:
        for item in section.items:
            items[item.id] = _mark_item(item, answers.get(item.id))
        section_marks = [items[item.id] for item in section.items]
        sections[section.id] = SectionMark(
            score=round(sum(m.score for m in section_marks), _PLACES),
            max_score=round(sum(m.max_score for m in section_marks), _PLACES),
            needs_manual=any(m.needs_manual for m in section_marks),
        )
    return Marks(
        items=items,
        sections=sections,
        total=round(sum(s.score for s in sections.values()), _PLACES),
        max_total=round(sum(s.max_score for s in sections.values()), _PLACES),
    )


def _mark_item(item: AnyItem, answer: AnswerValue | None) -> ItemMark:
    if answer is None:
        return ItemMark(score=0, max_score=_max_score(item), answered=False)
    if isinstance(item, SingleChoiceItem):
        choice = _one_option(item, answer)
        return _scored(item, 1.0 if choice == item.correct else 0.0)
    if isinstance(item, MultipleChoiceItem):
        return _scored(item, _multiple_choice_fraction(item, _options(item, answer)))
    text = _text(item, answer)
    if isinstance(item, ShortTextItem):
        given = _normalise(text, case_sensitive=item.case_sensitive)
        accepted = {_normalise(a, case_sensitive=item.case_sensitive) for a in item.accepted}
        return _scored(item, 1.0 if given in accepted else 0.0)
    if isinstance(item, ExtendedTextItem):
        # Nothing to mark automatically; an empty answer is as good as none and needs nobody's time.
        return ItemMark(score=0, max_score=_max_score(item), needs_manual=bool(text.strip()))
    return _scored(item, dictation_fraction(item.text, text))


def _scored(item: AnyItem, fraction: float) -> ItemMark:
    return ItemMark(score=round(item.points * fraction, _PLACES), max_score=_max_score(item))


def _max_score(item: AnyItem) -> float:
    return round(item.points, _PLACES)


def _one_option(item: SingleChoiceItem, answer: AnswerValue) -> str:
    if not isinstance(answer, str):
        raise MarkingError(f"item '{item.id}' is single choice: the answer must be one option id, not a list")
    _check_options(item, [answer])
    return answer


def _options(item: MultipleChoiceItem, answer: AnswerValue) -> set[str]:
    if not isinstance(answer, list):
        raise MarkingError(f"item '{item.id}' is multiple choice: the answer must be a list of option ids")
    _check_options(item, answer)
    return set(answer)


def _check_options(item: SingleChoiceItem | MultipleChoiceItem, chosen: list[str]) -> None:
    ids = {option.id for option in item.options}
    for option_id in chosen:
        if option_id not in ids:
            raise MarkingError(
                f"answer to item '{item.id}' names option '{option_id}', which the item does not have "
                f"(it has {', '.join(sorted(ids))})"
            )


def _text(item: ShortTextItem | ExtendedTextItem | DictationItem, answer: AnswerValue) -> str:
    if not isinstance(answer, str):
        raise MarkingError(f"item '{item.id}' is {item.type}: the answer must be text, not a list")
    return answer


def _multiple_choice_fraction(item: MultipleChoiceItem, chosen: set[str]) -> float:
    correct = set(item.correct)
    if item.scoring == "all_or_nothing":
        return 1.0 if chosen == correct else 0.0
    # partial: each wrong pick cancels a right one, so ticking every box earns nothing.
    right, wrong = len(chosen & correct), len(chosen - correct)
    return max(0, right - wrong) / len(correct)


def _normalise(text: str, *, case_sensitive: bool) -> str:
    """NFKC, trimmed, inner whitespace collapsed; case folded unless the item says case matters."""
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    return text if case_sensitive else text.casefold()


_WORD = re.compile(r"[\w']+")


def dictation_words(text: str) -> list[str]:
    """Words as dictation compares them: case and punctuation ignored, curly apostrophes made straight."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'").replace("\u2018", "'")
    return [word.strip("'") for word in _WORD.findall(text) if word.strip("'")]


def dictation_fraction(key: str, answer: str) -> float:
    """Words matched in order (difflib alignment) over the longer of key and answer, so padding never pays."""
    expected, given = dictation_words(key), dictation_words(answer)
    if not expected or not given:
        return 0.0
    matcher = difflib.SequenceMatcher(None, expected, given, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched / max(len(expected), len(given))
