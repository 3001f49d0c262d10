"""An assessmentTest's testParts and (nested) sections become Invigil sections: order, titles, timeLimits maxTime
(QTI 2.1 Information Model, timeLimits: seconds), ordering shuffle and fixed item refs, untimed sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.server.content import PackageError, load_package
from tests.helpers.qti_packages import assessment_test_xml, choice_item, ims_manifest, write_folder

VERSIONS = ("2.1", "2.2", "3.0")


def _ref(name: str, fixed: bool = False) -> str:
    return f'<assessmentItemRef identifier="r-{name}" href="items/{name}.xml"' + (' fixed="true"/>' if fixed else "/>")


def _package(tmp_path: Path, body: str, names: list[str], version: str = "2.1") -> Path:
    files: dict[str, str | bytes] = {
        "imsmanifest.xml": ims_manifest([f"items/{n}.xml" for n in names], version=version),
        "test.xml": assessment_test_xml(body, version),
    }
    files.update({f"items/{n}.xml": choice_item(n, version=version) for n in names})
    return write_folder(tmp_path / "p", files)


NESTED = f"""
<testPart identifier="part1" navigationMode="linear" submissionMode="simultaneous">
  <timeLimits maxTime="0"/>
  <assessmentSection identifier="reading" title="Reading" visible="true">
    <timeLimits maxTime="900"/>
    <ordering shuffle="true"/>
    {_ref("q1")}{_ref("q2", fixed=True)}{_ref("q3")}
  </assessmentSection>
  <assessmentSection identifier="writing" title="Writing" visible="true">
    <rubricBlock view="candidate"><p>Answer every question.</p></rubricBlock>
    <rubricBlock view="scorer"><p>Be generous.</p></rubricBlock>
    <assessmentSection identifier="part-a" title="Part A" visible="false">
      <timeLimits maxTime="299.5"/>
      {_ref("q4")}
    </assessmentSection>
    <assessmentSection identifier="part-b" title="Part B" visible="false">
      <timeLimits maxTime="120"/>
      {_ref("q5")}
    </assessmentSection>
  </assessmentSection>
</testPart>"""


@pytest.mark.parametrize("version", VERSIONS)
def test_nested_sections_flatten_in_order_with_joined_titles_limits_and_shuffle(tmp_path: Path, version: str) -> None:
    body = NESTED.replace('<timeLimits maxTime="0"/>', "")
    manifest = load_package(_package(tmp_path, body, ["q1", "q2", "q3", "q4", "q5"], version)).manifest

    got = [
        (s.id, s.title, s.time_limit_seconds, s.shuffle, s.fixed_items, [i.id for i in s.items])
        for s in manifest.sections
    ]
    assert got == [
        ("reading", "Reading", 900, True, ["q2"], ["q1", "q2", "q3"]),
        ("part-a", "Writing / Part A", 300, False, [], ["q4"]),
        ("part-b", "Writing / Part B", 120, False, [], ["q5"]),
    ]
    assert manifest.title == "A test"
    assert [s.instructions for s in manifest.sections] == ["", "Answer every question.", ""]


def test_a_test_part_limit_times_its_only_section_and_the_stricter_limit_wins(tmp_path: Path) -> None:
    body = (
        '<testPart identifier="p" navigationMode="linear" submissionMode="individual"><timeLimits maxTime="60"/>'
        f'<assessmentSection identifier="s" title="S" visible="true"><timeLimits maxTime="90"/>{_ref("q1")}'
        "</assessmentSection></testPart>"
    )
    (section,) = load_package(_package(tmp_path, body, ["q1"])).manifest.sections

    assert section.time_limit_seconds == 60


def test_a_limit_covering_several_sections_is_refused(tmp_path: Path) -> None:
    body = NESTED.replace('<timeLimits maxTime="0"/>', '<timeLimits maxTime="1800"/>')
    with pytest.raises(PackageError) as info:
        load_package(_package(tmp_path, body, ["q1", "q2", "q3", "q4", "q5"]))

    assert info.value.file == "test.xml"
    assert info.value.message.startswith("the timeLimits of testPart 'part1' covers 3 sections")


def test_untimed_sections_are_refused_by_name_unless_given_minutes(tmp_path: Path) -> None:
    body = (
        '<testPart identifier="p" navigationMode="linear" submissionMode="individual">'
        f'<assessmentSection identifier="s1" title="One" visible="true">{_ref("q1")}</assessmentSection>'
        f'<assessmentSection identifier="s2" title="Two" visible="true"><timeLimits maxTime="60"/>{_ref("q2")}'
        f'</assessmentSection><assessmentSection identifier="s3" title="Three" visible="true">{_ref("q3")}'
        "</assessmentSection></testPart>"
    )
    package = _package(tmp_path, body, ["q1", "q2", "q3"])
    with pytest.raises(PackageError) as info:
        load_package(package)
    assert info.value.file == "test.xml"
    assert "section(s) 'One' (s1), 'Three' (s3)" in info.value.message
    assert "--untimed-section-minutes N" in info.value.message

    sections = load_package(package, untimed_section_minutes=15).manifest.sections

    assert [(s.time_limit_minutes, s.time_limit_seconds) for s in sections] == [(15, None), (None, 60), (15, None)]


@pytest.mark.parametrize(
    ("inside", "written"),
    [
        ('<selection select="1"/>', "selection"),
        ('<branchRule target="EXIT_TEST"><baseValue baseType="boolean">true</baseValue></branchRule>', "branchRule"),
    ],
)
def test_selection_and_adaptive_rules_are_refused_by_name_and_line(tmp_path: Path, inside: str, written: str) -> None:
    body = (
        '<testPart identifier="p" navigationMode="linear" submissionMode="individual">\n'
        f'<assessmentSection identifier="s" title="S" visible="true">\n{inside}\n{_ref("q1")}{_ref("q2")}'
        "</assessmentSection></testPart>"
    )
    with pytest.raises(PackageError) as info:
        load_package(_package(tmp_path, body, ["q1", "q2"]))

    assert (info.value.file, info.value.field) == ("test.xml", "line 5")
    assert info.value.message.startswith(f"{written}:")
