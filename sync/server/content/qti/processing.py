"""Response and outcome declarations and responseProcessing, read into the `scoring_rules` models.

The standard templates are expanded here into the very rules the specification's template files hold (QTI 2.1
Information Model, "Response Processing Templates"; the same in 2.2 and 3.0):

  match_correct.xml: responseCondition( responseIf( match(variable RESPONSE, correct RESPONSE),
                     SCORE := baseValue float 1 ), responseElse( SCORE := baseValue float 0 ) )
  map_response.xml:  responseCondition( responseIf( isNull(variable RESPONSE), SCORE := baseValue float 0.0 ),
                     responseElse( SCORE := mapResponse RESPONSE ) )

(as in the template files of the specification's rptemplates folder, e.g. the copies oat-sa/qti-sdk and the TAO
item runner ship). A template is recognised by the last segment of its URI with or without `.xml`, whatever the
version's base URI; `templateLocation` is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.server.content.errors import PackageError
from sync.server.content.qti.tree import QTI3_NAMESPACE, Node, flag
from sync.server.content.scoring_rules import (
    BaseType,
    BaseValueExpr,
    Branch,
    Condition,
    CorrectExpr,
    Expr,
    MapEntry,
    MapResponseExpr,
    OperatorExpr,
    OutcomeDeclaration,
    ResponseDeclaration,
    ResponseMapping,
    Rule,
    SetOutcome,
    VariableExpr,
)

TEMPLATES = ("match_correct", "map_response")
_OPERATORS = {
    "match": ("match", 2),
    "member": ("member", 2),
    "isNull": ("is_null", 1),
    "sum": ("sum", 0),
    "and": ("and", 0),
    "or": ("or", 0),
    "not": ("not", 1),
    "gte": ("gte", 2),
    "lte": ("lte", 2),
    "stringMatch": ("string_match", 2),
}
"""QTI operator -> (our op, exact argument count; 0 means one or more)."""
_BASE_TYPES: tuple[BaseType, ...] = ("float", "integer", "boolean", "identifier", "string")
SUPPORTED = (
    "responseCondition, setOutcomeValue, baseValue, variable, correct, mapResponse, "
    "match, member, isNull, sum, and, or, not, gte, lte, stringMatch"
)


@dataclass(frozen=True)
class Declared:
    """What an item declares: its one response, its outcomes, and the outcome facts `points` comes from."""

    response: ResponseDeclaration
    outcomes: list[OutcomeDeclaration]
    normal_maximum: float | None


def _refuse(file: str, node: Node, message: str) -> PackageError:
    return PackageError(file, f"line {node.line}", message)


def _number(file: str, node: Node, attribute: str) -> float | None:
    raw = node.get(attribute)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise _refuse(
            file, node, f"{node.written} {attribute}={raw!r} is not a number; write it as e.g. 1 or 0.5"
        ) from None


def _values(node: Node | None) -> list[str]:
    return [] if node is None else [value.text_content().strip() for value in node.all("value")]


def read_response(file: str, item: Node, identifier: str, *, at: Node) -> ResponseDeclaration:
    """The responseDeclaration the interaction is bound to, with its correctResponse and mapping."""
    found = [d for d in item.all("responseDeclaration") if d.get("identifier") == identifier]
    if not found:
        raise _refuse(file, at, f"the interaction's response '{identifier}' has no responseDeclaration; declare it")
    node = found[0]
    cardinality = node.get("cardinality", "single")
    base_type = node.get("baseType", "")
    if cardinality not in ("single", "multiple"):
        raise _refuse(file, node, f"response cardinality '{cardinality}' is not supported; use single or multiple")
    if base_type not in ("identifier", "string"):
        raise _refuse(file, node, f"response baseType '{base_type}' is not supported; use identifier or string")
    if node.child("areaMapping") is not None:
        raise _refuse(
            file, node, "areaMapping (point responses) is not supported; Invigil marks choices and typed text only"
        )
    correct = _values(node.child("correctResponse"))
    if cardinality == "single" and len(correct) > 1:
        raise _refuse(
            file,
            node,
            f"correctResponse has {len(correct)} values for a single-cardinality response; keep one, or make the response cardinality multiple",
        )
    return ResponseDeclaration(
        identifier=identifier,
        cardinality="single" if cardinality == "single" else "multiple",
        base_type="identifier" if base_type == "identifier" else "string",
        correct=correct,
        mapping=_mapping(file, node.child("mapping")),
    )


def _mapping(file: str, node: Node | None) -> ResponseMapping | None:
    if node is None:
        return None
    entries = []
    for entry in node.all("mapEntry"):
        value = _number(file, entry, "mappedValue")
        if entry.get("mapKey") is None or value is None:
            raise _refuse(file, entry, f"{entry.written} needs mapKey and mappedValue")
        # caseSensitive is required in QTI 2.1/2.2 (absent: case-sensitive, as qti-sdk reads it); the QTI 3.0 ASI
        # XSD (MapEntryDType) makes case-sensitive optional with default="false".
        sensitive = flag(file, entry, "caseSensitive", default=entry.namespace != QTI3_NAMESPACE)
        entries.append(MapEntry(key=entry.get("mapKey", ""), value=value, case_sensitive=sensitive))
    if not entries:
        raise _refuse(file, node, "mapping has no mapEntry; add one or remove the mapping")
    return ResponseMapping(
        entries=entries,
        default=_number(file, node, "defaultValue") or 0.0,
        lower_bound=_number(file, node, "lowerBound"),
        upper_bound=_number(file, node, "upperBound"),
    )


def read_outcomes(file: str, item: Node) -> tuple[list[OutcomeDeclaration], float | None, dict[str, PackageError]]:
    """The usable outcomeDeclarations (single cardinality, a supported baseType), SCORE's normalMaximum if it has
    one, and the refusal for each unusable one, raised only if a rule uses it (feedback outcomes of multiple
    cardinality are common and harmless while no rule touches them)."""
    outcomes: list[OutcomeDeclaration] = []
    unusable: dict[str, PackageError] = {}
    normal_maximum = None
    for node in item.all("outcomeDeclaration"):
        identifier = node.get("identifier", "")
        base_type = node.get("baseType", "")
        if node.get("cardinality", "single") != "single":
            unusable[identifier] = _refuse(
                file, node, f"outcome '{identifier}' has cardinality {node.get('cardinality')}; use single"
            )
            continue
        if base_type not in _BASE_TYPES:
            unusable[identifier] = _refuse(
                file,
                node,
                f"outcome '{identifier}' has baseType '{base_type}', which is not supported; use float, integer, boolean, identifier or string",
            )
            continue
        defaults = _values(node.child("defaultValue"))
        default = _typed(file, node, base_type, defaults[0]) if defaults else None
        outcomes.append(OutcomeDeclaration(identifier=identifier, base_type=base_type, default=default))
        if identifier == "SCORE":
            normal_maximum = _number(file, node, "normalMaximum")
    if "SCORE" in unusable:
        raise unusable["SCORE"]
    return outcomes, normal_maximum, unusable


def _typed(file: str, node: Node, base_type: str, text: str) -> float | int | bool | str:
    try:
        if base_type == "float":
            return float(text)
        if base_type == "integer":
            return int(text)
    except ValueError:
        raise _refuse(file, node, f"'{text}' is not a {base_type} value; correct the value") from None
    if base_type == "boolean":
        if text not in ("true", "false", "1", "0"):
            raise _refuse(file, node, f"'{text}' is not a boolean value (true or false)")
        return text in ("true", "1")
    return text


def template_name(file: str, node: Node) -> str | None:
    """The standard template a responseProcessing names (by the URI's last segment), or None for custom rules."""
    uri = node.get("template")
    if uri is None:
        return None
    name = uri.rstrip("/").rsplit("/", 1)[-1].removesuffix(".xml")
    if name == "map_response_point":
        raise _refuse(
            file,
            node,
            "template map_response_point is for point (graphic) responses, which Invigil does not support; use match_correct or map_response",
        )
    if name not in TEMPLATES:
        raise _refuse(
            file, node, f"response processing template '{uri}' is not supported; use {' or '.join(TEMPLATES)}"
        )
    if any(child.name != "templateLocation" for child in node.children):
        raise _refuse(file, node, "responseProcessing has both a template and rules of its own; keep one")
    return name


def template_rules(file: str, node: Node, name: str, response: ResponseDeclaration) -> list[Rule]:
    """The template's rules (see the module docstring); the templates speak of RESPONSE and SCORE only."""
    if response.identifier != "RESPONSE":
        raise _refuse(
            file,
            node,
            f"template {name} marks the response 'RESPONSE', but the item's is "
            f"'{response.identifier}'; rename it or write the rules out",
        )
    then: Expr
    otherwise: Expr
    if name == "match_correct":
        if not response.correct:
            raise _refuse(file, node, "template match_correct needs a correctResponse, which the item lacks")
        when: Expr = OperatorExpr(op="match", args=[VariableExpr(variable="RESPONSE"), CorrectExpr(correct="RESPONSE")])
        then = BaseValueExpr(base="float", value=1.0)
        otherwise = BaseValueExpr(base="float", value=0.0)
    else:
        if response.mapping is None:
            raise _refuse(file, node, "template map_response needs a mapping in the responseDeclaration")
        when = OperatorExpr(op="is_null", args=[VariableExpr(variable="RESPONSE")])
        then = BaseValueExpr(base="float", value=0.0)
        otherwise = MapResponseExpr(map_response="RESPONSE")
    return [
        Condition(
            branches=[Branch(when=when, then=[SetOutcome(set="SCORE", value=then)])],
            otherwise=[SetOutcome(set="SCORE", value=otherwise)],
        )
    ]


class RuleReader:
    """Custom responseProcessing read rule by rule; anything outside the supported subset is refused by name."""

    def __init__(
        self,
        file: str,
        declared_response: ResponseDeclaration,
        outcomes: list[OutcomeDeclaration],
        unusable: dict[str, PackageError],
    ) -> None:
        self.file = file
        self.response = declared_response
        self.outcomes = {outcome.identifier for outcome in outcomes}
        self.unusable = unusable

    def unsupported(self, node: Node) -> PackageError:
        return _refuse(
            self.file,
            node,
            f"responseProcessing uses {node.written}, which Invigil does not support (supported: {SUPPORTED})",
        )

    def rules(self, parent: Node) -> list[Rule]:
        rules: list[Rule] = []
        for node in parent.children:
            if node.name == "setOutcomeValue":
                rules.append(self.set_outcome(node))
            elif node.name == "responseCondition":
                rules.append(self.condition(node))
            else:
                raise self.unsupported(node)
        return rules

    def set_outcome(self, node: Node) -> SetOutcome:
        identifier = node.get("identifier", "")
        if identifier in self.unusable:
            raise self.unusable[identifier]
        if identifier not in self.outcomes:
            raise _refuse(
                self.file, node, f"setOutcomeValue names '{identifier}', which no outcomeDeclaration declares"
            )
        return SetOutcome(set=identifier, value=self.single_expr(node))

    def condition(self, node: Node) -> Condition:
        branches: list[Branch] = []
        otherwise: list[Rule] = []
        for part in node.children:
            if part.name in ("responseIf", "responseElseIf"):
                if not part.children:
                    raise _refuse(self.file, part, f"{part.written} needs a condition first")
                head, *body = part.children
                shell = Node(name="", written="", namespace="", attrs={}, line=part.line, children=body)
                branches.append(Branch(when=self.expr(head), then=self.rules(shell)))
            elif part.name == "responseElse":
                otherwise = self.rules(part)
            else:
                raise self.unsupported(part)
        if not branches:
            raise _refuse(self.file, node, "responseCondition without a responseIf (with its condition)")
        return Condition(branches=branches, otherwise=otherwise)

    def single_expr(self, node: Node) -> Expr:
        if len(node.children) != 1:
            raise _refuse(self.file, node, f"{node.written} needs exactly one expression inside")
        return self.expr(node.children[0])

    def expr(self, node: Node) -> Expr:
        name = node.name
        if name == "baseValue":
            base_type = node.get("baseType", "")
            if base_type not in _BASE_TYPES:
                raise _refuse(
                    self.file,
                    node,
                    f"baseValue baseType '{base_type}' is not supported; use float, integer, boolean, identifier or string",
                )
            value = _typed(self.file, node, base_type, node.text_content().strip())
            return BaseValueExpr(base=base_type, value=value)
        if name in ("variable", "correct", "mapResponse"):
            return self.reference(node)
        if name not in _OPERATORS:
            raise self.unsupported(node)
        op, arity = _OPERATORS[name]
        args = [self.expr(child) for child in node.children]
        if (arity and len(args) != arity) or not args:
            count = f"exactly {arity}" if arity else "at least one"
            raise _refuse(self.file, node, f"{node.written} needs {count} expression(s) inside, has {len(args)}")
        if name == "stringMatch":
            if flag(self.file, node, "substring", default=False):
                raise _refuse(self.file, node, f'{node.written} substring="true" is not supported')
            if node.get("caseSensitive") is None:
                raise _refuse(self.file, node, f'{node.written} needs caseSensitive="true" or "false"')
            sensitive = flag(self.file, node, "caseSensitive", default=True)
            return OperatorExpr(op=op, args=args, case_sensitive=sensitive)
        return OperatorExpr(op=op, args=args)

    def reference(self, node: Node) -> Expr:
        identifier = node.get("identifier", "")
        if node.name == "variable":
            if identifier in self.unusable:
                raise self.unusable[identifier]
            if identifier != self.response.identifier and identifier not in self.outcomes:
                raise _refuse(
                    self.file, node, f"variable '{identifier}' is neither the response nor a declared outcome"
                )
            return VariableExpr(variable=identifier)
        if identifier != self.response.identifier:
            raise _refuse(self.file, node, f"{node.written} names '{identifier}', not the item's response")
        if node.name == "correct":
            return CorrectExpr(correct=identifier)
        if self.response.mapping is None:
            raise _refuse(
                self.file, node, f"{node.written} needs a mapping in the responseDeclaration of '{identifier}'"
            )
        return MapResponseExpr(map_response=identifier)


def sets_score(rules: list[Rule]) -> bool:
    for rule in rules:
        if isinstance(rule, SetOutcome) and rule.set == "SCORE":
            return True
        if isinstance(rule, Condition) and (
            any(sets_score(branch.then) for branch in rule.branches) or sets_score(rule.otherwise)
        ):
            return True
    return False
