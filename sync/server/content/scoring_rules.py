"""Scoring rules carried over from QTI: a response declaration, outcome declarations and response processing.

An item imported from a QTI package keeps its response processing as data (the `qti` field of a choice or text
item in manifest.json), so the server marks it exactly as the QTI specification defines rather than by Invigil's
own rules. The standard templates (match_correct, map_response) are expanded into these rules when a package is
imported, so marking knows only the custom subset below. These are answer keys: they stay on the server.

JSON shapes (every object refuses unknown fields):

    rule:  {"set": "SCORE", "value": expr}
           {"branches": [{"when": expr, "then": [rule, ...]}, ...], "otherwise": [rule, ...]}
    expr:  {"base": "float"|"integer"|"boolean"|"identifier"|"string", "value": ...}
           {"variable": "RESPONSE"}          the response, or an outcome by its identifier
           {"correct": "RESPONSE"}           the response's correct value
           {"map_response": "RESPONSE"}      the response through its mapping
           {"op": "match"|"member"|"is_null"|"sum"|"and"|"or"|"not"|"gte"|"lte"|"string_match",
            "args": [expr, ...], "case_sensitive": bool}   (case_sensitive only, and always, for string_match)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

QTI_OPERATORS = ("match", "member", "is_null", "sum", "and", "or", "not", "gte", "lte", "string_match")
BaseType = Literal["float", "integer", "boolean", "identifier", "string"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MapEntry(_Model):
    key: str
    value: float
    case_sensitive: bool = True
    """For string responses: whether the key must match the case of the answer (QTI's mapEntry caseSensitive)."""


class ResponseMapping(_Model):
    entries: list[MapEntry] = Field(min_length=1)
    default: float = 0.0
    """QTI's defaultValue: the value of a response value no entry names."""
    lower_bound: float | None = None
    upper_bound: float | None = None


class ResponseDeclaration(_Model):
    identifier: str = Field(min_length=1, max_length=128)
    cardinality: Literal["single", "multiple"]
    base_type: Literal["identifier", "string"]
    correct: list[str] = Field(default_factory=list)
    """QTI's correctResponse values (one for single cardinality); empty when the item declares none."""
    mapping: ResponseMapping | None = None


class OutcomeDeclaration(_Model):
    identifier: str = Field(min_length=1, max_length=128)
    base_type: BaseType
    default: float | int | bool | str | None = None
    """QTI's defaultValue; None means the QTI default (0 for numbers, NULL for the rest)."""


class BaseValueExpr(_Model):
    base: BaseType
    value: float | int | bool | str


class VariableExpr(_Model):
    variable: str


class CorrectExpr(_Model):
    correct: str


class MapResponseExpr(_Model):
    map_response: str


class OperatorExpr(_Model):
    op: Literal["match", "member", "is_null", "sum", "and", "or", "not", "gte", "lte", "string_match"]
    args: list[Expr] = Field(min_length=1)
    case_sensitive: bool | None = None


Expr = BaseValueExpr | VariableExpr | CorrectExpr | MapResponseExpr | OperatorExpr


class SetOutcome(_Model):
    set: str
    value: Expr


class Branch(_Model):
    when: Expr
    then: list[Rule] = Field(default_factory=list)


class Condition(_Model):
    branches: list[Branch] = Field(min_length=1)
    """responseIf, then each responseElseIf, in order: the first whose `when` is true runs."""
    otherwise: list[Rule] = Field(default_factory=list)
    """responseElse."""


Rule = SetOutcome | Condition


class QtiScoring(_Model):
    """How a QTI item is marked: its SCORE outcome after the rules run on the answer."""

    response: ResponseDeclaration
    outcomes: list[OutcomeDeclaration] = Field(min_length=1)
    """Must declare SCORE (numeric); MAXSCORE and others may be declared and set."""
    rules: list[Rule] = Field(default_factory=list)
    template: Literal["match_correct", "map_response"] | None = None
    """The standard template the rules came from, if any (export writes the template back)."""
    source: str = ""
    """The item's file in the package it came from, for messages."""


OperatorExpr.model_rebuild()
Branch.model_rebuild()
Condition.model_rebuild()
SetOutcome.model_rebuild()
