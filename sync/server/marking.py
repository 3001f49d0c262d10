"""Marks a result from the package's keys: a score per item, per section and in total."""

from __future__ import annotations

import difflib
import json
import logging
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic_core
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
from sync.server.qti_marking import QtiScorer

log = logging.getLogger(__name__)

# Scores keep two decimals so partial credit (2/3 of a point) stays readable in reports and exports.
_PLACES = 2
# How many distinct QTI multiple-choice answers one Marker remembers (see Marker._qti_ticks).
_QTI_REMEMBERED = 4096


class MarkingError(Exception):
    """An answer the package cannot mark: an unknown item or option, or a value of the wrong shape."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemMark(_Record):
    score: float
    """Negative only where an item's QTI scoring gives a negative SCORE (a mapping without lowerBound)."""
    max_score: float = Field(gt=0)
    needs_manual: bool = False
    """True for answered extended-text items: a person must mark them; score stays 0 until then."""
    answered: bool = True


class SectionMark(_Record):
    score: float
    """The sum of its items' scores: negative only if QTI scoring gives negative item scores."""
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


def mark(manifest: Manifest, answers: Mapping[str, AnswerValue], *, sections: Collection[str] | None = None) -> Marks:
    """Scores every item (see `Marker.marks_json`). Raises MarkingError for answers that cannot be marked."""
    return Marks.model_validate_json(Marker(manifest).marks_json(answers, sections=sections))


_ItemData = dict[str, Any]


def _json(value: object) -> str:
    return pydantic_core.to_json(value).decode()


@dataclass(frozen=True)
class _SectionTable:
    key: str
    """The section id as a JSON string."""
    item_ids: list[str]
    max_score: float
    blank_score: float
    """Its score when none of its items is answered: 0 unless a QTI item's SCORE has a defaultValue."""
    blank_items: str
    """The JSON of its items' marks when none is answered ("id":{...},"id":{...})."""
    blank: str
    """The JSON of its mark when none of its items is answered ("id":{...})."""
    outside_items: str
    """As blank_items for a section the result does not cover: every item 0, QTI defaults too."""
    outside: str
    """As blank for a section the result does not cover (score 0)."""


class Marker:
    """Marks answers against one manifest, writing the marks as JSON from pieces built once per manifest.

    Built once per parsed manifest (`manifest_cache.Parsed.marker`), so marking a result costs its answered items
    only: the marks of a blank item and of a section with nothing answered are ready-made JSON. `marks_json()`
    is the JSON of the `Marks` the models give (`Marks.model_validate_json` reads it back to an equal value;
    the results table stores it as it is), without building them.
    """

    def __init__(self, manifest: Manifest) -> None:
        self._name = f"assessment '{manifest.id}' version {manifest.version}"
        self._items: dict[str, AnyItem] = manifest.items()
        self._position = {item_id: n for n, item_id in enumerate(self._items)}
        self._section_of = {item.id: section.id for section in manifest.sections for item in section.items}
        self._keys = {item_id: _json(item_id) for item_id in self._items}
        # QTI response processing compiled once per manifest: marking an answer only runs the closures.
        self._qti: dict[str, QtiScorer] = {
            item_id: QtiScorer(item.qti)
            for item_id, item in self._items.items()
            if item.qti is not None and not isinstance(item, DictationItem)
        }
        self._qti_seen: dict[tuple[str, tuple[str, ...]], tuple[_ItemData, str]] = {}
        # An unanswered item scores 0, except a QTI item: its response processing runs with a NULL response, so
        # SCORE keeps its defaultValue unless a rule sets it (QTI 2.1, 5.1 "outcome variables ... default value").
        self._blank_score = {item_id: _blank_qti_score(scorer) for item_id, scorer in self._qti.items()}
        self._blank: dict[str, _ItemData] = {
            item_id: _item_data(
                self._blank_score.get(item_id, 0.0), _max_score(item), needs_manual=False, answered=False
            )
            for item_id, item in self._items.items()
        }
        self._blank_json = {item_id: f"{self._keys[item_id]}:{_json(mark)}" for item_id, mark in self._blank.items()}
        self._sections: dict[str, _SectionTable] = {}
        for section in manifest.sections:
            ids = [item.id for item in section.items]
            max_score = float(round(sum(self._blank[i]["max_score"] for i in ids), _PLACES))
            blank_score: float = 0
            for i in ids:  # summed in item order from 0, as marks_json sums a section
                blank_score += self._blank[i]["score"]
            blank_score = float(round(blank_score, _PLACES)) + 0.0
            key = _json(section.id)
            self._sections[section.id] = _SectionTable(
                key=key,
                item_ids=ids,
                max_score=max_score,
                blank_score=blank_score,
                blank_items=",".join(self._blank_json[i] for i in ids),
                blank=f"{key}:{_json(_section_data(blank_score, max_score, needs_manual=False))}",
                outside_items=",".join(
                    f"{self._keys[i]}:{_json(_item_data(0.0, self._blank[i]['max_score'], needs_manual=False, answered=False))}"
                    for i in ids
                ),
                outside=f"{key}:{_json(_section_data(0.0, max_score, needs_manual=False))}",
            )
        self._max_total = _json(float(round(sum(t.max_score for t in self._sections.values()), _PLACES)))
        # A single-choice item can only be answered with one of its options: its marks are a finite table.
        self._choices: dict[str, dict[str, tuple[_ItemData, str]]] = {
            item.id: {option.id: self._marked(item, option.id) for option in item.options}
            for item in self._items.values()
            if isinstance(item, SingleChoiceItem)
        }

    def marks_json(self, answers: Mapping[str, AnswerValue], *, sections: Collection[str] | None = None) -> str:
        """Scores every item; an unanswered item scores 0, and a QTI one its SCORE with no response, but only in the
        `sections` the result covers (all when None): a result for section 1 must not score section 2's blank QTI
        defaults, which section 2's own result scores. Raises MarkingError for answers that cannot be marked."""
        items = self._items
        for item_id in answers:
            if item_id not in items:
                raise MarkingError(
                    f"answer for item '{item_id}', which {self._name} does not have; "
                    "check the result was sent for the right assessment version"
                )
        # In the package's order, so an envelope with several bad answers is refused for the first one there.
        order = sorted(answers, key=self._position.__getitem__) if len(answers) > 1 else list(answers)
        marked: dict[str, tuple[_ItemData, str]] = {}
        for item_id in order:
            answer = answers[item_id]
            if answer is None:
                continue
            choices = self._choices.get(item_id)
            found = choices.get(answer) if choices is not None and isinstance(answer, str) else None
            if found is None and isinstance(answer, list) and item_id in self._qti:
                found = self._qti_ticks(item_id, answer)
            marked[item_id] = found or self._marked(items[item_id], answer)
        touched = {self._section_of[item_id] for item_id in marked}
        item_parts: list[str] = []
        section_parts: list[str] = []
        scores: list[float] = []
        for section_id, table in self._sections.items():
            if section_id not in touched:
                if sections is None or section_id in sections:
                    item_parts.append(table.blank_items)
                    section_parts.append(table.blank)
                    scores.append(table.blank_score)
                else:
                    item_parts.append(table.outside_items)
                    section_parts.append(table.outside)
                    scores.append(0.0)
                continue
            # Summed in item order from floats (0 + a + b ...), exactly as sum() over SectionMark's fields was.
            score: float = 0
            needs_manual = False
            for item_id in table.item_ids:
                answered = marked.get(item_id)
                if answered is None:
                    score += self._blank[item_id]["score"]
                    item_parts.append(self._blank_json[item_id])
                else:
                    score += answered[0]["score"]
                    needs_manual = needs_manual or answered[0]["needs_manual"]
                    item_parts.append(answered[1])
            # + 0.0: QTI items may score below 0, and -0.3 + 0.1 + 0.2 must read "0.0", not "-0.0".
            score = float(round(score, _PLACES)) + 0.0
            scores.append(score)
            section_parts.append(
                f'{table.key}:{{"score":{score!r},"max_score":{table.max_score!r},'
                f'"needs_manual":{"true" if needs_manual else "false"}}}'
            )
        # A float's repr is the shortest text that reads back as the same float (and is valid JSON for these).
        total = float(round(sum(scores), _PLACES)) + 0.0
        return (
            f'{{"items":{{{",".join(item_parts)}}},"sections":{{{",".join(section_parts)}}},'
            f'"total":{total!r},"max_total":{self._max_total}}}'
        )

    def _qti_ticks(self, item_id: str, ticks: list[str]) -> tuple[_ItemData, str]:
        """A QTI multiple-choice mark, remembered by the exact ticks: a class gives few distinct answers, and this
        skips running the rules again. Bounded, so odd answers cannot grow it without end."""
        key = (item_id, tuple(ticks))
        found = self._qti_seen.get(key)
        if found is None:
            found = self._marked(self._items[item_id], ticks)
            if len(self._qti_seen) < _QTI_REMEMBERED:
                self._qti_seen[key] = found
        return found

    def _marked(self, item: AnyItem, answer: AnswerValue) -> tuple[_ItemData, str]:
        """An answered item's mark, and its JSON as it goes into the items object."""
        scorer = self._qti.get(item.id)
        item_mark = _mark_item(item, answer) if scorer is None else _mark_qti_item(item, answer, scorer)
        return item_mark, f"{self._keys[item.id]}:{_json(item_mark)}"

    def marks(self, answers: Mapping[str, AnswerValue], *, sections: Collection[str] | None = None) -> dict[str, Any]:
        """`marks_json` as data: `Marks(...).model_dump(mode="json")`."""
        data: dict[str, Any] = json.loads(self.marks_json(answers, sections=sections))
        return data


def _section_data(score: float, max_score: float, *, needs_manual: bool) -> dict[str, Any]:
    return {"score": score, "max_score": max_score, "needs_manual": needs_manual}


def _item_data(score: float, max_score: float, *, needs_manual: bool, answered: bool) -> _ItemData:
    return {"score": float(score), "max_score": float(max_score), "needs_manual": needs_manual, "answered": answered}


def _mark_item(item: AnyItem, answer: AnswerValue) -> _ItemData:
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
        return _item_data(0.0, _max_score(item), needs_manual=bool(text.strip()), answered=True)
    return _scored(item, dictation_fraction(item.text, text))


def _mark_qti_item(item: AnyItem, answer: AnswerValue, scorer: QtiScorer) -> _ItemData:
    """An item marked by its QTI response processing alone: SCORE, two decimals, never clamped (it may be
    negative); an extended-text item with rules needs nobody's time."""
    checked: AnswerValue
    if isinstance(item, SingleChoiceItem):
        checked = _one_option(item, answer)
    elif isinstance(item, MultipleChoiceItem):
        if not isinstance(answer, list):
            raise MarkingError(f"item '{item.id}' is multiple choice: the answer must be a list of option ids")
        _check_options(item, answer)
        checked = answer
    else:
        checked = _text(item, answer)
    return _item_data(_qti_rounded(scorer.score(checked)), _max_score(item), needs_manual=False, answered=True)


def _blank_qti_score(scorer: QtiScorer) -> float:
    return _qti_rounded(scorer.score(None))


def _qti_rounded(score: float) -> float:
    """Two decimals. A QTI score is often a sum of mapped values, whose binary noise (0.0025 * 3 - 0.0025 =
    0.004999...) would round the other way than the one product Invigil's own rules compute (0.01 * 2 / 4 = 0.005):
    rounding to 9 places first drops the noise, so an exported item marks as it did. + 0.0 turns -0.0 into 0.0."""
    return round(round(score, 9), _PLACES) + 0.0


def _scored(item: AnyItem, fraction: float) -> _ItemData:
    return _item_data(round(item.points * fraction, _PLACES), _max_score(item), needs_manual=False, answered=True)


def _max_score(item: AnyItem) -> float:
    return float(round(item.points, _PLACES))


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
