"""QTI packages written by hand from the specification, marked against scores worked out from the spec's own text.

The packages under tests/fixtures/qti copy the structure of the QTI examples (choice.xml, choice_multiple.xml,
text_entry.xml, extended_text.xml, order.xml from the QTI 2.1/2.2 example set; the same items in QTI 3.0 form).
Every expected score below is derived by hand from the sentences quoted in SPEC, never from running the marker.
"""

from __future__ import annotations

import functools
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from sync.protocol import AnswerValue
from sync.server.content import (
    ExtendedTextItem,
    LoadedPackage,
    MediaAsset,
    MultipleChoiceItem,
    PackageError,
    ShortTextItem,
    SingleChoiceItem,
    load_package,
)
from sync.server.marking import mark

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "qti"

# The sentences of the QTI Assessment, Section and Item Information Model (2.1/2.2; 3.0 says the same) that the
# expected scores come from.
SPEC = {
    "match_correct": "match_correct template: responseIf match(RESPONSE, correct(RESPONSE)) set SCORE 1, "
    "responseElse set SCORE 0",
    "map_response": "map_response template: responseIf isNull(RESPONSE) set SCORE 0.0, responseElse set SCORE "
    "mapResponse(RESPONSE)",
    "mapResponse": "mapResponse: if the response variable has single cardinality the value returned is simply the "
    "mapped target value from the map; with multiple cardinality the value returned is the sum of the mapped target "
    "values",
    "once": "mapResponse: if a container contains multiple instances of the same value then that value is counted "
    "once only ({B,B,C} maps to 1.5, not 2.5)",
    "defaultValue": "mapping.defaultValue: the default value from the target set to be used when no explicit "
    "mapping for a source value is given",
    "lowerBound": "mapping.lowerBound: the lower bound for the result of mapping a container; if unspecified there "
    "is no lower-bound",
    "upperBound": "mapping.upperBound: the upper bound for the result of mapping a container; if unspecified there "
    "is no upper-bound",
    "caseSensitive": "mapEntry.caseSensitive: used to control whether or not a mapEntry string is matched case "
    "sensitively",
    "caseDefault30": 'QTI 3.0 ASI XSD, complexType MapEntryDType: <xs:attribute name="case-sensitive" '
    'use="optional" default="false" type="xs:boolean"/>',
    "xs:boolean": "XML Schema Part 2, boolean: the lexical forms are true, false, 1 and 0",
    "outcomeDefault": "outcomeDeclaration.defaultValue: outcome variables are set to their default value before "
    "response processing (0 for a numeric outcome without one); an outcome no rule sets keeps it",
    "isNull": "isNull: true if the sub-expression is NULL; empty containers and empty strings are both treated as NULL",
    "match": "match: true if the two expressions represent the same value; if either sub-expression is NULL the "
    "operator results in NULL; a multiple container is an unordered bag, so order does not matter",
    "member": "member: true if the value given by the first sub-expression is in the container defined by the "
    "second; NULL if either is NULL",
    "and": "and: true if all sub-expressions are true and false if any of them are false; if one or more are NULL "
    "and all others are true the result is NULL",
    "or": "or: true if any of the sub-expressions are true; false if all are false; NULL if one or more are NULL "
    "and all others false",
    "not": "not: the logical negation of the sub-expression; if the sub-expression is NULL the result is NULL",
    "sum": "sum: the sum of the numerical values of the sub-expressions",
    "gte/lte": "gte/lte: true if the first is numerically greater/less than or equal to the second",
    "stringMatch": "stringMatch: true if the two strings match according to caseSensitive; NULL if either is NULL",
    "responseCondition": "responseCondition: if the expression of a responseIf/responseElseIf evaluates to true its "
    "rules are followed and the rest ignored; if it does not evaluate to true consideration passes to the next "
    "responseElseIf or, if none, to responseElse",
    "typed": "Invigil contract (docs/content-format.md): a typed response is NFKC-normalised, trimmed and its inner "
    "whitespace collapsed before QTI processing; case-insensitive comparisons use str.casefold()",
}

MISSING = object()
"""The candidate gave no answer: the item is not in the answers at all."""


@dataclass(frozen=True)
class Case:
    package: str
    item: str
    answer: AnswerValue | object
    expected: float
    why: str
    """The arithmetic, and the SPEC keys it follows."""

    def __str__(self) -> str:
        return f"{self.package}:{self.item}:{self.answer if self.answer is not MISSING else 'MISSING'}"


T21, T22, T30 = "qti21_templates", "qti22_custom", "qti30_mixed"

CASES = [
    # ---- QTI 2.1: the spec's choice.xml (match_correct) ----
    Case(T21, "choice", "ChoiceA", 1, "match(ChoiceA, ChoiceA) true -> 1 [match_correct]"),
    Case(T21, "choice", "ChoiceB", 0, "match false -> responseElse 0 [match_correct]"),
    Case(T21, "choice", MISSING, 0, "match(NULL, ..) is NULL, not true -> responseElse 0 [match, responseCondition]"),
    # ---- the spec's choice_multiple.xml: H=1 O=1 Cl=-1, defaultValue -2, lowerBound 0, upperBound 2 ----
    Case(T21, "choiceMultiple", ["H", "O"], 2, "1+1 = 2 <= upperBound 2 [mapResponse, upperBound]"),
    Case(T21, "choiceMultiple", ["O", "H"], 2, "order of ticks is irrelevant: 1+1 = 2 [mapResponse]"),
    Case(T21, "choiceMultiple", ["H"], 1, "1 [mapResponse]"),
    Case(T21, "choiceMultiple", ["H", "O", "Cl"], 1, "1+1-1 = 1 [mapResponse]"),
    Case(T21, "choiceMultiple", ["H", "He"], 0, "1 + default -2 = -1 -> lowerBound 0 [defaultValue, lowerBound]"),
    Case(T21, "choiceMultiple", ["H", "O", "N"], 0, "1+1 + default -2 = 0 [defaultValue]"),
    Case(T21, "choiceMultiple", ["Cl"], 0, "-1 -> lowerBound 0 [lowerBound]"),
    Case(T21, "choiceMultiple", ["H", "H"], 1, "{H,H} counts H once: 1, not 2 [once]"),
    Case(T21, "choiceMultiple", [], 0, "empty container is NULL -> template sets 0.0 [isNull, map_response]"),
    Case(T21, "choiceMultiple", MISSING, 0, "NULL -> template sets 0.0 [map_response]"),
    # ---- partial credit, maxChoices 2: two=1 three=1 four=-0.5 none=-1, lowerBound 0, upperBound 1.5 ----
    Case(T21, "partialBounded", ["two", "three"], 1.5, "1+1 = 2 -> upperBound 1.5 [upperBound]"),
    Case(T21, "partialBounded", ["two"], 1, "1 [mapResponse]"),
    Case(T21, "partialBounded", ["two", "four"], 0.5, "1-0.5 = 0.5 [mapResponse]"),
    Case(T21, "partialBounded", ["four", "none"], 0, "-0.5-1 = -1.5 -> lowerBound 0 [lowerBound]"),
    Case(T21, "partialBounded", ["three", "none"], 0, "1-1 = 0 [mapResponse]"),
    # ---- no lowerBound: paris=1 lyon=-1 nice=-1, default 0 ----
    Case(T21, "noLowerBound", ["paris"], 1, "1 [mapResponse]"),
    Case(T21, "noLowerBound", ["lyon", "nice"], -2, "-1-1 = -2, no lower bound: SCORE is -2 [lowerBound]"),
    Case(T21, "noLowerBound", ["paris", "lyon", "nice"], -1, "1-1-1 = -1 [lowerBound]"),
    Case(T21, "noLowerBound", ["paris", "lille"], 1, "1 + default 0 = 1 [defaultValue]"),
    Case(T21, "noLowerBound", [], 0, "empty -> NULL -> 0.0 [isNull, map_response]"),
    # ---- single response, defaultValue 0.5: c100=2 c0=0 ----
    Case(T21, "defaultValue", "c100", 2, "mapped value 2 [mapResponse]"),
    Case(T21, "defaultValue", "c90", 0.5, "no entry for c90 -> defaultValue 0.5 [defaultValue]"),
    Case(T21, "defaultValue", "c0", 0, "c0 has an explicit entry 0; the default is not used [defaultValue]"),
    Case(T21, "defaultValue", MISSING, 0, "NULL -> template sets 0.0, not the default [map_response]"),
    # ---- the spec's text_entry.xml, caseSensitive="true": York=1 york=0.5 ----
    Case(T21, "textEntry", "York", 1, "York -> 1 [mapResponse, caseSensitive]"),
    Case(T21, "textEntry", "york", 0.5, "york -> 0.5: the entries differ only by case [caseSensitive]"),
    Case(T21, "textEntry", "YORK", 0, "no case-sensitive entry matches -> default 0 [caseSensitive, defaultValue]"),
    Case(T21, "textEntry", "  York ", 1, "trimmed to York -> 1 [typed]"),
    Case(T21, "textEntry", "", 0, "empty string is NULL -> 0.0 [isNull, map_response]"),
    Case(T21, "textEntry", MISSING, 0, "NULL -> 0.0 [map_response]"),
    # ---- caseSensitive="false": Straße=2 Weg=1 ----
    Case(T21, "textEntryAnyCase", "Straße", 2, "exact -> 2 [mapResponse]"),
    Case(T21, "textEntryAnyCase", "straße", 2, "matched without case -> 2 [caseSensitive]"),
    Case(T21, "textEntryAnyCase", "WEG", 1, "matched without case -> 1 [caseSensitive]"),
    Case(T21, "textEntryAnyCase", "STRASSE", 2, "casefold(STRASSE) == casefold(Straße) == strasse [typed]"),
    Case(T21, "textEntryAnyCase", "GASSE", 0.5, 'caseSensitive="0" is false -> 0.5 [xs:boolean, caseSensitive]'),
    Case(T21, "textEntryAnyCase", "Allee", 0, "no entry -> default 0 [defaultValue]"),
    # ---- audio item: choice through match_correct next to a mediaInteraction ----
    Case(T21, "audioChoice", "one", 1, "match -> 1 [match_correct]"),
    Case(T21, "audioChoice", "two", 0, "no match -> 0 [match_correct]"),
    # ---- QTI 2.2 ----
    Case(T22, "choice22", "ChoiceA", 1, "[match_correct]"),
    Case(T22, "choice22", "ChoiceC", 0, "[match_correct]"),
    # apple=2 potato=-1, defaultValue 0.5, upperBound 3, no lowerBound
    Case(T22, "defaultPositive", ["apple"], 2, "2 [mapResponse]"),
    Case(T22, "defaultPositive", ["apple", "pear"], 2.5, "2 + default 0.5 = 2.5 [defaultValue]"),
    Case(T22, "defaultPositive", ["apple", "pear", "plum"], 3, "2+0.5+0.5 = 3 [defaultValue, upperBound]"),
    Case(T22, "defaultPositive", ["apple", "pear", "plum", "cherry"], 3, "2+0.5*3 = 3.5 -> 3 [upperBound]"),
    Case(T22, "defaultPositive", ["pear"], 0.5, "default 0.5 [defaultValue]"),
    Case(T22, "defaultPositive", ["potato"], -1, "-1, no lower bound [lowerBound]"),
    Case(T22, "defaultPositive", ["potato", "pear"], -0.5, "-1 + 0.5 = -0.5 [defaultValue, lowerBound]"),
    Case(T22, "defaultPositive", [], 0, "NULL -> 0.0 [isNull, map_response]"),
    # custom: A=1 B=1 C=-1 D=-2; correct {A,B}; see items/custom_choice.xml
    Case(T22, "customChoice", ["A", "B"], 4, "match -> 3; then gte(3,3) and lte(3,3) -> 3+1 = 4 [match, sum]"),
    Case(T22, "customChoice", ["B", "A"], 4, "a multiple container is unordered: match -> 3 -> 4 [match]"),
    Case(T22, "customChoice", ["A"], 1.5, "or(member A)=true, not(member D)=true -> 1 + 0.5 [member, sum]"),
    Case(T22, "customChoice", ["B", "C"], 0.5, "member B, no D -> (1-1) + 0.5 = 0.5 [member, and, or, not]"),
    Case(T22, "customChoice", ["A", "B", "C"], 1.5, "not the correct bag; (1+1-1) + 0.5 = 1.5; gte(1.5,3) false"),
    Case(T22, "customChoice", ["A", "D"], 0, "not(member D) false -> and false -> responseElse 0 [and, not]"),
    Case(T22, "customChoice", ["A", "B", "D"], 0, "match false; not(member D) false -> responseElse 0"),
    Case(T22, "customChoice", ["C"], 0, "or(false, false) false -> responseElse 0 [or]"),
    Case(T22, "customChoice", [], 0, "isNull(empty) true -> 0; gte(0,3) false [isNull]"),
    Case(T22, "customChoice", MISSING, 0, "isNull true -> 0 [isNull]"),
    # custom text: correct "Paris"
    Case(T22, "customText", "Paris", 2, "stringMatch caseSensitive=true -> 2 [stringMatch]"),
    Case(T22, "customText", "paris", 1, "case-sensitive fails; stringMatch caseSensitive=false with correct -> 1"),
    Case(T22, "customText", "PARIS", 1, "stringMatch caseSensitive=false -> 1 [stringMatch]"),
    Case(T22, "customText", "Lutetia", 1, "match on strings -> 1 [match]"),
    Case(T22, "customText", "lutetia", 0, "match compares exactly; no other branch -> responseElse 0 [match]"),
    Case(T22, "customText", "London", 0, "responseElse 0 [responseCondition]"),
    Case(T22, "customText", " Paris  ", 2, "trimmed to Paris -> 2 [typed, stringMatch]"),
    Case(T22, "customText", "Ｐａｒｉｓ", 2, "full-width letters NFKC-normalise to Paris -> 2 [typed]"),
    Case(T22, "customText", MISSING, 0, "isNull -> 0 [isNull]"),
    # match_correct on a multiple response: all or nothing
    Case(T22, "allOrNothing", ["H", "O"], 1, "the bag {H,O} matches the correct bag -> 1 [match_correct, match]"),
    Case(T22, "allOrNothing", ["O", "H"], 1, "bags are unordered -> 1 [match]"),
    Case(T22, "allOrNothing", ["H"], 0, "{H} is not {H,O} -> 0 [match_correct]"),
    Case(T22, "allOrNothing", ["H", "O", "N"], 0, "an extra tick: not the same bag -> 0 [match_correct]"),
    Case(T22, "allOrNothing", [], 0, "empty is NULL; match(NULL, ..) NULL -> responseElse 0 [isNull, match]"),
    # match_correct on a text entry, correct "New York"
    Case(T22, "matchText", "New York", 1, "match -> 1 [match_correct]"),
    Case(T22, "matchText", "new york", 0, "match compares exactly, case included -> 0 [match]"),
    Case(T22, "matchText", " New   York ", 1, "trimmed, inner spaces collapsed to New York -> 1 [typed, match]"),
    # SCORE defaultValue 1, only responseIf match(RESPONSE, yes) -> 0
    Case(T22, "outcomeDefault", "no", 1, "match false; no responseElse: SCORE keeps its default 1 [outcomeDefault]"),
    Case(T22, "outcomeDefault", "yes", 0, "match true -> 0 [responseCondition]"),
    Case(
        T22, "outcomeDefault", MISSING, 1, "match(NULL, yes) is NULL: SCORE keeps its default 1 [outcomeDefault, match]"
    ),
    # NULL propagation: NOTE is a string outcome with no default (NULL)
    Case(
        T22,
        "nullPropagates",
        "yes",
        1,
        "not(stringMatch(yes,no)) = true -> 1; rule 2 lte(1,0) false; rule 3: "
        "and(NULL, true) = NULL, not(NULL) = NULL -> no change [and, not]",
    ),
    Case(
        T22,
        "nullPropagates",
        "NO",
        0.25,
        "not(true) false -> 0; rule 2: and(true, lte(0,0), or(NULL, gte(0,0)) "
        "= true) -> 0.25; rule 3 NULL -> no change [or, and, not, responseCondition]",
    ),
    Case(
        T22,
        "nullPropagates",
        MISSING,
        0,
        "not(stringMatch(NULL,..)) = NULL -> responseElse 0; rule 2: "
        "not(isNull) false; rule 3 NULL [not, stringMatch, isNull]",
    ),
    # ---- QTI 3.0 ----
    Case(T30, "choice30", "ChoiceA", 1, "[match_correct]"),
    Case(T30, "choice30", "ChoiceB", 0, "[match_correct]"),
    Case(T30, "audio30", "high", 1, "[match_correct]"),
    Case(T30, "audio30", "low", 0, "[match_correct]"),
    # A=1 B=0.5 C=0.5 D=-1, lower-bound 0, no upper-bound, max-choices 2
    Case(T30, "limits30", ["A", "B"], 1.5, "1+0.5 [mapResponse]"),
    Case(T30, "limits30", ["B", "C"], 1, "0.5+0.5 [mapResponse]"),
    Case(T30, "limits30", ["A", "D"], 0, "1-1 = 0 [mapResponse]"),
    Case(T30, "limits30", ["D"], 0, "-1 -> lower-bound 0 [lowerBound]"),
    Case(T30, "limits30", [], 0, "NULL -> 0.0 [isNull, map_response]"),
    # Everest=2 case-sensitive="true"; Chomolungma=1 with no case-sensitive attribute
    Case(T30, "mountain30", "Everest", 2, "[mapResponse]"),
    Case(T30, "mountain30", "everest", 0, "case-sensitive entry does not match -> default 0 [caseSensitive]"),
    Case(T30, "mountain30", "Chomolungma", 1, "[mapResponse]"),
    Case(T30, "mountain30", "CHOMOLUNGMA", 1, "no attribute: case-sensitive defaults to false in 3.0 [caseDefault30]"),
    Case(T30, "mountain30", "K2", 0, "no entry -> default 0 [defaultValue]"),
    # custom 3.0: correct Au; map Au=1 (case-sensitive) gold=1 (case-insensitive)
    Case(T30, "custom30", "Au", 2, "string-match case-sensitive with correct -> 2 [stringMatch]"),
    Case(T30, "custom30", "GOLD", 1, "map-response: gold entry is case-insensitive -> 1; gte(1,1) -> 1 [gte/lte]"),
    Case(
        T30,
        "custom30",
        "AU",
        0.5,
        "case-sensitive fails; map: no entry -> 0, gte(0,1) false; string-match "
        "case-insensitive 'au' -> 0.5 [stringMatch, caseSensitive]",
    ),
    Case(T30, "custom30", "Ag", 0, "responseElse 0 [responseCondition]"),
    Case(T30, "custom30", MISSING, 0, "isNull -> 0 [isNull]"),
]


@functools.cache
def _loaded(package: str) -> LoadedPackage:
    # The QTI 3.0 package has an untimed section; the others are fully timed and must load without the option.
    minutes = 15 if package == T30 else None
    return load_package(FIXTURES / package, untimed_section_minutes=minutes)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_score_as_the_spec_defines(case: Case) -> None:
    manifest = _loaded(case.package).manifest
    answers: dict[str, AnswerValue] = {}
    if case.answer is not MISSING:
        answers[case.item] = cast("AnswerValue", case.answer)
    item_mark = mark(manifest, answers).items[case.item]
    assert item_mark.score == pytest.approx(case.expected), case.why
    assert item_mark.answered is (case.answer is not MISSING)


# ---- what the item is worth (the brief's contract for `points`) ----


@pytest.mark.parametrize(
    ("package", "item", "points"),
    [
        (T21, "choice", 1),  # match_correct: 1
        (T21, "choiceMultiple", 2),  # upperBound 2
        (T21, "partialBounded", 1.5),  # upperBound 1.5
        (T21, "noLowerBound", 1),  # no upperBound: sum of the positive values, 1
        (T21, "defaultValue", 2),  # single: the best one, 2
        (T21, "textEntry", 1),  # single: the best one, York=1
        (T21, "textEntryAnyCase", 2),  # single: the best one, Straße=2
        (T21, "extendedText", 5),  # MAXSCORE default 5
        (T21, "audioChoice", 1),  # match_correct
        (T22, "defaultPositive", 3),  # upperBound 3
        (T22, "customChoice", 4),  # MAXSCORE 4
        (T22, "customText", 2),  # MAXSCORE 2
        (T22, "nullPropagates", 1),  # MAXSCORE 1
        (T22, "allOrNothing", 1),  # match_correct
        (T22, "outcomeDefault", 1),  # MAXSCORE 1
        (T22, "matchText", 1),  # match_correct
        (T30, "limits30", 1.5),  # no upper-bound, max-choices 2: the two best positives 1 + 0.5
        (T30, "mountain30", 2),  # single: the best one
        (T30, "custom30", 2),  # MAXSCORE 2
        (T30, "essay30", 3),  # MAXSCORE 3
    ],
)
def test_points(package: str, item: str, points: float) -> None:
    assert _loaded(package).manifest.items()[item].points == pytest.approx(points)


# ---- what the importer carries over besides scoring ----


def test_choice_interactions_keep_limits_shuffle_and_fixed_choices() -> None:
    items = _loaded(T21).manifest.items()
    single = items["choice"]
    assert isinstance(single, SingleChoiceItem)
    assert [option.id for option in single.options] == ["ChoiceA", "ChoiceB", "ChoiceC"]
    assert not single.shuffle
    water = items["choiceMultiple"]
    assert isinstance(water, MultipleChoiceItem)
    assert water.shuffle
    assert water.max_choices is None
    primes = items["partialBounded"]
    assert isinstance(primes, MultipleChoiceItem)
    assert (primes.shuffle, primes.max_choices, primes.min_choices) == (True, 2, 1)
    assert {option.id: option.fixed for option in primes.options} == {
        "two": False,
        "three": False,
        "four": False,
        "none": True,
    }
    evens = _loaded(T30).manifest.items()["limits30"]
    assert isinstance(evens, MultipleChoiceItem)
    assert (evens.shuffle, evens.max_choices, evens.min_choices) == (True, 2, 1)
    assert [option.id for option in evens.options if option.fixed] == ["D"]


def test_text_interactions_map_to_short_and_extended_text() -> None:
    items21, items30 = _loaded(T21).manifest.items(), _loaded(T30).manifest.items()
    for item in (items21["textEntry"], items21["textEntryAnyCase"], items30["mountain30"], items30["custom30"]):
        assert isinstance(item, ShortTextItem)
    for item in (items21["extendedText"], items30["essay30"]):
        assert isinstance(item, ExtendedTextItem)


@pytest.mark.parametrize(("package", "item", "points"), [(T21, "extendedText", 5), (T30, "essay30", 3)])
def test_extended_text_without_response_processing_waits_for_a_person(package: str, item: str, points: float) -> None:
    manifest = _loaded(package).manifest
    answered = mark(manifest, {item: "Dear Sam, my town is small and quiet. The nicest part is the river."})
    assert answered.items[item].needs_manual
    assert (answered.items[item].score, answered.items[item].max_score) == (0, points)
    assert not mark(manifest, {}).items[item].needs_manual


@pytest.mark.parametrize(
    ("package", "item", "image", "audio"),
    [
        (T21, "choice", "sign.png", None),
        (T21, "audioChoice", None, "tone.wav"),
        (T30, "choice30", "sign.png", None),
        (T30, "audio30", None, "tone.wav"),
    ],
)
def test_media_carried_across_with_play_limits(package: str, item: str, image: str | None, audio: str | None) -> None:
    loaded = _loaded(package)
    found = loaded.manifest.items()[item]
    for ref, expected in ((found.image, image), (found.audio, audio)):
        if expected is None:
            assert ref is None
        else:
            assert isinstance(ref, MediaAsset)
            assert ref.path.endswith(f"media/{expected}")
            data = (FIXTURES / package / "media" / expected).read_bytes()
            assert ref.size == len(data)
    assert found.max_plays == (2 if audio else None)  # mediaInteraction maxPlays="2"


def test_sections_keep_time_limits_and_shuffle_with_a_fixed_item() -> None:
    sections = {section.id: section for section in _loaded(T21).manifest.sections}
    assert sections["choices"].time_limit() == 600  # timeLimits maxTime is in seconds
    assert not sections["choices"].shuffle
    typing = sections["typing"]
    assert (typing.time_limit(), typing.shuffle, typing.fixed_items) == (900, True, ["audioChoice"])
    assert [item.id for item in typing.items] == ["audioChoice", "textEntry", "textEntryAnyCase", "extendedText"]
    sections30 = {section.id: section for section in _loaded(T30).manifest.sections}
    assert (sections30["main"].time_limit(), sections30["main"].shuffle) == (1800, True)
    assert sections30["main"].fixed_items == ["audio30"]
    assert sections30["writing"].time_limit() == 15 * 60  # untimed: untimed_section_minutes=15
    assert [section.time_limit() for section in _loaded(T22).manifest.sections] == [1200]


def test_an_untimed_section_needs_a_time() -> None:
    with pytest.raises(PackageError) as refused:
        load_package(FIXTURES / T30)
    assert "writing" in str(refused.value)


def test_a_zipped_package_loads_as_its_folder(tmp_path: Path) -> None:
    archive = tmp_path / "spec21.zip"
    folder = FIXTURES / T21
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(folder).as_posix())
    assert load_package(archive).manifest.content_hash() == _loaded(T21).manifest.content_hash()


def test_a_whole_answer_sheet_adds_up_with_a_negative_item() -> None:
    # The tests declare no outcomeProcessing, so section and test totals are Invigil's sums of item SCOREs.
    answers: dict[str, AnswerValue] = {
        "choice": "ChoiceA",  # 1
        "choiceMultiple": ["H", "O"],  # 2
        "partialBounded": ["two"],  # 1
        "noLowerBound": ["lyon", "nice"],  # -2
        "defaultValue": "c90",  # 0.5
        "textEntry": "york",  # 0.5
        "textEntryAnyCase": "WEG",  # 1
        "extendedText": "Dear Sam, hello from here.",  # 0, for a person to mark
        "audioChoice": "one",  # 1
    }
    marks = mark(_loaded(T21).manifest, answers)
    assert marks.sections["choices"].score == pytest.approx(1 + 2 + 1 - 2 + 0.5)
    assert marks.sections["choices"].max_score == pytest.approx(1 + 2 + 1.5 + 1 + 2)
    assert marks.sections["typing"].score == pytest.approx(0.5 + 1 + 0 + 1)
    assert marks.sections["typing"].needs_manual
    assert marks.total == pytest.approx(5.0)
    assert marks.max_total == pytest.approx(16.5)


# ---- refused: the message names the file, the interaction/operator/template and the line ----


@pytest.mark.parametrize(
    ("package", "file", "names", "line"),
    [
        ("refused_order21", "items/order.xml", ("orderInteraction",), 16),
        ("refused_point21", "items/point.xml", ("map_response_point",), 19),
        ("refused_equal22", "items/equal.xml", ("equal",), 23),
        ("refused_lookup30", "items/lookup.xml", ("qti-lookup-outcome-value", "lookupOutcomeValue"), 35),
    ],
)
def test_unsupported_content_is_refused_by_name_and_line(
    package: str, file: str, names: tuple[str, ...], line: int
) -> None:
    with pytest.raises(PackageError) as refused:
        load_package(FIXTURES / package)
    message = str(refused.value)
    assert file in message
    assert any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", message) for name in names), message
    assert re.search(rf"(line\s*|:){line}\b", message), message
