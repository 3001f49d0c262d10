"""One assessmentItem file turned into an internal item (a manifest.json item as a dict) with its scoring rules."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from sync.server.content.errors import PackageError
from sync.server.content.manifest import ID_PATTERN
from sync.server.content.qti.body import Body, flat_text, read_body
from sync.server.content.qti.processing import (
    RuleReader,
    read_outcomes,
    read_response,
    sets_score,
    template_name,
    template_rules,
)
from sync.server.content.qti.tree import QTI_NAMESPACES, Node, flag, parse_xml
from sync.server.content.scoring_rules import OutcomeDeclaration, QtiScoring, ResponseDeclaration, Rule

_ID = re.compile(ID_PATTERN)


def _at(node: Node) -> str:
    return f"line {node.line}"


def check_id(file: str, node: Node, value: str | None, what: str) -> str:
    if value is None or not _ID.match(value):
        raise PackageError(
            file, _at(node), f"{what} {value!r} is not a usable id; use up to 64 letters, digits, '_', '.' or '-'"
        )
    return value


def read_item(file: str, data: bytes, *, package_files: Collection[str]) -> dict[str, Any]:
    """The item as manifest.json would hold it; media as paths inside the package (which must hold them)."""
    root = parse_xml(data, file)
    if root.name != "assessmentItem" or root.namespace not in QTI_NAMESPACES:
        raise PackageError(
            file,
            _at(root),
            f"not a QTI 2.1/2.2/3.0 assessmentItem (root element {root.written!r} in namespace "
            f"{root.namespace or 'none'!r}); check the manifest's resource for this file",
        )
    identifier = check_id(file, root, root.get("identifier"), "item identifier")
    for unsupported in ("templateDeclaration", "templateProcessing"):
        node = root.child(unsupported)
        if node is not None:
            raise PackageError(
                file,
                _at(node),
                f"{node.written} (item templates/cloning) is not supported; export each variant as an item of its own",
            )
    if flag(file, root, "adaptive", default=False):
        raise PackageError(file, _at(root), 'adaptive items (several attempts) are not supported; set adaptive="false"')
    item_body = root.child("itemBody")
    if item_body is None:
        raise PackageError(file, _at(root), "has no itemBody; add the item's content")
    body = read_body(file, item_body)
    if not body.interactions:
        raise PackageError(
            file, _at(item_body), "has no interaction; add a choice, text entry or extended text interaction"
        )
    if len(body.interactions) > 1:
        second = body.interactions[1]
        raise PackageError(
            file,
            _at(second),
            f"a second interaction ({second.written}); Invigil items have exactly one; split the item",
        )
    interaction = body.interactions[0]
    response_id = interaction.get("responseIdentifier")
    if response_id is None:
        raise PackageError(
            file,
            _at(interaction),
            f"{interaction.written} has no responseIdentifier; name its responseDeclaration there",
        )
    response = read_response(file, root, response_id, at=interaction)
    # An item whose body is only media and the interaction shows its title, so the prompt is never empty.
    item: dict[str, Any] = {"id": identifier, "prompt": body.prompt or root.get("title") or identifier}
    if interaction.name == "choiceInteraction":
        item.update(_choice(file, interaction, response))
    else:
        item.update(_text(file, interaction, response))
    item.update(_media(file, body, package_files))
    scoring, points = _scoring(file, root, response, item)
    item["points"] = points
    if scoring is not None:
        item["qti"] = scoring.model_dump(mode="json")
    return item


def _choice(file: str, node: Node, response: ResponseDeclaration) -> dict[str, Any]:
    if response.base_type != "identifier":
        raise PackageError(
            file,
            _at(node),
            f"{node.written} needs a response of baseType identifier; change the responseDeclaration's baseType",
        )
    options: list[dict[str, Any]] = []
    ids: list[str] = []
    for choice in node.all("simpleChoice"):
        option_id = check_id(file, choice, choice.get("identifier"), "simpleChoice identifier")
        text = flat_text(file, choice)
        if not text:
            raise PackageError(file, _at(choice), f"simpleChoice '{option_id}' has no text; Invigil shows text options")
        if option_id in ids:
            raise PackageError(file, _at(choice), f"a second simpleChoice '{option_id}'; ids must differ")
        ids.append(option_id)
        options.append({"id": option_id, "text": text, "fixed": flag(file, choice, "fixed", default=False)})
    if len(options) < 2:
        raise PackageError(file, _at(node), f"{node.written} has {len(options)} simpleChoice; give at least two")
    for value in response.correct:
        if value not in ids:
            raise PackageError(
                file,
                _at(node),
                f"correctResponse names '{value}', which no simpleChoice is; use one of the choices' identifiers",
            )
    shuffle = flag(file, node, "shuffle", default=False)
    max_choices = _count(file, node, "maxChoices", default=1)
    min_choices = _count(file, node, "minChoices", default=0)
    if response.cardinality == "single":
        if max_choices > 1:
            raise PackageError(
                file,
                _at(node),
                f"maxChoices={max_choices} with a single-cardinality response; make the response multiple or set maxChoices=1",
            )
        correct = response.correct[0] if response.correct else None
        return {"type": "single_choice", "options": options, "correct": correct, "shuffle": shuffle}
    if max_choices > len(options):
        raise PackageError(
            file,
            _at(node),
            f"maxChoices={max_choices}, but there are only {len(options)} choices; lower it (0 means no limit)",
        )
    return {
        "type": "multiple_choice",
        "options": options,
        "correct": response.correct,
        "shuffle": shuffle,
        "max_choices": max_choices or None,  # QTI: maxChoices 0 means no limit
        "min_choices": min_choices,
    }


def _count(file: str, node: Node, attribute: str, *, default: int) -> int:
    raw = node.get(attribute)
    if raw is None:
        return default
    if not raw.isdigit():
        raise PackageError(file, _at(node), f"{node.written} {attribute}={raw!r} is not a whole number; write e.g. 2")
    return int(raw)


def _text(file: str, node: Node, response: ResponseDeclaration) -> dict[str, Any]:
    if response.base_type != "string" or response.cardinality != "single":
        raise PackageError(
            file, _at(node), f"{node.written} needs a response of baseType string and cardinality single"
        )
    if node.name == "extendedTextInteraction":
        # expectedLength/expectedLines are hints for the box's size, not limits: Invigil's own limit stays.
        return {"type": "extended_text"}
    # expectedLength is a hint too; the field only grows so that every answer the key names can be typed.
    keys = response.correct + [entry.key for entry in (response.mapping.entries if response.mapping else [])]
    return {"type": "short_text", "accepted": response.correct, "max_length": max([200, *map(len, keys)])}


def _media(file: str, body: Body, package_files: Collection[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for use in body.media:
        if use.path not in package_files:
            raise PackageError(
                file, _at(use.node), f"names {use.role} '{use.path}', which is not in the package; add it"
            )
        if use.role in found:
            raise PackageError(
                file,
                _at(use.node),
                f"a second {use.role} in the item; Invigil items have at most one image and one audio",
            )
        found[use.role] = use.path
        if use.role == "audio" and use.max_plays is not None:
            found["max_plays"] = use.max_plays
        if use.role == "audio" and not use.autoplay:
            found["autoplay"] = False
    return found


def _scoring(
    file: str, root: Node, response: ResponseDeclaration, item: dict[str, Any]
) -> tuple[QtiScoring | None, float]:
    """The item's QTI scoring (None: marked by hand) and its points, as the brief's rule for `points` says."""
    outcomes, normal_maximum, unusable = read_outcomes(file, root)
    processing = root.child("responseProcessing")
    template = None
    rules: list[Rule] = []
    if processing is not None:
        template = template_name(file, processing)
        if template is not None:
            rules = template_rules(file, processing, template, response)
        else:
            rules = RuleReader(file, response, outcomes, unusable).rules(processing)
    declared_max = _max_score(outcomes)
    if not sets_score(rules):
        if item["type"] != "extended_text":
            raise PackageError(
                file,
                _at(processing or root),
                "no responseProcessing sets SCORE, so the item cannot be marked; add one (e.g. template match_correct)",
            )
        return None, _checked_points(file, root, declared_max or normal_maximum or 1.0)
    score = next((outcome for outcome in outcomes if outcome.identifier == "SCORE"), None)
    if score is None or score.base_type not in ("float", "integer"):
        raise PackageError(file, _at(processing or root), "declare the outcome SCORE (baseType float or integer)")
    if template is not None and score.base_type != "float":
        # The templates set SCORE to float values (rptemplates); an integer SCORE would not hold them.
        raise PackageError(
            file, _at(processing or root), f"template {template} needs SCORE of baseType float; declare it so"
        )
    scoring = QtiScoring(response=response, outcomes=outcomes, rules=rules, template=template, source=file)
    points = declared_max or normal_maximum or _template_points(template, response, item)
    if points is None:
        raise PackageError(
            file, _at(processing or root), "declare MAXSCORE (its defaultValue is the item's points) or normalMaximum"
        )
    return scoring, _checked_points(file, root, points)


def _max_score(outcomes: list[OutcomeDeclaration]) -> float | None:
    for outcome in outcomes:
        if outcome.identifier == "MAXSCORE" and isinstance(outcome.default, int | float):
            return float(outcome.default)
    return None


def _template_points(template: str | None, response: ResponseDeclaration, item: dict[str, Any]) -> float | None:
    if template == "match_correct":
        return 1.0
    if template != "map_response" or response.mapping is None:
        return None
    mapping = response.mapping
    if mapping.upper_bound is not None:
        return mapping.upper_bound
    best = sorted((entry.value for entry in mapping.entries if entry.value > 0), reverse=True)
    if response.cardinality == "single":
        return max([*best[:1], mapping.default, 0.0])
    limit = item.get("max_choices")
    return sum(best[:limit] if limit else best)


def _checked_points(file: str, root: Node, points: float) -> float:
    if not 0.01 <= points <= 1000:
        raise PackageError(
            file, _at(root), f"the item's maximum score is {points:g}; Invigil needs 0.01 to 1000 (declare MAXSCORE)"
        )
    return round(points, 2)
