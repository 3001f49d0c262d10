"""Checks of an item's QTI scoring rules when a package is loaded, so marking never meets rules it cannot run.

Marking (`sync.server.qti_marking`) trusts what is checked here: the response declaration fits the item, every
name in the rules is declared, every operator has the operands QTI gives it, and SCORE is a number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sync.server.content.errors import MANIFEST_NAME, PackageError
from sync.server.content.manifest import (
    AnyItem,
    DictationItem,
    ExtendedTextItem,
    MultipleChoiceItem,
    ShortTextItem,
    SingleChoiceItem,
)
from sync.server.content.scoring_rules import (
    BaseValueExpr,
    Condition,
    CorrectExpr,
    Expr,
    MapResponseExpr,
    OperatorExpr,
    QtiScoring,
    Rule,
    SetOutcome,
    VariableExpr,
)

# (cardinality, base type) of the response each item type captures.
_RESPONSE_SHAPE = {
    SingleChoiceItem: ("single", "identifier"),
    MultipleChoiceItem: ("multiple", "identifier"),
    ShortTextItem: ("single", "string"),
    ExtendedTextItem: ("single", "string"),
}
# Numbers in the rules stay within this, so sums of them stay finite and scores read as plain decimals.
_LARGEST = 1_000_000.0
# Operands each operator takes (QTI 2.1 Information Model, each operator's own section): (fewest, most).
_ARITY: dict[str, tuple[int, int | None]] = {
    "match": (2, 2),
    "gte": (2, 2),
    "lte": (2, 2),
    "string_match": (2, 2),
    "member": (2, 2),
    "not": (1, 1),
    "is_null": (1, 1),
    "and": (1, None),
    "or": (1, None),
    "sum": (1, None),
}


def check_scoring(item: AnyItem, where: str) -> None:
    """PackageError unless `item.qti` (when set) is rules marking can run for this item."""
    scoring = item.qti
    if scoring is None or isinstance(item, DictationItem):
        return  # dictation with qti is refused by checks._check_keys_present
    _Checker(item, scoring, f"{where}.qti").check()


class _Checker:
    def __init__(self, item: AnyItem, scoring: QtiScoring, where: str) -> None:
        self.item = item
        self.scoring = scoring
        self.where = where
        self.response = scoring.response.identifier
        self.outcomes = {o.identifier: o for o in scoring.outcomes}

    def refuse(self, where: str, message: str) -> PackageError:
        source = f" (item file {self.scoring.source})" if self.scoring.source else ""
        return PackageError(MANIFEST_NAME, where, f"item '{self.item.id}'{source}: {message}")

    def number(self, value: object, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        if not (math.isfinite(value) and abs(value) <= _LARGEST):
            raise self.refuse(where, f"{value!r} is out of range; use a number from -1000000 to 1000000")

    def check(self) -> None:
        self._check_response()
        self._check_outcomes()
        self._check_rules(self.scoring.rules, f"{self.where}.rules")

    def _check_response(self) -> None:
        response = self.scoring.response
        where = f"{self.where}.response"
        cardinality, base_type = _RESPONSE_SHAPE[type(self.item)]
        if (response.cardinality, response.base_type) != (cardinality, base_type):
            raise self.refuse(
                where,
                f"a {self.item.type} item's response has cardinality {cardinality} and base type {base_type}, "
                f"not {response.cardinality}/{response.base_type}",
            )
        if cardinality == "single" and len(response.correct) > 1:
            raise self.refuse(f"{where}.correct", "a single response has at most one correct value")
        options = (
            [o.id for o in self.item.options] if isinstance(self.item, SingleChoiceItem | MultipleChoiceItem) else None
        )
        if options is not None:
            for c, value in enumerate(response.correct):
                if value not in options:
                    raise self.refuse(f"{where}.correct[{c}]", f"names option '{value}', which the item lacks")
        mapping = response.mapping
        if mapping is None:
            return
        self.number(mapping.default, f"{where}.mapping.default")
        self.number(mapping.lower_bound, f"{where}.mapping.lower_bound")
        self.number(mapping.upper_bound, f"{where}.mapping.upper_bound")
        lower, upper = mapping.lower_bound, mapping.upper_bound
        if lower is not None and upper is not None and lower > upper:
            raise self.refuse(f"{where}.mapping.upper_bound", "is below lower_bound; swap them")
        keys: set[str] = set()
        for e, entry in enumerate(mapping.entries):
            if options is not None and entry.key not in options:
                raise self.refuse(
                    f"{where}.mapping.entries[{e}].key", f"names option '{entry.key}', which the item lacks"
                )
            self.number(entry.value, f"{where}.mapping.entries[{e}].value")
            if entry.key in keys:
                raise self.refuse(f"{where}.mapping.entries[{e}].key", f"maps '{entry.key}' twice; keep one entry")
            keys.add(entry.key)

    def _check_outcomes(self) -> None:
        seen: set[str] = set()
        for o, outcome in enumerate(self.scoring.outcomes):
            where = f"{self.where}.outcomes[{o}]"
            if outcome.identifier in seen or outcome.identifier == self.response:
                raise self.refuse(f"{where}.identifier", f"'{outcome.identifier}' is declared twice")
            seen.add(outcome.identifier)
            default = outcome.default
            self.number(default, f"{where}.default")
            numeric = outcome.base_type in ("float", "integer")
            if default is not None and numeric and (isinstance(default, bool) or not isinstance(default, int | float)):
                raise self.refuse(f"{where}.default", f"{default!r} is not a number ({outcome.base_type})")
        score = self.outcomes.get("SCORE")
        if score is None:
            raise self.refuse(f"{self.where}.outcomes", "declares no SCORE outcome; declare SCORE (float)")
        if score.base_type not in ("float", "integer"):
            raise self.refuse(f"{self.where}.outcomes", f"SCORE is {score.base_type}; declare it float or integer")

    def _check_rules(self, rules: Sequence[Rule], where: str) -> None:
        for r, rule in enumerate(rules):
            here = f"{where}[{r}]"
            if isinstance(rule, SetOutcome):
                if rule.set not in self.outcomes:
                    raise self.refuse(
                        f"{here}.set",
                        f"sets '{rule.set}', which is not a declared outcome (declared: {', '.join(self.outcomes)})",
                    )
                self._check_expr(rule.value, f"{here}.value")
            else:
                self._check_condition(rule, here)

    def _check_condition(self, rule: Condition, where: str) -> None:
        for b, branch in enumerate(rule.branches):
            self._check_expr(branch.when, f"{where}.branches[{b}].when")
            self._check_rules(branch.then, f"{where}.branches[{b}].then")
        self._check_rules(rule.otherwise, f"{where}.otherwise")

    def _check_expr(self, expr: Expr, where: str) -> None:
        if isinstance(expr, BaseValueExpr):
            self._check_base_value(expr, where)
        elif isinstance(expr, VariableExpr):
            if expr.variable != self.response and expr.variable not in self.outcomes:
                raise self.refuse(
                    f"{where}.variable",
                    f"'{expr.variable}' is neither the response '{self.response}' nor a declared outcome",
                )
        elif isinstance(expr, CorrectExpr | MapResponseExpr):
            name = expr.correct if isinstance(expr, CorrectExpr) else expr.map_response
            field = "correct" if isinstance(expr, CorrectExpr) else "map_response"
            if name != self.response:
                raise self.refuse(f"{where}.{field}", f"names '{name}'; the item's response is '{self.response}'")
            if isinstance(expr, MapResponseExpr) and self.scoring.response.mapping is None:
                raise self.refuse(f"{where}.map_response", "the response declares no mapping; add one")
        else:
            self._check_operator(expr, where)

    def _check_operator(self, expr: OperatorExpr, where: str) -> None:
        fewest, most = _ARITY[expr.op]
        count = len(expr.args)
        if count < fewest or (most is not None and count > most):
            wanted = f"exactly {fewest}" if fewest == most else f"at least {fewest}"
            raise self.refuse(f"{where}.args", f"{expr.op} takes {wanted} operand(s), not {count}")
        if expr.op == "string_match" and expr.case_sensitive is None:
            raise self.refuse(f"{where}.case_sensitive", "missing; string_match must say whether case matters")
        if expr.op != "string_match" and expr.case_sensitive is not None:
            raise self.refuse(f"{where}.case_sensitive", f"only string_match has case_sensitive, not {expr.op}")
        for a, arg in enumerate(expr.args):
            self._check_expr(arg, f"{where}.args[{a}]")

    def _check_base_value(self, expr: BaseValueExpr, where: str) -> None:
        value = expr.value
        self.number(value, f"{where}.value")
        ok = {
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "integer": not isinstance(value, bool) and (isinstance(value, int) or float(value).is_integer())
            if not isinstance(value, str)
            else False,
            "boolean": isinstance(value, bool),
            "identifier": isinstance(value, str),
            "string": isinstance(value, str),
        }[expr.base]
        if not ok:
            raise self.refuse(f"{where}.value", f"{value!r} is not a {expr.base}")
