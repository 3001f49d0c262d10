"""Writing an assessment as a QTI 3.0 content package (IMS CP zip) that imports back to the same marks.

The zip (QTI 3.0 Implementation Guide, "Packaging", as in 1EdTech's example packages): `imsmanifest.xml` (IMS CP
1.1 as QTI 3.0 profiles it: one `imsqti_test_xmlv3p0` resource, one `imsqti_item_xmlv3p0` per item, one
`webcontent` per media file, each with its `file` and `dependency`s), `assessment.xml`, `item-<id>.xml` per item,
and the media under `media/`, each file once however many items use it.

Native items get response processing that gives Invigil's own score (docs/content-format.md, "Scoring"); items
imported from QTI write their own rules back. Dictation has no QTI equivalent: it becomes an extended-text item with
its audio (hand marked after import), flagged in the XML and in the report.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree as ET

from sync.server.content import scoring_rules as model
from sync.server.content.manifest import (
    AnyItem,
    DictationItem,
    ExtendedTextItem,
    Manifest,
    MediaAsset,
    MultipleChoiceItem,
    Section,
    ShortTextItem,
    SingleChoiceItem,
)

QTI_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
CP_NS = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
_XSI_LOCATION = "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation"
_QTI_XSD = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
_CP_XSD = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"
# QTI 3.0 ASI, "Response Processing Templates": where the standard templates live.
TEMPLATES = {
    "match_correct": "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml",
    "map_response": "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response.xml",
}
TEST_FILE = "assessment.xml"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # control characters outside XML 1.0's Char
DICTATION_NOTE = " Invigil dictation (QTI has none): an extended-text interaction with its audio; mark it by hand. "


class ExportError(Exception):
    """The assessment cannot be written as QTI (a media file is missing, say)."""


@dataclass
class ExportReport:
    path: Path
    items: int
    media_files: int
    dictation_items: list[str]
    """Exported as extended text: they need hand marking once the package is imported again."""


def export_qti(manifest: Manifest, media: Mapping[str, bytes], out: Path) -> ExportReport:
    """Writes `manifest` (media resolved; their bytes in `media` by sha256) as a QTI 3.0 zip at `out`: beside it
    first, moved into place only when complete, so a failure leaves no half file."""
    files, dictation = package_files(manifest, media)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        os.replace(temp_name, out)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    media_count = len(files) - len(manifest.items()) - 2
    return ExportReport(path=out, items=len(manifest.items()), media_files=media_count, dictation_items=dictation)


def package_files(manifest: Manifest, media: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
    """Every file of the package by its name, and the ids of the dictation items (exported for hand marking)."""
    names = _media_names(manifest)
    files: dict[str, bytes] = {}
    item_media: dict[str, list[str]] = {}
    for item in manifest.items().values():
        files[_item_href(item.id)] = _xml_bytes(_item_xml(item, names))
        item_media[item.id] = list(dict.fromkeys(names[asset.sha256] for asset in _assets(item)))
    for sha256, name in names.items():
        if sha256 not in media:
            raise ExportError(f"media file {name} (sha256 {sha256[:12]}…) is missing; load the package again")
        files[name] = media[sha256]
    files[TEST_FILE] = _xml_bytes(_test_xml(manifest))
    cp_manifest = _xml_bytes(_cp_manifest(manifest, item_media, names))
    dictation = [item.id for item in manifest.items().values() if isinstance(item, DictationItem)]
    return {"imsmanifest.xml": cp_manifest, **files}, dictation


# ---- the package manifest and the test ----------------------------------------------------------------


def _cp_manifest(manifest: Manifest, item_media: dict[str, list[str]], names: dict[str, str]) -> ET.Element:
    root = ET.Element("manifest", {"xmlns": CP_NS, "identifier": f"M-{manifest.id}", "version": manifest.version})
    root.set(_XSI_LOCATION, f"{CP_NS} {_CP_XSD}")
    metadata = _sub(root, "metadata")
    _sub(metadata, "schema").text = "QTI Package"
    _sub(metadata, "schemaversion").text = "3.0.0"
    _sub(root, "organizations")
    resources = _sub(root, "resources")
    media_ids = {name: f"R-{sha256[:16]}" for sha256, name in names.items()}

    def resource(identifier: str, kind: str, href: str, needs: list[str]) -> None:
        element = _sub(resources, "resource", identifier=identifier, type=kind, href=href)
        _sub(element, "file", href=href)
        for need in needs:
            _sub(element, "dependency", identifierref=need)

    resource(f"T-{manifest.id}", "imsqti_test_xmlv3p0", TEST_FILE, [f"I-{item_id}" for item_id in item_media])
    for item_id, used in item_media.items():
        resource(f"I-{item_id}", "imsqti_item_xmlv3p0", _item_href(item_id), [media_ids[name] for name in used])
    for name, identifier in media_ids.items():
        resource(identifier, "webcontent", name, [])
    return root


def _test_xml(manifest: Manifest) -> ET.Element:
    root = _root("qti-assessment-test", identifier=manifest.id, title=manifest.title)
    part = _sub(root, "qti-test-part", identifier="part-1", navigation_mode="nonlinear", submission_mode="simultaneous")
    for section in manifest.sections:
        _section_xml(part, section)
    return root


def _section_xml(part: ET.Element, section: Section) -> None:
    # Child order as in the QTI 3.0 XSD (AssessmentSection): time limits, ordering, rubric blocks, item refs.
    element = _sub(part, "qti-assessment-section", identifier=section.id, title=section.title, visible="true")
    _sub(element, "qti-time-limits", max_time=str(section.time_limit()))  # in seconds (ASI, TimeLimits)
    if section.shuffle:
        _sub(element, "qti-ordering", shuffle="true")
    if section.instructions:
        rubric = _sub(element, "qti-rubric-block", use="instructions", view="candidate")
        _paragraphs(_sub(rubric, "qti-content-body"), section.instructions)
    for item in section.items:
        ref = _sub(element, "qti-assessment-item-ref", identifier=item.id, href=_item_href(item.id))
        if item.id in section.fixed_items:
            ref.set("fixed", "true")


def _item_xml(item: AnyItem, names: dict[str, str]) -> ET.Element:
    attributes = {"identifier": item.id, "title": " ".join(item.prompt.split())[:80], "adaptive": "false"}
    root = _root("qti-assessment-item", time_dependent="false", **attributes)
    if isinstance(item, DictationItem):
        root.append(ET.Comment(DICTATION_NOTE))
    scoring = scoring_for(item)
    text = model.ResponseDeclaration(identifier="RESPONSE", cardinality="single", base_type="string")
    response = scoring.response if scoring else text
    _response_declaration(root, response)
    if item.audio is not None:  # the media interaction's own variable: how often the audio was played
        _sub(root, "qti-response-declaration", identifier="AUDIO", cardinality="single", base_type="integer")
    for outcome in scoring.outcomes if scoring else _outcomes(item.points):
        element = _sub(root, "qti-outcome-declaration", identifier=outcome.identifier, cardinality="single")
        element.set("base-type", outcome.base_type)
        if outcome.default is not None:
            _sub(_sub(element, "qti-default-value"), "qti-value", _value(outcome.default))
    _item_body(_sub(root, "qti-item-body"), item, names, response=response.identifier)
    if scoring is not None and scoring.template is not None:
        _sub(root, "qti-response-processing", template=TEMPLATES[scoring.template])
    elif scoring is not None and scoring.rules:
        processing = _sub(root, "qti-response-processing")
        for rule in scoring.rules:
            _rule(processing, rule)
    return root


def _item_body(body: ET.Element, item: AnyItem, names: dict[str, str], *, response: str) -> None:
    if item.image is not None:
        _sub(_sub(body, "p"), "img", src=names[_asset(item.image).sha256], alt="")
    if item.audio is not None:
        audio, plays = _asset(item.audio), str(item.max_plays or 0)  # max-plays 0: no limit
        start = _bool(item.autoplay)  # autostart: true where Invigil starts it by itself (native items do)
        player = _sub(body, "qti-media-interaction", response_identifier="AUDIO", autostart=start, max_plays=plays)
        _sub(player, "object", data=names[audio.sha256], type=audio.mime_type)
    if isinstance(item, SingleChoiceItem | MultipleChoiceItem):
        most = 1 if isinstance(item, SingleChoiceItem) else item.max_choices or 0  # max-choices 0: no limit
        interaction = _sub(body, "qti-choice-interaction", response_identifier=response, shuffle=_bool(item.shuffle))
        interaction.set("max-choices", str(most))
        if isinstance(item, MultipleChoiceItem) and item.min_choices:
            interaction.set("min-choices", str(item.min_choices))
        _sub(interaction, "qti-prompt", item.prompt)
        for option in item.options:
            choice = _sub(interaction, "qti-simple-choice", option.text, identifier=option.id)
            if option.fixed:
                choice.set("fixed", "true")
        return
    if isinstance(item, ShortTextItem):
        _paragraphs(body, item.prompt)
        entry = _sub(_sub(body, "p"), "qti-text-entry-interaction", response_identifier=response)
        entry.set("expected-length", str(item.max_length))
        return
    interaction = _sub(body, "qti-extended-text-interaction", response_identifier=response)
    interaction.set("expected-length", str(item.max_length))
    _sub(interaction, "qti-prompt", item.prompt)
    notes = item.guidance if isinstance(item, ExtendedTextItem) else f"The passage as spoken: {item.text}"
    if notes:
        _paragraphs(_sub(_sub(body, "qti-rubric-block", use="scoring", view="scorer"), "qti-content-body"), notes)


def scoring_for(item: AnyItem) -> model.QtiScoring | None:
    """QTI response processing giving the item's score as Invigil marks it; None for items marked by hand."""
    if isinstance(item, DictationItem) or (isinstance(item, ExtendedTextItem) and item.qti is None):
        return None
    if item.qti is not None:
        if any(outcome.identifier == "MAXSCORE" for outcome in item.qti.outcomes):
            return item.qti
        return item.qti.model_copy(update={"outcomes": [*item.qti.outcomes, _outcomes(item.points)[1]]})
    points = float(item.points)
    response: dict[str, Any] = {"identifier": "RESPONSE", "cardinality": "single", "base_type": "identifier"}
    if isinstance(item, SingleChoiceItem):
        assert item.correct is not None, "checked when the package was loaded"
        # match_correct's test, but SCORE = points rather than 1.
        matched = {"op": "match", "args": [{"variable": "RESPONSE"}, {"correct": "RESPONSE"}]}
        return _scoring({**response, "correct": [item.correct]}, _condition(matched, points, 0.0), points)
    if isinstance(item, MultipleChoiceItem):
        response |= {"cardinality": "multiple", "correct": list(item.correct)}
        if item.scoring == "all_or_nothing":
            # Every right option ticked and no wrong one. Not `match` on the container: QTI's multiple containers
            # are bags, so a repeated tick would fail a match, while Invigil ignores repeats (member does too).
            ticked = [_member(o.id, o.id in item.correct) for o in item.options]
            return _scoring(response, _condition({"op": "and", "args": ticked}, points, 0.0), points)
        # points × max(0, right − wrong) / correct: each right pick +points/n, each wrong one −points/n, bounded
        # below by 0 (QTI: mapping lowerBound). A container's values are mapped once each (ASI, mapResponse).
        share = points / len(item.correct)
        entries = [{"key": o.id, "value": share if o.id in item.correct else -share} for o in item.options]
        mapping = {"entries": entries, "lower_bound": 0.0, "upper_bound": points}
        return _scoring({**response, "mapping": mapping}, _MAP_RESPONSE, points, "map_response")
    assert isinstance(item, ShortTextItem), "extended text without rules is marked by hand (above)"
    # Typed responses are normalised before processing (NFKC, trimmed, whitespace collapsed), so the keys are too;
    # keys that differ only in case would both match an answer when case does not matter: keep the first.
    keys: dict[str, str] = {}
    for accepted in item.accepted:
        key = " ".join(unicodedata.normalize("NFKC", accepted).split())
        keys.setdefault(key if item.case_sensitive else key.casefold(), key)
    entries = [{"key": key, "value": points, "case_sensitive": item.case_sensitive} for key in keys.values()]
    response |= {"base_type": "string", "correct": [next(iter(keys.values()))]}
    mapping = {"entries": entries, "upper_bound": points}
    return _scoring({**response, "mapping": mapping}, _MAP_RESPONSE, points, "map_response")


def _scoring(
    response: dict[str, Any], rules: list[Any], points: float, template: str | None = None
) -> model.QtiScoring:
    data = {"response": response, "outcomes": _outcomes(points), "rules": rules, "template": template}
    return model.QtiScoring.model_validate(data)


def _outcomes(points: float) -> list[model.OutcomeDeclaration]:
    declared = {"SCORE": 0.0, "MAXSCORE": float(points)}
    return [model.OutcomeDeclaration(identifier=name, base_type="float", default=v) for name, v in declared.items()]


def _condition(when: dict[str, Any], then: float | dict[str, Any], otherwise: float | dict[str, Any]) -> list[Any]:
    """Rules for: if `when`, SCORE = `then`, else SCORE = `otherwise` (numbers as float base values)."""
    then, otherwise = ({"base": "float", "value": v} if isinstance(v, float) else v for v in (then, otherwise))
    return [
        {
            "branches": [{"when": when, "then": [{"set": "SCORE", "value": then}]}],
            "otherwise": [{"set": "SCORE", "value": otherwise}],
        }
    ]


def _member(option_id: str, wanted: bool) -> dict[str, Any]:
    member = {"op": "member", "args": [{"base": "identifier", "value": option_id}, {"variable": "RESPONSE"}]}
    return member if wanted else {"op": "not", "args": [member]}


# The map_response template's rules (QTI 3.0 rptemplates/map_response.xml); the export writes the template's URI.
_MAP_RESPONSE = _condition({"op": "is_null", "args": [{"variable": "RESPONSE"}]}, 0.0, {"map_response": "RESPONSE"})


def _response_declaration(root: ET.Element, response: model.ResponseDeclaration) -> None:
    element = _sub(root, "qti-response-declaration", identifier=response.identifier, cardinality=response.cardinality)
    element.set("base-type", response.base_type)
    if response.correct:
        correct = _sub(element, "qti-correct-response")
        for value in response.correct:
            _sub(correct, "qti-value", value)
    mapping = response.mapping
    if mapping is None:
        return
    bounds = {"lower_bound": mapping.lower_bound, "upper_bound": mapping.upper_bound}
    attributes = {name: _value(float(bound)) for name, bound in bounds.items() if bound is not None}
    mapping_element = _sub(element, "qti-mapping", default_value=_value(float(mapping.default)), **attributes)
    for entry in mapping.entries:
        map_entry = _sub(mapping_element, "qti-map-entry", map_key=entry.key, mapped_value=_value(float(entry.value)))
        map_entry.set("case-sensitive", _bool(entry.case_sensitive))


def _rule(parent: ET.Element, rule: model.Rule) -> None:
    if isinstance(rule, model.SetOutcome):
        _expr(_sub(parent, "qti-set-outcome-value", identifier=rule.set), rule.value)
        return
    condition = _sub(parent, "qti-response-condition")
    for n, branch in enumerate(rule.branches):
        element = _sub(condition, "qti-response-if" if n == 0 else "qti-response-else-if")
        _expr(element, branch.when)
        for inner in branch.then:
            _rule(element, inner)
    if rule.otherwise:
        otherwise = _sub(condition, "qti-response-else")
        for inner in rule.otherwise:
            _rule(otherwise, inner)


def _expr(parent: ET.Element, expr: model.Expr) -> None:
    if isinstance(expr, model.BaseValueExpr):
        _sub(parent, "qti-base-value", _value(expr.value), base_type=expr.base)
    elif isinstance(expr, model.VariableExpr):
        _sub(parent, "qti-variable", identifier=expr.variable)
    elif isinstance(expr, model.CorrectExpr):
        _sub(parent, "qti-correct", identifier=expr.correct)
    elif isinstance(expr, model.MapResponseExpr):
        _sub(parent, "qti-map-response", identifier=expr.map_response)
    else:  # operators: is_null -> qti-is-null, string_match -> qti-string-match, ...
        element = _sub(parent, "qti-" + expr.op.replace("_", "-"))
        if expr.op == "string_match":
            element.set("case-sensitive", _bool(bool(expr.case_sensitive)))
        for arg in expr.args:
            _expr(element, arg)


def _media_names(manifest: Manifest) -> dict[str, str]:
    """sha256 -> its file in the zip: under media/ by its name in the package, unless another file took that."""
    names: dict[str, str] = {}
    for item in manifest.items().values():
        for asset in _assets(item):
            if asset.sha256 not in names:
                name = f"media/{PurePosixPath(asset.path).name}"
                taken = name in names.values()
                names[asset.sha256] = f"media/{asset.sha256[:16]}-{PurePosixPath(asset.path).name}" if taken else name
    return names


def _assets(item: AnyItem) -> list[MediaAsset]:
    return [_asset(ref) for ref in (item.image, item.audio) if ref is not None]


def _asset(ref: str | MediaAsset) -> MediaAsset:
    if not isinstance(ref, MediaAsset):
        raise ExportError(f"media {ref!r} was never resolved; export an assessment as stored (load_package)")
    return ref


def _item_href(item_id: str) -> str:
    return f"item-{item_id}.xml"


def _paragraphs(parent: ET.Element, text: str) -> None:
    for paragraph in [p for p in text.split("\n\n") if p.strip()] or [text]:
        _sub(parent, "p", paragraph)


def _root(tag: str, **attributes: str) -> ET.Element:
    root = ET.Element(tag, {"xmlns": QTI_NS, **{name.replace("_", "-"): v for name, v in attributes.items()}})
    root.set(_XSI_LOCATION, f"{QTI_NS} {_QTI_XSD}")
    return root


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    # QTI's kebab-case attribute names are given with '_' (max_time -> max-time).
    element = ET.SubElement(parent, tag, {name.replace("_", "-"): value for name, value in attributes.items()})
    element.text = text
    return element


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _value(value: float | int | bool | str) -> str:
    """Floats as repr: the shortest text that reads back as the same float, so the importer gets these values."""
    if isinstance(value, bool):
        return _bool(value)
    return repr(value) if isinstance(value, float) else str(value)


def _xml_bytes(root: ET.Element) -> bytes:
    # Elements are built unqualified under a root carrying xmlns: ElementTree's default_namespace option refuses
    # unqualified attributes, and every QTI attribute is unqualified.
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    if (bad := _NOT_XML.search(text)) is not None:
        raise ExportError(
            f"{root.get('identifier')} holds U+{ord(bad[0]):04X}, a character XML cannot carry; remove it"
        )
    return b"<?xml version='1.0' encoding='utf-8'?>\n" + text.encode()
