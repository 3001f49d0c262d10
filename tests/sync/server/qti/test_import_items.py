"""QTI items of each version imported as internal items: types, options, shuffle/fixed, choice counts, prompts,
media and play limits (QTI 2.1/2.2 Information Model, 3.0 ASI: choiceInteraction, textEntryInteraction,
extendedTextInteraction, mediaInteraction)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.server.content import (
    ExtendedTextItem,
    MultipleChoiceItem,
    PackageError,
    ShortTextItem,
    SingleChoiceItem,
    load_package,
)
from sync.server.content.manifest import MediaAsset
from tests.helpers.qti_packages import (
    OGG,
    PNG,
    SCORE,
    choice_item,
    ims_manifest,
    item_xml,
    package_files,
    write_folder,
    write_zip,
)

VERSIONS = ("2.1", "2.2", "3.0")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_single_choice_item_keeps_its_options_shuffle_and_fixed_choices(tmp_path: Path, version: str) -> None:
    files = package_files(
        {"items/q1.xml": choice_item(version=version, interaction_attrs='shuffle="true" maxChoices="1"')},
        version=version,
    )
    package = load_package(write_zip(tmp_path / "p.zip", files))

    item = package.manifest.sections[0].items[0]
    assert isinstance(item, SingleChoiceItem)
    assert item.id == "q1"
    assert item.prompt == "Which is right?\n\nPick one."
    assert [(o.id, o.text, o.fixed) for o in item.options] == [
        ("A", "Alpha", False),
        ("B", "Beta", True),
        ("C", "Gamma", False),
    ]
    assert item.shuffle is True
    assert item.correct == "A"
    assert item.points == 1
    assert item.qti is not None
    assert item.qti.template == "match_correct"
    assert item.qti.source == "items/q1.xml"
    assert package.manifest.id == "test-1"
    assert package.manifest.version.startswith("qti-")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_multiple_choice_item_keeps_max_and_min_choices(tmp_path: Path, version: str) -> None:
    xml = choice_item(
        version=version, cardinality="multiple", correct=("A", "C"), interaction_attrs='maxChoices="2" minChoices="1"'
    )
    package = load_package(write_folder(tmp_path / "p", package_files({"q.xml": xml}, version=version)))

    item = package.manifest.sections[0].items[0]
    assert isinstance(item, MultipleChoiceItem)
    assert (item.max_choices, item.min_choices, item.shuffle) == (2, 1, False)
    assert item.correct == ["A", "C"]
    form = package.manifest.delivery_form().sections[0].items[0]
    assert (form.max_choices, form.min_choices) == (2, 1)


def test_max_choices_zero_means_no_limit(tmp_path: Path) -> None:
    xml = choice_item(cardinality="multiple", correct=("A",), interaction_attrs='maxChoices="0"')
    package = load_package(write_folder(tmp_path / "p", package_files({"q.xml": xml})))

    item = package.manifest.sections[0].items[0]
    assert isinstance(item, MultipleChoiceItem)
    assert item.max_choices is None


def _text_entry(version: str) -> str:
    declarations = (
        '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string">'
        "<correctResponse><value>York</value></correctResponse></responseDeclaration>\n" + SCORE
    )
    body = (
        "<p>Identify the missing word: Once upon a time there was a man of <textEntryInteraction "
        'responseIdentifier="RESPONSE" expectedLength="15"/>.</p>'
    )
    return item_xml("entry", declarations, body, '<responseProcessing template="{RP}match_correct"/>', version)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_text_entry_becomes_short_text_with_its_place_in_the_prompt(tmp_path: Path, version: str) -> None:
    package = load_package(
        write_folder(tmp_path / "p", package_files({"e.xml": _text_entry(version)}, version=version))
    )

    item = package.manifest.sections[0].items[0]
    assert isinstance(item, ShortTextItem)
    assert item.prompt == "Identify the missing word: Once upon a time there was a man of ____."
    assert item.accepted == ["York"]
    assert item.qti is not None
    assert item.qti.response.base_type == "string"


@pytest.mark.parametrize("version", VERSIONS)
def test_an_extended_text_without_processing_is_marked_by_hand(tmp_path: Path, version: str) -> None:
    declarations = (
        '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string"/>\n'
        '<outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float" normalMaximum="5"/>'
    )
    body = (
        '<extendedTextInteraction responseIdentifier="RESPONSE" expectedLength="400">'
        "<prompt>Write about <b>your</b> summer.</prompt></extendedTextInteraction>"
    )
    xml = item_xml("essay", declarations, body, version=version)
    package = load_package(write_folder(tmp_path / "p", package_files({"x.xml": xml}, version=version)))

    item = package.manifest.sections[0].items[0]
    assert isinstance(item, ExtendedTextItem)
    assert item.prompt == "Write about your summer."
    assert item.qti is None
    assert item.points == 5


@pytest.mark.parametrize("version", VERSIONS)
def test_audio_in_a_media_interaction_gets_its_play_limit_and_an_image_comes_along(
    tmp_path: Path, version: str
) -> None:
    body = (
        '<mediaInteraction responseIdentifier="PLAYS" autostart="false" maxPlays="2">'
        '<object type="audio/ogg" data="../media/sound.ogg"/></mediaInteraction>\n'
        '<p><img src="../media/pic.png" alt="a picture"/>Listen, then answer.</p>\n'
        '<choiceInteraction responseIdentifier="RESPONSE" maxChoices="1">'
        '<simpleChoice identifier="A">Yes</simpleChoice><simpleChoice identifier="B">No</simpleChoice>'
        "</choiceInteraction>"
    )
    declarations = (
        '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">'
        "<correctResponse><value>A</value></correctResponse></responseDeclaration>\n"
        '<responseDeclaration identifier="PLAYS" cardinality="single" baseType="integer"/>\n' + SCORE
    )
    xml = item_xml("listen", declarations, body, '<responseProcessing template="{RP}match_correct"/>', version)
    files = package_files({"items/l.xml": xml}, version=version)
    files.update({"media/sound.ogg": OGG, "media/pic.png": PNG})
    package = load_package(write_folder(tmp_path / "p", files))

    item = package.manifest.sections[0].items[0]
    assert item.prompt == "Listen, then answer."
    assert item.max_plays == 2
    assert isinstance(item.audio, MediaAsset)
    assert item.audio.path == "media/sound.ogg"
    assert isinstance(item.image, MediaAsset)
    assert item.image.mime_type == "image/png"
    assert {m.filename for m in package.media} == {"sound.ogg", "pic.png"}


def test_plain_audio_outside_a_media_interaction_has_no_play_limit(tmp_path: Path) -> None:
    xml = choice_item().replace("<p>Which is right?</p>", '<p>Which is right?</p><audio><source src="s.ogg"/></audio>')
    files = package_files({"a.xml": xml})
    files["s.ogg"] = OGG
    item = load_package(write_folder(tmp_path / "p", files)).manifest.sections[0].items[0]

    assert item.audio is not None
    assert item.max_plays is None


@pytest.mark.parametrize(
    ("interaction", "written"),
    [
        ('<hotspotInteraction responseIdentifier="RESPONSE" maxChoices="1"/>', {"2.1": "hotspotInteraction"}),
        ('<orderInteraction responseIdentifier="RESPONSE"/>', {"3.0": "qti-order-interaction"}),
        ('<p>Pick <inlineChoiceInteraction responseIdentifier="RESPONSE"/></p>', {"2.2": "inlineChoiceInteraction"}),
        ('<uploadInteraction responseIdentifier="RESPONSE"/>', {"2.1": "uploadInteraction"}),
    ],
)
def test_an_unsupported_interaction_is_refused_naming_file_interaction_and_line(
    tmp_path: Path, interaction: str, written: dict[str, str]
) -> None:
    ((version, name),) = written.items()
    declarations = '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier"/>\n' + SCORE
    xml = item_xml("bad", declarations, f"<p>Intro</p>\n{interaction}", version=version)
    line = xml.splitlines().index(next(ln for ln in xml.splitlines() if name in ln)) + 1

    with pytest.raises(PackageError) as info:
        load_package(write_folder(tmp_path / "p", package_files({"items/bad.xml": xml}, version=version)))

    assert (info.value.file, info.value.field) == ("items/bad.xml", f"line {line}")
    assert info.value.message.startswith(f"{name} is not supported")


def test_two_interactions_a_bad_option_id_and_a_second_image_are_refused(tmp_path: Path) -> None:
    cases = {
        "two": choice_item().replace(
            "</itemBody>", '<extendedTextInteraction responseIdentifier="RESPONSE"/></itemBody>'
        ),
        "id": choice_item().replace('identifier="C"', 'identifier="C option"'),
        "img": choice_item().replace("<p>Which", '<p><img src="a.png"/><img src="a.png"/>Which'),
    }
    messages = {}
    for name, xml in cases.items():
        files = package_files({"q.xml": xml})
        files["a.png"] = PNG
        with pytest.raises(PackageError) as info:
            load_package(write_folder(tmp_path / name, files))
        assert info.value.file == "q.xml"
        assert (info.value.field or "").startswith("line ")
        messages[name] = info.value.message

    assert messages["two"].startswith("a second interaction (extendedTextInteraction)")
    assert messages["id"].startswith("simpleChoice identifier 'C option' is not a usable id")
    assert messages["img"].startswith("a second image in the item")


def test_the_items_of_a_package_without_a_test_make_one_section_in_manifest_order(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "imsmanifest.xml": ims_manifest(["b.xml", "a.xml"], test=None),
        "a.xml": choice_item("qa"),
        "b.xml": choice_item("qb"),
    }
    with pytest.raises(PackageError) as info:
        load_package(write_folder(tmp_path / "untimed", files))
    assert "'Loose items' (items)" in info.value.message

    package = load_package(write_folder(tmp_path / "p", files), untimed_section_minutes=20)

    (section,) = package.manifest.sections
    assert (section.id, section.title, section.time_limit_minutes) == ("items", "Loose items", 20)
    assert [item.id for item in section.items] == ["qb", "qa"]


QTI3_ITEM = """<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" identifier="elements" title="Composition of Water"
    adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="RESPONSE" cardinality="multiple" base-type="identifier">
    <qti-correct-response><qti-value>H</qti-value><qti-value>O</qti-value></qti-correct-response>
    <qti-mapping lower-bound="0" upper-bound="2" default-value="-2">
      <qti-map-entry map-key="H" mapped-value="1"/>
      <qti-map-entry map-key="O" mapped-value="1"/>
      <qti-map-entry map-key="Cl" mapped-value="-1"/>
    </qti-mapping>
  </qti-response-declaration>
  <qti-response-declaration identifier="PLAYED" cardinality="single" base-type="integer"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-media-interaction response-identifier="PLAYED" autostart="false" max-plays="3">
      <qti-prompt>Listen first.</qti-prompt>
      <audio controls="controls"><source src="water.ogg" type="audio/ogg"/></audio>
    </qti-media-interaction>
    <qti-choice-interaction response-identifier="RESPONSE" shuffle="true" max-choices="0">
      <qti-prompt>Which of the following elements are used to form water?</qti-prompt>
      <qti-simple-choice identifier="H" fixed="false">Hydrogen</qti-simple-choice>
      <qti-simple-choice identifier="He" fixed="false">Helium</qti-simple-choice>
      <qti-simple-choice identifier="O" fixed="false">Oxygen</qti-simple-choice>
      <qti-simple-choice identifier="Cl" fixed="true">Chlorine</qti-simple-choice>
    </qti-choice-interaction>
  </qti-item-body>
  <qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response.xml"/>
</qti-assessment-item>
"""
QTI3_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1" identifier="water-pkg">
  <metadata><schema>QTI Package</schema><schemaversion>3.0.0</schemaversion></metadata>
  <organizations/>
  <resources>
    <resource identifier="water" type="imsqti_item_xmlv3p0" href="water.xml">
      <file href="water.xml"/><dependency identifierref="audio"/>
    </resource>
    <resource identifier="audio" type="webcontent" href="water.ogg"><file href="water.ogg"/></resource>
  </resources>
</manifest>
"""


def test_a_hand_written_qti3_item_package_imports_with_its_mapping_and_media(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"imsmanifest.xml": QTI3_MANIFEST, "water.xml": QTI3_ITEM, "water.ogg": OGG}

    package = load_package(write_zip(tmp_path / "water.zip", files), untimed_section_minutes=5)

    assert package.manifest.id == "water-pkg"
    (section,) = package.manifest.sections
    (item,) = section.items
    assert isinstance(item, MultipleChoiceItem)
    assert item.prompt == "Listen first.\n\nWhich of the following elements are used to form water?"
    assert [(o.id, o.fixed) for o in item.options] == [("H", False), ("He", False), ("O", False), ("Cl", True)]
    assert (item.shuffle, item.max_choices, item.max_plays, item.points) == (True, None, 3, 2)
    assert item.qti is not None
    assert item.qti.template == "map_response"
    assert item.qti.response.mapping is not None
    assert item.qti.response.mapping.default == -2
    assert item.qti.response.correct == ["H", "O"]


def test_a_zip_with_one_top_folder_loads_and_a_clash_between_item_files_names_the_second_file(tmp_path: Path) -> None:
    files = package_files({"a.xml": choice_item("q1"), "b.xml": choice_item("q2")})
    package = load_package(write_zip(tmp_path / "top.zip", {f"export/{k}": v for k, v in files.items()}))
    assert [item.id for item in package.manifest.sections[0].items] == ["q1", "q2"]

    clash = package_files({"a.xml": choice_item("q1"), "b.xml": choice_item("q1")})
    with pytest.raises(PackageError) as info:
        load_package(write_folder(tmp_path / "clash", clash))

    assert (info.value.file, info.value.field) == ("b.xml", "id (as converted)")
    assert info.value.message.startswith("duplicate id 'q1'")


def test_max_choices_beyond_the_choices_is_refused_with_the_line(tmp_path: Path) -> None:
    xml = choice_item(cardinality="multiple", interaction_attrs='maxChoices="4"')
    with pytest.raises(PackageError) as info:
        load_package(write_folder(tmp_path / "p", package_files({"q.xml": xml})))

    assert (info.value.file, info.value.field) == ("q.xml", "line 7")
    assert info.value.message == "maxChoices=4, but there are only 3 choices; lower it (0 means no limit)"


def test_every_refused_item_is_named_at_once_and_nothing_loads(tmp_path: Path) -> None:
    declarations = '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier"/>\n' + SCORE
    hotspot = item_xml("hot", declarations, '<hotspotInteraction responseIdentifier="RESPONSE" maxChoices="1"/>')
    order = item_xml("ord", declarations, '<orderInteraction responseIdentifier="RESPONSE"/>')
    files = package_files({"items/a.xml": choice_item(), "items/hot.xml": hotspot, "items/ord.xml": order})

    with pytest.raises(PackageError) as info:
        load_package(write_folder(tmp_path / "p", files))

    assert info.value.file == "items/hot.xml"
    text = str(info.value)
    assert "hotspotInteraction is not supported" in text
    assert "1 more item cannot be imported either:\n  items/ord.xml: line " in text
    assert "orderInteraction is not supported" in text
