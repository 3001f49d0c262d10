"""responseProcessing imported as scoring rules: the templates expanded as the specification's rptemplates files
define them (QTI 2.1 Information Model, Response Processing Templates; same in 2.2/3.0), mappings with their
bounds and defaults, the custom subset, `points`, and refusals naming operator, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.server.content import PackageError, load_package
from sync.server.content.manifest import AnyItem
from sync.server.content.scoring_rules import (
    BaseValueExpr,
    Branch,
    Condition,
    CorrectExpr,
    MapEntry,
    MapResponseExpr,
    OperatorExpr,
    OutcomeDeclaration,
    ResponseMapping,
    SetOutcome,
    VariableExpr,
)
from tests.helpers.qti_packages import SCORE, choice_item, item_xml, package_files, write_folder

VERSIONS = ("2.1", "2.2", "3.0")


def _load_one(tmp_path: Path, xml: str, version: str = "2.1") -> AnyItem:
    return (
        load_package(write_folder(tmp_path / "p", package_files({"q.xml": xml}, version=version)))
        .manifest.sections[0]
        .items[0]
    )


def _refusal(tmp_path: Path, xml: str, version: str = "2.1") -> PackageError:
    with pytest.raises(PackageError) as info:
        _load_one(tmp_path, xml, version)
    return info.value


def _line_of(xml: str, text: str) -> str:
    return f"line {next(n for n, line in enumerate(xml.splitlines(), 1) if text in line)}"


@pytest.mark.parametrize("version", VERSIONS)
def test_match_correct_expands_to_the_template_rules(tmp_path: Path, version: str) -> None:
    item = _load_one(tmp_path, choice_item(version=version), version)

    assert item.qti is not None
    assert item.qti.rules == [
        Condition(
            branches=[
                Branch(
                    when=OperatorExpr(
                        op="match", args=[VariableExpr(variable="RESPONSE"), CorrectExpr(correct="RESPONSE")]
                    ),
                    then=[SetOutcome(set="SCORE", value=BaseValueExpr(base="float", value=1.0))],
                )
            ],
            otherwise=[SetOutcome(set="SCORE", value=BaseValueExpr(base="float", value=0.0))],
        )
    ]
    assert item.qti.outcomes == [OutcomeDeclaration(identifier="SCORE", base_type="float")]
    assert item.points == 1


MAPPING = (
    '<mapping lowerBound="0" upperBound="{upper}" defaultValue="-0.5">'
    '<mapEntry mapKey="A" mappedValue="2"/><mapEntry mapKey="B" mappedValue="-1"/>'
    '<mapEntry mapKey="C" mappedValue="1.5"/></mapping>'
)


@pytest.mark.parametrize("version", VERSIONS)
def test_map_response_keeps_bounds_and_default_and_expands_the_template(tmp_path: Path, version: str) -> None:
    xml = choice_item(
        version=version,
        cardinality="multiple",
        correct=("A", "C"),
        interaction_attrs='maxChoices="0"',
        mapping=MAPPING.format(upper="3"),
        template="map_response.xml" if version == "3.0" else "map_response",
    )
    item = _load_one(tmp_path, xml, version)

    assert item.qti is not None
    assert item.qti.template == "map_response"
    assert item.qti.response.mapping == ResponseMapping(
        # No caseSensitive: required in 2.x (read as true); optional with default false in the 3.0 XSD.
        entries=[
            MapEntry(key="A", value=2, case_sensitive=version != "3.0"),
            MapEntry(key="B", value=-1, case_sensitive=version != "3.0"),
            MapEntry(key="C", value=1.5, case_sensitive=version != "3.0"),
        ],
        default=-0.5,
        lower_bound=0,
        upper_bound=3,
    )
    assert item.qti.rules == [
        Condition(
            branches=[
                Branch(
                    when=OperatorExpr(op="is_null", args=[VariableExpr(variable="RESPONSE")]),
                    then=[SetOutcome(set="SCORE", value=BaseValueExpr(base="float", value=0.0))],
                )
            ],
            otherwise=[SetOutcome(set="SCORE", value=MapResponseExpr(map_response="RESPONSE"))],
        )
    ]
    assert item.points == 3  # the upperBound


@pytest.mark.parametrize(
    ("cardinality", "attrs", "points"),
    [("multiple", 'maxChoices="0"', 3.5), ("multiple", 'maxChoices="1"', 2), ("single", 'maxChoices="1"', 2)],
)
def test_map_response_points_without_an_upper_bound_are_the_most_the_mapping_gives(
    tmp_path: Path, cardinality: str, attrs: str, points: float
) -> None:
    mapping = MAPPING.replace(' upperBound="{upper}"', "")
    xml = choice_item(cardinality=cardinality, interaction_attrs=attrs, mapping=mapping, template="map_response")

    assert _load_one(tmp_path, xml).points == points


def test_a_text_entry_mapping_keeps_case_sensitivity_per_entry(tmp_path: Path) -> None:
    declarations = (
        '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string">'
        '<mapping defaultValue="0"><mapEntry mapKey="York" mappedValue="1" caseSensitive="false"/>'
        '<mapEntry mapKey="YORK" mappedValue="0.5" caseSensitive="1"/><mapEntry mapKey="york" mappedValue="0.1" '
        'caseSensitive="0"/></mapping></responseDeclaration>\n' + SCORE
    )
    body = '<p>Town: <textEntryInteraction responseIdentifier="RESPONSE"/></p>'
    item = _load_one(tmp_path, item_xml("t", declarations, body, '<responseProcessing template="{RP}map_response"/>'))

    assert item.qti is not None
    assert item.qti.response.mapping is not None
    assert [(e.key, e.case_sensitive) for e in item.qti.response.mapping.entries] == [
        ("York", False),
        ("YORK", True),
        ("york", False),  # xs:boolean: 1 and 0 are true and false
    ]
    assert item.points == 1


CUSTOM = """<responseProcessing>
  <responseCondition>
    <responseIf>
      <and>
        <not><isNull><variable identifier="RESPONSE"/></isNull></not>
        <stringMatch caseSensitive="false"><variable identifier="RESPONSE"/><baseValue baseType="string">york</baseValue></stringMatch>
      </and>
      <setOutcomeValue identifier="SCORE"><baseValue baseType="float">2</baseValue></setOutcomeValue>
    </responseIf>
    <responseElseIf>
      <member><baseValue baseType="string">yorke</baseValue><variable identifier="RESPONSE"/></member>
      <setOutcomeValue identifier="SCORE"><sum><variable identifier="SCORE"/><baseValue baseType="float">1</baseValue></sum></setOutcomeValue>
    </responseElseIf>
    <responseElse>
      <setOutcomeValue identifier="SCORE"><baseValue baseType="float">-1</baseValue></setOutcomeValue>
    </responseElse>
  </responseCondition>
</responseProcessing>"""
TEXT_DECLARATIONS = (
    '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string"/>\n'
    '<outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float">'
    "<defaultValue><value>0</value></defaultValue></outcomeDeclaration>\n"
    '<outcomeDeclaration identifier="MAXSCORE" cardinality="single" baseType="float">'
    "<defaultValue><value>2</value></defaultValue></outcomeDeclaration>"
)
TEXT_BODY = '<p>Town: <textEntryInteraction responseIdentifier="RESPONSE"/></p>'


@pytest.mark.parametrize("version", VERSIONS)
def test_custom_processing_in_the_supported_subset_becomes_rules(tmp_path: Path, version: str) -> None:
    item = _load_one(tmp_path, item_xml("t", TEXT_DECLARATIONS, TEXT_BODY, CUSTOM, version), version)

    assert item.qti is not None
    assert item.qti.template is None
    (condition,) = item.qti.rules
    assert isinstance(condition, Condition)
    first, second = condition.branches
    assert first.when == OperatorExpr(
        op="and",
        args=[
            OperatorExpr(op="not", args=[OperatorExpr(op="is_null", args=[VariableExpr(variable="RESPONSE")])]),
            OperatorExpr(
                op="string_match",
                args=[VariableExpr(variable="RESPONSE"), BaseValueExpr(base="string", value="york")],
                case_sensitive=False,
            ),
        ],
    )
    assert second.then == [
        SetOutcome(
            set="SCORE",
            value=OperatorExpr(op="sum", args=[VariableExpr(variable="SCORE"), BaseValueExpr(base="float", value=1.0)]),
        )
    ]
    assert condition.otherwise == [SetOutcome(set="SCORE", value=BaseValueExpr(base="float", value=-1.0))]
    assert item.qti.outcomes[1] == OutcomeDeclaration(identifier="MAXSCORE", base_type="float", default=2.0)
    assert item.points == 2  # MAXSCORE's default value


@pytest.mark.parametrize(
    ("replace", "written", "version"),
    [
        ('<member><baseValue baseType="string">yorke</baseValue>', "lookupOutcomeValue", "2.1"),
        ('<member><baseValue baseType="string">yorke</baseValue>', "qti-equal", "3.0"),
        ('<member><baseValue baseType="string">yorke</baseValue>', "fieldValue", "2.2"),
        ('<member><baseValue baseType="string">yorke</baseValue>', "multiple", "2.1"),
    ],
)
def test_an_unsupported_operator_is_refused_by_name_with_file_and_line(
    tmp_path: Path, replace: str, written: str, version: str
) -> None:
    v2_name = {"qti-equal": "equal"}.get(written, written)
    custom = CUSTOM.replace(replace, f'<member><{v2_name} identifier="SCORE"/>')
    xml = item_xml("t", TEXT_DECLARATIONS, TEXT_BODY, custom, version)

    error = _refusal(tmp_path, xml, version)

    assert (error.file, error.field) == ("q.xml", _line_of(xml, f"<{written}"))
    assert error.message.startswith(f"responseProcessing uses {written}, which Invigil does not support")


def test_exit_response_and_the_point_template_are_refused_by_name(tmp_path: Path) -> None:
    exiting = item_xml("t", TEXT_DECLARATIONS, TEXT_BODY, "<responseProcessing><exitResponse/></responseProcessing>")
    assert _refusal(tmp_path / "a", exiting).message.startswith("responseProcessing uses exitResponse")
    point = choice_item(template="map_response_point")
    error = _refusal(tmp_path / "b", point)
    assert error.field == _line_of(point, "map_response_point")
    assert "map_response_point" in error.message


def test_points_must_be_declared_for_custom_rules_and_scoring_needs_processing(tmp_path: Path) -> None:
    no_max = item_xml("t", TEXT_DECLARATIONS.split('\n<outcomeDeclaration identifier="MAXSCORE"')[0], TEXT_BODY, CUSTOM)
    assert "declare MAXSCORE" in _refusal(tmp_path / "a", no_max).message
    unmarked = item_xml("t", TEXT_DECLARATIONS, TEXT_BODY)
    assert "no responseProcessing sets SCORE" in _refusal(tmp_path / "b", unmarked).message


def test_normal_maximum_gives_the_points_and_integer_scores_are_kept(tmp_path: Path) -> None:
    declarations = TEXT_DECLARATIONS.replace('baseType="float">', 'baseType="integer" normalMaximum="4">', 1)
    declarations = declarations.replace(
        '<outcomeDeclaration identifier="MAXSCORE"', '<outcomeDeclaration identifier="OTHER"'
    )
    custom = CUSTOM.replace('baseType="float">2<', 'baseType="integer">4<').replace(
        'baseType="float">', 'baseType="integer">'
    )
    item = _load_one(tmp_path, item_xml("t", declarations, TEXT_BODY, custom))

    assert item.points == 4
    assert item.qti is not None
    assert item.qti.outcomes[0].base_type == "integer"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("<value>A</value>", "<value>A</value><value>B</value>"), "correctResponse has 2 values for a single"),
        (
            (
                'template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>',
                "><responseCondition><responseIf/></responseCondition></responseProcessing>",
            ),
            "responseIf needs a condition first",
        ),
        (('baseType="identifier">', 'baseType="point">'), "response baseType 'point' is not supported"),
        (("rptemplates/match_correct", "rptemplates/mystery"), "response processing template"),
    ],
)
def test_declarations_and_rules_outside_what_qti_or_invigil_allows_are_refused_with_the_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    assert change[0] in choice_item()
    xml = choice_item().replace(*change)

    error = _refusal(tmp_path, xml)

    assert (error.file, error.field) == ("q.xml", _line_of(xml, change[1]))
    assert message in error.message


def test_an_unusable_feedback_outcome_is_ignored_until_a_rule_sets_it(tmp_path: Path) -> None:
    feedback = '<outcomeDeclaration identifier="FEEDBACK" cardinality="multiple" baseType="identifier"/>'
    quiet = item_xml("t", TEXT_DECLARATIONS + "\n" + feedback, TEXT_BODY, CUSTOM)
    item = _load_one(tmp_path / "a", quiet)
    assert item.qti is not None
    assert [o.identifier for o in item.qti.outcomes] == ["SCORE", "MAXSCORE"]

    setting = CUSTOM.replace(
        "</responseElse>",
        '<setOutcomeValue identifier="FEEDBACK"><baseValue baseType="identifier">F1</baseValue></setOutcomeValue>'
        "</responseElse>",
    )
    xml = item_xml("t", TEXT_DECLARATIONS + "\n" + feedback, TEXT_BODY, setting)
    error = _refusal(tmp_path / "b", xml)
    assert error.field == _line_of(xml, 'identifier="FEEDBACK" cardinality')
    assert error.message == "outcome 'FEEDBACK' has cardinality multiple; use single"
