"""QTI response processing marked as the QTI specification defines it; rules written as JSON, no importer.

Every expected score below is worked out from the QTI 2.1 Information Model text (the same wording is kept by
QTI 2.2 and 3.0), quoted beside the case. Pure functions only: no database.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.protocol import AnswerValue
from sync.server.content.checks import validate_manifest
from sync.server.content.errors import PackageError
from sync.server.content.scoring_rules import QtiScoring
from sync.server.marking import Marker, Marks, mark
from sync.server.qti_marking import QtiScorer, qti_score

# ---- rules as JSON ----------------------------------------------------------------------------------------

SCORE_FLOAT = [{"identifier": "SCORE", "base_type": "float"}]
VAR = {"variable": "RESPONSE"}
CORRECT = {"correct": "RESPONSE"}
MAPPED = {"map_response": "RESPONSE"}


def f(value: float) -> dict[str, Any]:
    return {"base": "float", "value": value}


def op(name: str, *args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"op": name, "args": list(args), **extra}


def set_score(expr: dict[str, Any]) -> dict[str, Any]:
    return {"set": "SCORE", "value": expr}


def if_else(when: dict[str, Any], then: float, otherwise: float) -> dict[str, Any]:
    return {"branches": [{"when": when, "then": [set_score(f(then))]}], "otherwise": [set_score(f(otherwise))]}


# QTI 2.1 response processing template match_correct: SCORE = 1 if match(RESPONSE, correct) else 0.
MATCH_CORRECT = [if_else(op("match", VAR, CORRECT), 1, 0)]
# QTI 2.1 template map_response: SCORE = 0 if isNull(RESPONSE) else mapResponse(RESPONSE).
MAP_RESPONSE = [
    {
        "branches": [{"when": op("is_null", VAR), "then": [set_score(f(0.0))]}],
        "otherwise": [set_score(MAPPED)],
    }
]


def scoring(
    rules: list[dict[str, Any]],
    *,
    cardinality: str = "single",
    base_type: str = "identifier",
    correct: list[str] | None = None,
    mapping: dict[str, Any] | None = None,
    outcomes: list[dict[str, Any]] | None = None,
) -> QtiScoring:
    response: dict[str, Any] = {
        "identifier": "RESPONSE",
        "cardinality": cardinality,
        "base_type": base_type,
        "correct": correct or [],
    }
    if mapping is not None:
        response["mapping"] = mapping
    return QtiScoring.model_validate({"response": response, "outcomes": outcomes or SCORE_FLOAT, "rules": rules})


def entries(**values: float) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in values.items()]


# ---- match_correct ------------------------------------------------------------------------------------------


def test_match_correct_single_scores_one_only_for_the_correct_identifier() -> None:
    rules = scoring(MATCH_CORRECT, correct=["B"])
    assert (qti_score(rules, "B"), qti_score(rules, "A")) == (1.0, 0.0)


def test_match_correct_multiple_compares_as_a_bag_in_any_order() -> None:
    # match: true "if the two expressions represent the same value"; multiple cardinality is an unordered
    # container, so {C, A} is the same value as {A, C}; {A} and {A, C, D} are not.
    rules = scoring(MATCH_CORRECT, cardinality="multiple", correct=["A", "C"])
    assert [qti_score(rules, v) for v in (["C", "A"], ["A", "C"], ["A"], ["A", "C", "D"])] == [1, 1, 0, 0]


def test_match_correct_with_no_response_takes_the_else_branch() -> None:
    # match: "If either sub-expression is NULL then the operator results in NULL"; a NULL condition is not true,
    # so responseElse runs: SCORE 0. An empty container and an empty string are NULL (isNull).
    assert qti_score(scoring(MATCH_CORRECT, correct=["B"]), None) == 0
    assert qti_score(scoring(MATCH_CORRECT, cardinality="multiple", correct=["A"]), []) == 0
    rules = scoring([if_else(op("not", op("match", VAR, CORRECT)), 5, 7)], correct=["B"])
    assert qti_score(rules, None) == 7, "not(NULL) is NULL, which is not true"


# ---- mapResponse ---------------------------------------------------------------------------------------------

SPEC_MAPPING = {"entries": entries(A=0, B=1, C=0.5, D=0)}


def test_map_response_the_specs_own_example() -> None:
    # mapResponse: a mapping {A,B,C,D} -> {0,1,0.5,0} "will map the single value 'C' to the numeric value 0.5 and
    # the set of values {C,B} to the value 1.5 ... {B,B,C} would still map to 1.5 and not 2.5."
    single = scoring([set_score(MAPPED)], mapping=SPEC_MAPPING)
    assert qti_score(single, "C") == 0.5
    multiple = scoring([set_score(MAPPED)], cardinality="multiple", mapping=SPEC_MAPPING)
    assert qti_score(multiple, ["C", "B"]) == 1.5
    assert qti_score(multiple, ["B", "B", "C"]) == 1.5


def test_map_response_default_value_for_values_no_entry_names() -> None:
    # mapping defaultValue: "The default value from the target set to be used when no explicit mapping for a
    # source value is given": each unnamed value adds it once. {A, X, Y}: 2 + (-0.5) + (-0.5) = 1.
    mapping = {"entries": entries(A=2), "default": -0.5}
    assert qti_score(scoring([set_score(MAPPED)], cardinality="multiple", mapping=mapping), ["A", "X", "Y"]) == 1
    assert qti_score(scoring([set_score(MAPPED)], mapping=mapping), "Z") == -0.5


def test_map_response_bounds_limit_the_sum() -> None:
    # lowerBound/upperBound: "The lower [upper] bound for the result of mapping a container."
    mapping = {"entries": entries(A=1, B=1, C=1, D=-2), "lower_bound": 0, "upper_bound": 2}
    rules = scoring([set_score(MAPPED)], cardinality="multiple", mapping=mapping)
    assert qti_score(rules, ["A", "B", "C"]) == 2, "3 limited to the upper bound 2"
    assert qti_score(rules, ["D"]) == 0, "-2 limited to the lower bound 0"
    assert qti_score(rules, ["A", "D"]) == 0, "-1 limited to 0"
    assert qti_score(rules, ["A", "C"]) == 2


def test_map_response_partial_credit_for_a_multiple_response() -> None:
    # The usual multiple-response key: +1 per right choice, -1 per wrong one, never below 0, at most 2.
    mapping = {"entries": entries(A=1, B=-1, C=1, D=-1), "lower_bound": 0, "upper_bound": 2}
    rules = scoring(MAP_RESPONSE, cardinality="multiple", correct=["A", "C"], mapping=mapping)
    cases = {("A",): 1, ("A", "C"): 2, ("A", "B"): 0, ("A", "B", "C"): 1, ("B", "D"): 0}
    assert {k: qti_score(rules, list(k)) for k in cases} == cases


def test_map_response_without_a_lower_bound_can_be_negative() -> None:
    # No lowerBound: "If unspecified there is no lower-bound." {B, D}: -1 + -1 = -2.
    mapping = {"entries": entries(A=1, B=-1, C=1, D=-1)}
    assert qti_score(scoring(MAP_RESPONSE, cardinality="multiple", mapping=mapping), ["B", "D"]) == -2


def test_map_response_of_no_response_is_the_default_value_bounded() -> None:
    # NULL has no explicit mapping, so defaultValue ("used when no explicit mapping for a source value is
    # given"), as qti-sdk MapResponseProcessor and QTIWorks Mapping.getTargetValue both give; bounded.
    mapping = {"entries": entries(A=1), "default": -1, "lower_bound": -0.5}
    assert qti_score(scoring([set_score(MAPPED)], cardinality="multiple", mapping=mapping), []) == -0.5
    assert qti_score(scoring([set_score(MAPPED)], mapping={"entries": entries(A=1), "default": 0.25}), None) == 0.25
    # ... which is why the map_response template tests isNull first: no answer scores 0.
    assert qti_score(scoring(MAP_RESPONSE, cardinality="multiple", mapping=mapping), []) == 0


def test_map_response_case_insensitive_entries_for_a_typed_answer() -> None:
    # mapEntry caseSensitive: whether the key "must match the case of the response" (string responses).
    mapping = {
        "entries": [
            {"key": "Paris", "value": 2, "case_sensitive": False},
            {"key": "London", "value": 1, "case_sensitive": True},
        ]
    }
    rules = scoring(MAP_RESPONSE, base_type="string", mapping=mapping)
    assert qti_score(rules, "  PARIS ") == 2, "typed answers are trimmed, then case-folded for this entry"
    assert qti_score(rules, "London") == 1
    assert qti_score(rules, "london") == 0, "that entry is case sensitive: default 0"
    assert qti_score(rules, "   ") == 0, "an answer of spaces is an empty string: NULL"


# ---- operators ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "answer", "expected"),
    [
        # and: "true if all sub-expressions are true and false if any of them are false. If one or more
        # sub-expressions are NULL and all others are true then the operator also results in NULL."
        (op("and", {"base": "boolean", "value": True}, op("is_null", VAR)), None, 1),
        (op("and", {"base": "boolean", "value": True}, op("match", VAR, CORRECT)), None, 0),  # NULL: not true
        (op("not", op("and", {"base": "boolean", "value": False}, op("match", VAR, CORRECT))), None, 1),  # false
        (op("not", op("and", {"base": "boolean", "value": True}, op("match", VAR, CORRECT))), None, 0),  # NULL
        # or: "true if any of the sub-expressions are true ... If one or more sub-expressions are NULL and all the
        # others are false then the operator also results in NULL."
        (op("or", op("match", VAR, CORRECT), {"base": "boolean", "value": True}), None, 1),
        (op("not", op("or", op("match", VAR, CORRECT), {"base": "boolean", "value": False})), None, 0),  # NULL
        (op("not", op("or", op("match", VAR, CORRECT), {"base": "boolean", "value": False})), "A", 1),
        # member: true "if the value given by the first sub-expression is in the container defined by the second".
        (op("member", {"base": "identifier", "value": "B"}, VAR), ["A", "B"], 1),
        (op("member", {"base": "identifier", "value": "C"}, VAR), ["A", "B"], 0),
        (op("not", op("member", {"base": "identifier", "value": "C"}, VAR)), [], 0),  # NULL operand: NULL
        # gte/lte: numerical comparison; sum: the sum of the numbers; NULL operand: NULL.
        (op("gte", op("sum", f(0.5), {"base": "integer", "value": 1}), f(1.5)), "A", 1),
        (op("lte", op("sum", f(0.5), {"base": "integer", "value": 1}), f(1.4)), "A", 0),
        (op("gte", op("sum", f(1), {"variable": "MISSING"}), f(0)), "A", 0),
        (op("not", op("gte", {"variable": "MISSING"}, f(0))), "A", 0),
    ],
)
def test_operators_and_their_null_rules(when: dict[str, Any], answer: AnswerValue | None, expected: float) -> None:
    outcomes = [*SCORE_FLOAT, {"identifier": "MISSING", "base_type": "string"}]  # a non-numeric outcome: NULL
    rules = scoring(
        [if_else(when, 1, 0)],
        cardinality="multiple" if isinstance(answer, list) else "single",
        correct=["B"],
        outcomes=outcomes,
    )
    assert qti_score(rules, answer) == expected


@pytest.mark.parametrize(("case_sensitive", "typed", "expected"), [(True, "paris", 0), (False, "PARIS", 1)])
def test_string_match_with_and_without_case(case_sensitive: bool, typed: str, expected: float) -> None:
    # stringMatch: true "if the two strings match according to the comparison rules" (caseSensitive).
    key = {"base": "string", "value": "Paris"}
    rules = scoring([if_else(op("string_match", VAR, key, case_sensitive=case_sensitive), 1, 0)], base_type="string")
    assert qti_score(rules, typed) == expected
    assert qti_score(rules, "Paris") == 1


def test_outcomes_start_at_their_default_and_set_outcome_reads_its_own_value() -> None:
    # Numeric outcomes without a defaultValue start at 0; setOutcomeValue may refer to the outcome being set.
    outcomes: list[dict[str, Any]] = [
        {"identifier": "SCORE", "base_type": "float"},
        {"identifier": "BONUS", "base_type": "float", "default": 0.5},
        {"identifier": "COUNT", "base_type": "integer"},
    ]
    add = op("sum", {"variable": "SCORE"}, {"variable": "BONUS"})
    rules = scoring([set_score(add), set_score(add)], outcomes=outcomes)
    assert QtiScorer(rules).outcomes("A") == {"SCORE": 1.0, "BONUS": 0.5, "COUNT": 0, "RESPONSE": "A"}


def test_the_first_true_branch_runs_and_the_rest_are_ignored() -> None:
    # responseCondition: the first responseIf/responseElseIf that evaluates to true runs; later ones are ignored.
    branches = [
        {"when": op("match", VAR, {"base": "identifier", "value": v}), "then": [set_score(f(s))]}
        for v, s in (("A", 1), ("A", 2), ("B", 3))
    ]
    rules = scoring([{"branches": branches, "otherwise": [set_score(f(-1))]}])
    assert [qti_score(rules, v) for v in ("A", "B", "C")] == [1, 3, -1]


def test_a_score_that_is_null_or_not_a_number_counts_zero() -> None:
    outcomes = [{"identifier": "SCORE", "base_type": "float", "default": 3}]
    null_score = scoring([set_score(op("sum", VAR))], outcomes=outcomes)  # sum of a non-number: NULL
    assert qti_score(null_score, "A") == 0


# ---- properties ----------------------------------------------------------------------------------------------

IDS = "ABCDEF"
values = st.floats(-5, 5, allow_nan=False).map(lambda v: round(v, 2))


@st.composite
def mappings(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(IDS), unique=True, min_size=1))
    mapping: dict[str, Any] = {"entries": [{"key": k, "value": draw(values)} for k in keys], "default": draw(values)}
    bounds = sorted([draw(values), draw(values)])
    if draw(st.booleans()):
        mapping["lower_bound"] = bounds[0]
    if draw(st.booleans()):
        mapping["upper_bound"] = bounds[1]
    return mapping


@given(mappings(), st.lists(st.sampled_from(IDS), max_size=8))
def test_map_response_of_a_multiple_response_stays_within_its_bounds(mapping: dict[str, Any], ticks: list[str]) -> None:
    score = qti_score(scoring([set_score(MAPPED)], cardinality="multiple", mapping=mapping), ticks)
    assert mapping.get("lower_bound", -1e9) <= score <= mapping.get("upper_bound", 1e9)


@given(mappings(), st.lists(st.sampled_from(IDS), max_size=8), st.randoms(use_true_random=False))
def test_the_order_and_repeats_of_a_multiple_response_never_change_its_score(
    mapping: dict[str, Any], ticks: list[str], rng: Any
) -> None:
    # mapResponse: "If a container contains multiple instances of the same value then that value is counted
    # once only"; a multiple container has no order.
    shuffled = [*ticks, *ticks[:2]]
    rng.shuffle(shuffled)
    for rules in (MAP_RESPONSE, [set_score(MAPPED)]):
        scorer = QtiScorer(scoring(rules, cardinality="multiple", mapping=mapping))
        assert scorer.score(shuffled) == scorer.score(ticks)


@given(st.lists(st.sampled_from(IDS), unique=True, max_size=6), st.randoms(use_true_random=False))
def test_match_correct_ignores_order(ticks: list[str], rng: Any) -> None:
    shuffled = list(ticks)
    rng.shuffle(shuffled)
    scorer = QtiScorer(scoring(MATCH_CORRECT, cardinality="multiple", correct=["A", "C"]))
    assert scorer.score(shuffled) == scorer.score(ticks) == (1 if sorted(ticks) == ["A", "C"] else 0)


# ---- through marking: rounding, negative scores, extended text ------------------------------------------------

OPTIONS = [{"id": x, "text": x} for x in "ABCD"]
NEGATIVE_MAPPING = {"entries": entries(A=1, B=-1.25, C=1, D=-1)}


def manifest_of(*items: dict[str, Any]) -> Any:
    raw = {
        "id": "t",
        "version": "1",
        "title": "T",
        "sections": [{"id": "s", "title": "S", "time_limit_minutes": 1, "items": list(items)}],
    }
    return validate_manifest(copy.deepcopy(raw))


def qti(rules: QtiScoring) -> dict[str, Any]:
    return rules.model_dump(mode="json", exclude_defaults=True)


MULTI = {
    "id": "m",
    "type": "multiple_choice",
    "prompt": "P",
    "options": OPTIONS,
    "points": 2,
    "qti": qti(scoring(MAP_RESPONSE, cardinality="multiple", correct=["A", "C"], mapping=NEGATIVE_MAPPING)),
}


def test_marking_records_a_negative_qti_score_in_item_section_and_total() -> None:
    marks = mark(manifest_of(MULTI), {"m": ["B", "D"]})
    # No lowerBound, so nothing stops the sum: -1.25 + -1 = -2.25.
    assert marks.items["m"].score == -2.25
    assert marks.sections["s"].score == marks.total == marks.items["m"].score < 0
    assert marks.items["m"].max_score == 2
    assert Marks.from_json(marks.to_json()) == marks


def test_marking_a_qti_item_leaves_the_native_fields_unused() -> None:
    # The item has no `correct`: the QTI rules alone decide (A and C: 1 + 1 = 2).
    assert mark(manifest_of(MULTI), {"m": ["C", "A"]}).items["m"].score == 2


def test_extended_text_is_auto_marked_only_with_rules() -> None:
    rules = scoring(
        [if_else(op("string_match", VAR, {"base": "string", "value": "photosynthesis"}, case_sensitive=False), 3, 0)],
        base_type="string",
    )
    auto = {"id": "e", "type": "extended_text", "prompt": "P", "points": 3, "qti": qti(rules)}
    by_hand = {"id": "h", "type": "extended_text", "prompt": "P"}
    marks = mark(manifest_of(auto, by_hand), {"e": " Photosynthesis\n", "h": "An essay."})
    assert (marks.items["e"].score, marks.items["e"].needs_manual) == (3, False)
    assert (marks.items["h"].score, marks.items["h"].needs_manual) == (0, True)


# ---- checks when a package is loaded -----------------------------------------------------------------------

SINGLE = {
    "id": "q",
    "type": "single_choice",
    "prompt": "P",
    "options": OPTIONS,
    "qti": qti(scoring(MATCH_CORRECT, correct=["B"])),
}


def broken(path: list[Any], value: Any, item: dict[str, Any] = SINGLE) -> dict[str, Any]:
    changed = copy.deepcopy(item)
    where: Any = changed["qti"]
    for part in path[:-1]:
        where = where[part]
    where[path[-1]] = value
    return changed


STRING_MATCH = op("string_match", VAR, {"base": "string", "value": "x"}, case_sensitive=True)


@pytest.mark.parametrize(
    ("item", "field", "words"),
    [
        (broken(["response", "cardinality"], "multiple"), "qti.response", ["cardinality single", "identifier"]),
        (broken(["response", "base_type"], "string"), "qti.response", ["single_choice", "single/string"]),
        (broken(["response", "correct"], ["Z"]), "qti.response.correct[0]", ["option 'Z'"]),
        (
            broken(["response", "mapping"], {"entries": entries(A=1, Z=2)}),
            "qti.response.mapping.entries[1].key",
            ["option 'Z'"],
        ),
        (broken(["rules", 0, "branches", 0, "when", "args", 0], {"variable": "NOPE"}), ".args[0].variable", ["NOPE"]),
        (broken(["rules", 0, "otherwise", 0, "set"], "NOPE"), "qti.rules[0].otherwise[0].set", ["'NOPE'"]),
        (broken(["rules", 0, "branches", 0, "when", "args", 1], {"correct": "R2"}), ".args[1].correct", ["'R2'"]),
        (broken(["rules", 0, "otherwise", 0, "value"], MAPPED), "qti.rules[0].otherwise[0].value.map_response", []),
        (broken(["rules", 0, "branches", 0, "when", "args"], [VAR]), "qti.rules[0].branches[0].when.args", ["2"]),
        (broken(["rules", 0, "branches", 0, "when", "case_sensitive"], True), ".when.case_sensitive", ["match"]),
        (broken(["outcomes"], [{"identifier": "SCORE", "base_type": "string"}]), "qti.outcomes", ["SCORE"]),
        (broken(["outcomes"], [{"identifier": "OTHER", "base_type": "float"}]), "qti.outcomes", ["SCORE"]),
    ],
)
def test_rules_marking_could_not_run_are_refused_when_the_package_loads(
    item: dict[str, Any], field: str, words: list[str]
) -> None:
    with pytest.raises(PackageError) as refused:
        manifest_of(item)
    assert refused.value.field is not None
    assert field in refused.value.field, refused.value
    assert all(word in refused.value.message for word in words), refused.value.message


def test_string_match_must_say_whether_case_matters() -> None:
    without = {k: v for k, v in STRING_MATCH.items() if k != "case_sensitive"}
    rules = scoring([if_else(without, 1, 0)], base_type="string")
    item = {"id": "q", "type": "short_text", "prompt": "P", "qti": qti(rules)}
    with pytest.raises(PackageError, match="case_sensitive"):
        manifest_of(item)


def test_well_formed_rules_load() -> None:
    assert manifest_of(SINGLE, MULTI).items()["q"].qti is not None


@given(st.lists(st.lists(st.sampled_from("ABCD"), max_size=5), min_size=1, max_size=6))
def test_a_marker_marks_each_qti_answer_as_the_rules_do_however_often_it_sees_it(answers: list[list[str]]) -> None:
    manifest = manifest_of(MULTI)
    marker = Marker(manifest)
    rules = manifest.items()["m"].qti
    assert rules is not None
    for ticks in [*answers, *answers]:
        got = Marks.from_json(marker.marks_json({"m": ticks}))
        assert got.items["m"].score == round(qti_score(rules, ticks), 2) + 0.0
        assert got == mark(manifest, {"m": ticks})


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["response", "mapping"], {"entries": [{"key": "A", "value": 1e300}]}, "mapping.entries[0].value"),
        (["response", "mapping"], {"entries": entries(A=1), "lower_bound": float("-inf")}, "mapping.lower_bound"),
        (["rules", 0, "otherwise", 0, "value"], f(float("nan")), "otherwise[0].value.value"),
    ],
)
def test_numbers_too_large_to_add_up_are_refused(path: list[Any], value: Any, field: str) -> None:
    with pytest.raises(PackageError, match="out of range") as refused:
        manifest_of(broken(path, value))
    assert refused.value.field is not None
    assert refused.value.field.endswith(field)


def test_an_unanswered_qti_item_scores_its_default_only_in_the_sections_its_result_covers() -> None:
    # QTI 2.1 (5.1): an outcome keeps its defaultValue unless response processing sets it. SCORE defaults to 1 and
    # the only rule sets 0 for "B", so no answer scores 1; but only a result for the item's own section may say so.
    keeps_default = scoring(
        [{"branches": [{"when": op("match", VAR, {"base": "identifier", "value": "B"}), "then": [set_score(f(0))]}]}],
        outcomes=[{"identifier": "SCORE", "base_type": "float", "default": 1}],
    )
    first = {"id": "a", "type": "single_choice", "prompt": "P", "options": OPTIONS, "correct": "A"}
    second = {"id": "d", "type": "single_choice", "prompt": "P", "options": OPTIONS, "qti": qti(keeps_default)}
    raw = {
        "id": "t",
        "version": "1",
        "title": "T",
        "sections": [
            {"id": "s1", "title": "One", "time_limit_minutes": 1, "items": [first]},
            {"id": "s2", "title": "Two", "time_limit_minutes": 1, "items": [second]},
        ],
    }
    manifest = validate_manifest(raw)

    first_result = mark(manifest, {"a": "A"}, sections=["s1"])
    assert (first_result.sections["s2"].score, first_result.items["d"].score, first_result.total) == (0, 0, 1)
    second_result = mark(manifest, {}, sections=["s2"])
    assert (second_result.sections["s2"].score, second_result.items["d"].score, second_result.total) == (1, 1, 1)
    assert mark(manifest, {"a": "A"}).total == 2  # the whole test at once (sections=None)
    marker = Marker(manifest)
    assert Marks.model_validate_json(marker.marks_json({"a": "A"}, sections=["s1"])) == first_result
