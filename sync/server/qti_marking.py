"""Marks one answer by an item's QTI response processing, exactly as the QTI specification defines it.

The rules (`content.scoring_rules.QtiScoring`) are compiled once into closures (`QtiScorer`), so marking an answer
runs no model code: it binds the response, runs the compiled rules and reads SCORE.

The value model is QTI's (QTI 2.1 Information Model, section "Expressions", as kept by 2.2 and 3.0):
- NULL is `None`. "Empty containers and empty strings are both treated as NULL" (isNull), so an empty string and
  an empty multiple container become `None` where a value is made (`_null_if_empty`).
- A single value is a Python `str` (identifier or string), `bool`, `int` or `float` (QTI float is a double).
- A multiple container is a `tuple`; multiple cardinality is a bag, so `match` compares two containers as
  multisets (`collections.Counter`), never by order.
- Outcomes start at their defaultValue or, without one, at 0 when numeric and NULL otherwise (QTI 2.1
  "Response Processing": outcomes are reset to their defaults; numeric ones with no default to 0).
- A condition "evaluates to true" only when it is the boolean true; NULL is not (QTI 2.1 responseCondition).
- Typed responses are captured as Invigil captures a short-text answer: NFKC, trimmed, inner whitespace
  collapsed. Case-insensitive comparisons use `str.casefold()`.
- A NULL or non-numeric SCORE after processing counts 0 (an item with no score has earned nothing).
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

from sync.protocol import AnswerValue
from sync.server.content.scoring_rules import (
    BaseValueExpr,
    Condition,
    CorrectExpr,
    Expr,
    MapResponseExpr,
    OperatorExpr,
    QtiScoring,
    ResponseDeclaration,
    ResponseMapping,
    Rule,
    SetOutcome,
    VariableExpr,
)

Single = str | bool | int | float
Value = Single | tuple[Single, ...] | None
Env = dict[str, Value]
_Eval = Callable[[Env], Value]
_Run = Callable[[Env], None]

SCORE = "SCORE"
_NUMERIC = ("float", "integer")


def normalise_typed(text: str) -> str:
    """A typed response as Invigil captures it: NFKC, trimmed, inner whitespace collapsed (as short_text)."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _null_if_empty(value: Value) -> Value:
    # QTI 2.1 isNull: "Note that empty containers and empty strings are both treated as NULL."
    return None if value == "" or value == () else value


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class QtiScorer:
    """One item's response processing, compiled once; `score(answer)` is its SCORE for one answer."""

    def __init__(self, scoring: QtiScoring) -> None:
        self.response = scoring.response
        self.types = {o.identifier: o.base_type for o in scoring.outcomes}
        self._initial: Env = {o.identifier: _initial(o.base_type, o.default) for o in scoring.outcomes}
        self._rules = _compile_rules(scoring.rules, self)

    def response_value(self, answer: AnswerValue | None) -> Value:
        """The answer as the QTI response variable: a single value, a container (tuple), or NULL."""
        if answer is None:
            return None
        typed = self.response.base_type == "string"
        if isinstance(answer, list) or self.response.cardinality == "multiple":
            values = answer if isinstance(answer, list) else [answer]
            return _null_if_empty(tuple(v for v in (normalise_typed(v) if typed else v for v in values) if v))
        return _null_if_empty(normalise_typed(answer) if typed else answer)

    def outcomes(self, answer: AnswerValue | None) -> Env:
        """Every variable after response processing (outcomes and the response), for tests and reports."""
        env = dict(self._initial)
        env[self.response.identifier] = self.response_value(answer)
        for run in self._rules:
            run(env)
        return env

    def score(self, answer: AnswerValue | None) -> float:
        """The SCORE outcome as a float; NULL or non-numeric counts 0. May be negative (QTI does not clamp)."""
        value = self.outcomes(answer).get(SCORE)
        score = float(value) + 0.0 if _is_number(value) else 0.0  # type: ignore[arg-type]
        return score if math.isfinite(score) else 0.0  # loading bounds every number; this is belt and braces


def qti_score(scoring: QtiScoring, answer: AnswerValue | None) -> float:
    """SCORE of one answer (compiles the rules each call: build a `QtiScorer` once to mark many)."""
    return QtiScorer(scoring).score(answer)


def _initial(base_type: str, default: float | int | bool | str | None) -> Value:
    if default is None:
        # QTI 2.1: numeric outcomes without a defaultValue start at 0; all others at NULL.
        return 0 if base_type == "integer" else 0.0 if base_type == "float" else None
    return _null_if_empty(_coerce(base_type, default))


def _coerce(base_type: str, value: Value) -> Value:
    """A value as a variable of `base_type` holds it (setOutcomeValue / baseValue)."""
    if value is None or isinstance(value, tuple):
        return value
    if base_type == "float" and _is_number(value):
        return float(value)
    if base_type == "integer" and _is_number(value):
        return int(value)  # a float set into an integer outcome is truncated toward zero
    if base_type in ("identifier", "string") and not isinstance(value, str):
        return str(value)
    return value


# ---- rules ----------------------------------------------------------------------------------------------


def _compile_rules(rules: Sequence[Rule], scorer: QtiScorer) -> list[_Run]:
    return [_set_outcome(r, scorer) if isinstance(r, SetOutcome) else _condition(r, scorer) for r in rules]


def _set_outcome(rule: SetOutcome, scorer: QtiScorer) -> _Run:
    # QTI 2.1 setOutcomeValue: the outcome takes the expression's value; it may appear in its own expression.
    name, value = rule.set, _compile(rule.value, scorer)
    base_type = scorer.types.get(name, "float")

    def run(env: Env) -> None:
        env[name] = _null_if_empty(_coerce(base_type, value(env)))

    return run


def _condition(rule: Condition, scorer: QtiScorer) -> _Run:
    # QTI 2.1 responseCondition: the first responseIf/responseElseIf whose expression "evaluates to true" runs and
    # the rest are ignored; otherwise responseElse runs. NULL is not true.
    branches = [(_compile(b.when, scorer), _compile_rules(b.then, scorer)) for b in rule.branches]
    otherwise = _compile_rules(rule.otherwise, scorer)

    def run(env: Env) -> None:
        for when, then in branches:
            if when(env) is True:
                for inner in then:
                    inner(env)
                return
        for inner in otherwise:
            inner(env)

    return run


# ---- expressions ----------------------------------------------------------------------------------------


def _compile(expr: Expr, scorer: QtiScorer) -> _Eval:
    if isinstance(expr, BaseValueExpr):
        constant = _null_if_empty(_coerce(expr.base, expr.value))
        return lambda env: constant
    if isinstance(expr, VariableExpr):
        name = expr.variable
        return lambda env: env.get(name)
    if isinstance(expr, CorrectExpr):
        # QTI 2.1 correct: "the associated correctResponse or NULL if no correct value was declared".
        correct = _correct_value(scorer.response)
        return lambda env: correct
    if isinstance(expr, MapResponseExpr):
        return _map_response(scorer.response)
    return _operator(expr, scorer)


def _correct_value(response: ResponseDeclaration) -> Value:
    if response.cardinality == "multiple":
        return _null_if_empty(tuple(response.correct))
    return _null_if_empty(response.correct[0]) if response.correct else None


def _map_response(response: ResponseDeclaration) -> _Eval:
    """QTI 2.1 mapResponse: "The result is a single float." Single: the mapped value of the response, or the
    mapping's defaultValue ("to be used when no explicit mapping for a source value is given"). Multiple: "the
    sum of the mapped target values"; "if a container contains multiple instances of the same value then that
    value is counted once only" ({B,B,C} maps as {B,C}); each value no entry names adds defaultValue.

    Bounds: the spec describes lowerBound/upperBound as bounds "for the result of mapping a container"; the two
    reference implementations (oat-sa/qti-sdk MapResponseProcessor, QTIWorks/JQTI+ Mapping.getTargetValue) also
    bound a single response's value, and so do we, so a mapping's upperBound is the most it ever gives.
    NULL (no response, an empty container, an empty string) has no explicit mapping: defaultValue, bounded (as
    both reference implementations do). A string response compares with each entry in order, case-folded where
    the entry's caseSensitive is false; the first entry that matches gives the value (a map maps a value once).
    """
    identifier = response.identifier
    mapping = response.mapping
    if mapping is None:
        return lambda env: 0.0  # refused at load (scoring_checks); qti-sdk also gives 0.0 with no mapping
    default, lower, upper = float(mapping.default), mapping.lower_bound, mapping.upper_bound
    look_up = _map_lookup(mapping, string=response.base_type == "string")

    def bounded(total: float) -> float:
        if lower is not None and total < lower:
            total = float(lower)
        if upper is not None and total > upper:
            total = float(upper)
        return total

    if response.cardinality == "single":

        def single(env: Env) -> Value:
            value = env.get(identifier)
            if value is None or isinstance(value, tuple):
                return bounded(default)
            return bounded(look_up(value))

        return single

    def multiple(env: Env) -> Value:
        value = env.get(identifier)
        if value is None:
            return bounded(default)
        values = value if isinstance(value, tuple) else (value,)
        # Each distinct value once, added in a canonical order: float addition is not associative, so summing in
        # the answer's order could change the last bit with the order of the ticks.
        distinct = sorted(set(values))  # a response container holds str only (identifier or string)
        total = 0.0
        for one in distinct:
            total += look_up(one)
        return bounded(total)

    return multiple


def _map_lookup(mapping: ResponseMapping, *, string: bool) -> Callable[[Single], float]:
    default = float(mapping.default)
    exact: dict[str, float] = {}
    for entry in mapping.entries:
        exact.setdefault(entry.key, float(entry.value))
    if not string or all(entry.case_sensitive for entry in mapping.entries):
        # Identifiers are compared exactly (caseSensitive is for string responses: QTI 2.1 mapEntry).
        return lambda value: exact.get(value, default) if isinstance(value, str) else default
    entries = [(entry.key if entry.case_sensitive else entry.key.casefold(), entry) for entry in mapping.entries]

    def look_up(value: Single) -> float:
        if not isinstance(value, str):
            return default
        folded = value.casefold()
        for key, entry in entries:
            if (value if entry.case_sensitive else folded) == key:
                return float(entry.value)
        return default

    return look_up


def _operator(expr: OperatorExpr, scorer: QtiScorer) -> _Eval:
    args = [_compile(a, scorer) for a in expr.args]
    op = expr.op
    if op == "is_null":
        # QTI 2.1 isNull: true if the sub-expression is NULL (empty containers and strings are NULL).
        (inner,) = args
        return lambda env: _null_if_empty(inner(env)) is None
    if op == "not":
        # QTI 2.1 not: "If the sub-expression is NULL then the not operator also results in NULL."
        (inner,) = args

        def negate(env: Env) -> Value:
            value = inner(env)
            return None if not isinstance(value, bool) else not value

        return negate
    if op == "and":
        return _and(args)
    if op == "or":
        return _or(args)
    if op == "sum":
        return _sum(args)
    binary = _BINARY[op] if op != "string_match" else _string_match(bool(expr.case_sensitive))
    first, second = args

    def apply(env: Env) -> Value:
        # match, member, gte, lte, stringMatch: "If either sub-expression is NULL then the operator results in
        # NULL" (QTI 2.1, each operator's own text).
        a, b = first(env), second(env)
        if a is None or b is None:
            return None
        return binary(a, b)

    return apply


def _and(args: list[_Eval]) -> _Eval:
    # QTI 2.1 and: true if all are true, false if any is false; "If one or more sub-expressions are NULL and all
    # others are true then the operator also results in NULL."
    def apply(env: Env) -> Value:
        null = False
        for arg in args:
            value = arg(env)
            if value is False:
                return False
            if value is not True:
                null = True
        return None if null else True

    return apply


def _or(args: list[_Eval]) -> _Eval:
    # QTI 2.1 or: true if any is true, false if all are false; "If one or more sub-expressions are NULL and all
    # the others are false then the operator also results in NULL."
    def apply(env: Env) -> Value:
        null = False
        for arg in args:
            value = arg(env)
            if value is True:
                return True
            if value is not False:
                null = True
        return None if null else False

    return apply


def _sum(args: list[_Eval]) -> _Eval:
    # QTI 2.1 sum: a single float, or an integer if every sub-expression is an integer; "If any of the
    # sub-expressions are NULL then the operator results in NULL." Containers of numbers add their members.
    def apply(env: Env) -> Value:
        terms: list[Single] = []
        for arg in args:
            value = arg(env)
            if value is None:
                return None
            terms.extend(value if isinstance(value, tuple) else (value,))
        if not all(_is_number(t) for t in terms):
            return None
        if all(isinstance(t, int) for t in terms):
            return sum(int(t) for t in terms)
        return float(sum(float(t) for t in terms))

    return apply


def _match(a: Value, b: Value) -> Value:
    # QTI 2.1 match: true if the two "represent the same value". Multiple containers are bags: the same values,
    # each as often, in any order. Different cardinalities never match.
    if isinstance(a, tuple) or isinstance(b, tuple):
        if not (isinstance(a, tuple) and isinstance(b, tuple)):
            return False
        return Counter(a) == Counter(b)
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def _member(a: Value, b: Value) -> Value:
    # QTI 2.1 member: true if the single first value is in the container given by the second.
    if isinstance(a, tuple):
        return None
    container = b if isinstance(b, tuple) else (b,)
    return any(_match(a, one) is True for one in container)


def _compare(greater: bool) -> Callable[[Value, Value], Value]:
    # QTI 2.1 gte/lte: numerical comparison of two single numbers.
    def apply(a: Value, b: Value) -> Value:
        if not (_is_number(a) and _is_number(b)):
            return None
        x, y = float(a), float(b)  # type: ignore[arg-type]
        return x >= y if greater else x <= y

    return apply


def _string_match(case_sensitive: bool) -> Callable[[Value, Value], Value]:
    # QTI 2.1 stringMatch: true if the two strings match; caseSensitive false compares without case (casefold).
    def apply(a: Value, b: Value) -> Value:
        if not (isinstance(a, str) and isinstance(b, str)):
            return None
        return a == b if case_sensitive else a.casefold() == b.casefold()

    return apply


_BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "match": _match,
    "member": _member,
    "gte": _compare(True),
    "lte": _compare(False),
}
