"""The QTI 3.0 package `export_qti` writes: an IMS content package whose XML is namespace-correct QTI 3.0 (read back
with defusedxml, as an importer must), each media file once, dictation flagged for hand marking."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree as SafeET

from resources import demo_assessment_path
from sync.server.content import LoadedPackage, Manifest, load_package
from sync.server.content.qti.export import CP_NS, QTI_NS, ExportError, export_qti

Q = f"{{{QTI_NS}}}"
CP = f"{{{CP_NS}}}"


@pytest.fixture(scope="module")
def demo() -> LoadedPackage:
    return load_package(demo_assessment_path())


@pytest.fixture(scope="module")
def exported(demo: LoadedPackage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "demo.zip"
    export_qti(demo.manifest, {m.sha256: m.data for m in demo.media}, out)
    return out


def _xml(package: Path, name: str) -> Element:
    with zipfile.ZipFile(package) as archive:
        root: Element = SafeET.fromstring(archive.read(name))
    return root


def test_the_manifest_lists_the_test_every_item_and_every_media_file_and_the_zip_holds_exactly_those(
    exported: Path,
) -> None:
    manifest = _xml(exported, "imsmanifest.xml")
    assert manifest.tag == f"{CP}manifest"
    resources = manifest.findall(f"{CP}resources/{CP}resource")
    kinds = [r.get("type") for r in resources]
    assert kinds == ["imsqti_test_xmlv3p0"] + ["imsqti_item_xmlv3p0"] * 9 + ["webcontent"] * 3
    listed = {f.get("href") for r in resources for f in r.findall(f"{CP}file")}
    with zipfile.ZipFile(exported) as archive:
        assert archive.namelist()[0] == "imsmanifest.xml"
        assert set(archive.namelist()) == listed | {"imsmanifest.xml"}
    # The test depends on every item; the picture item on its picture.
    ids = {r.get("identifier"): r for r in resources}
    test = resources[0]
    assert [d.get("identifierref") for d in test.findall(f"{CP}dependency")] == [
        r.get("identifier") for r in resources if r.get("type") == "imsqti_item_xmlv3p0"
    ]
    (picture,) = ids["I-mc-circles"].findall(f"{CP}dependency")
    assert ids[picture.get("identifierref")].get("href") == "media/circles.png"


def test_every_element_of_the_test_and_items_is_in_the_qti_3_namespace_with_kebab_case_names(exported: Path) -> None:
    with zipfile.ZipFile(exported) as archive:
        xml_files = [n for n in archive.namelist() if n.endswith(".xml") and n != "imsmanifest.xml"]
    assert len(xml_files) == 10
    for name in xml_files:
        root = _xml(exported, name)
        assert root.tag in (f"{Q}qti-assessment-test", f"{Q}qti-assessment-item"), name
        for element in root.iter():
            local = element.tag.removeprefix(Q)
            assert element.tag.startswith(Q), f"{name}: {element.tag} outside the QTI 3.0 namespace"
            assert local.startswith("qti-") or local in ("p", "img", "object"), f"{name}: {local}"
            assert all(attr == attr.lower() and "_" not in attr for attr in element.attrib if "}" not in attr)


def test_sections_carry_their_time_in_seconds_and_the_scores_are_invigils(exported: Path) -> None:
    test = _xml(exported, "assessment.xml")
    sections = test.findall(f"{Q}qti-test-part/{Q}qti-assessment-section")
    assert [s.get("identifier") for s in sections] == ["mc", "short", "dictation"]
    assert [s.find(f"{Q}qti-time-limits").get("max-time") for s in sections] == ["600", "600", "600"]  # type: ignore[union-attr]
    nouns = _xml(exported, "item-mc-nouns.xml")  # partial, 2 points, 2 of 4 correct
    entries = nouns.findall(f"{Q}qti-response-declaration/{Q}qti-mapping/{Q}qti-map-entry")
    assert {e.get("map-key"): e.get("mapped-value") for e in entries} == {
        "a": "1.0",
        "b": "-1.0",
        "c": "1.0",
        "d": "-1.0",
    }
    mapping = nouns.find(f"{Q}qti-response-declaration/{Q}qti-mapping")
    assert (mapping.get("lower-bound"), mapping.get("upper-bound")) == ("0.0", "2.0")  # type: ignore[union-attr]
    circles = _xml(exported, "item-mc-circles.xml")
    maxscore = circles.find(f"{Q}qti-outcome-declaration[@identifier='MAXSCORE']/{Q}qti-default-value/{Q}qti-value")
    assert maxscore is not None
    assert maxscore.text == "1.0"
    score_set = circles.find(f".//{Q}qti-response-if/{Q}qti-set-outcome-value/{Q}qti-base-value")
    assert score_set is not None
    assert score_set.text == "1.0"
    capital = _xml(exported, "item-short-capital.xml")  # "Paris", case does not matter
    (entry,) = capital.findall(f".//{Q}qti-map-entry")
    assert (entry.get("map-key"), entry.get("case-sensitive")) == ("Paris", "false")
    describe = _xml(exported, "item-short-describe.xml")  # marked by hand: no response processing
    assert describe.find(f"{Q}qti-response-processing") is None
    assert describe.find(f".//{Q}qti-extended-text-interaction") is not None


def test_dictation_goes_out_as_extended_text_with_its_audio_and_a_note_that_it_needs_hand_marking(
    demo: LoadedPackage, exported: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(exported) as archive:
        raw = archive.read("item-dict-cat.xml").decode()
    assert "<!-- Invigil dictation (QTI has none)" in raw
    item = _xml(exported, "item-dict-cat.xml")
    assert item.find(f".//{Q}qti-extended-text-interaction") is not None
    player = item.find(f".//{Q}qti-media-interaction")
    assert player is not None
    assert player.get("max-plays") == "2"
    assert player.find(f"{Q}object").get("data") == "media/dictation-1.ogg"  # type: ignore[union-attr]
    report = export_qti(demo.manifest, {m.sha256: m.data for m in demo.media}, tmp_path / "again.zip")
    assert report.dictation_items == ["dict-cat", "dict-library"]
    assert (report.items, report.media_files) == (9, 3)


def test_a_file_two_items_share_is_in_the_zip_once_with_its_bytes(demo: LoadedPackage, tmp_path: Path) -> None:
    raw = demo.manifest.model_dump(mode="json")
    picture = raw["sections"][0]["items"][0]["image"]
    raw["sections"][0]["items"][1]["image"] = picture  # mc-opposite shows the circles too
    manifest = Manifest.model_validate(raw)
    media = {m.sha256: m.data for m in demo.media}
    export_qti(manifest, media, tmp_path / "shared.zip")
    with zipfile.ZipFile(tmp_path / "shared.zip") as archive:
        media_files = [n for n in archive.namelist() if n.startswith("media/")]
        assert sorted(media_files) == ["media/circles.png", "media/dictation-1.ogg", "media/dictation-2.ogg"]
        assert hashlib.sha256(archive.read("media/circles.png")).hexdigest() == picture["sha256"]
    opposite = _xml(tmp_path / "shared.zip", "item-mc-opposite.xml")
    assert opposite.find(f".//{Q}img").get("src") == "media/circles.png"  # type: ignore[union-attr]


def test_text_with_markup_characters_is_escaped_and_reads_back_unchanged(demo: LoadedPackage, tmp_path: Path) -> None:
    raw = demo.manifest.model_dump(mode="json")
    tricky = "Is 3 < 4 & \"5\" > '2'? <b>not bold</b> ]]>"
    raw["sections"][0]["items"][1]["prompt"] = tricky
    raw["sections"][0]["items"][1]["options"][0]["text"] = tricky
    export_qti(Manifest.model_validate(raw), {m.sha256: m.data for m in demo.media}, tmp_path / "tricky.zip")
    item = _xml(tmp_path / "tricky.zip", "item-mc-opposite.xml")
    assert item.find(f".//{Q}qti-prompt").text == tricky  # type: ignore[union-attr]
    assert item.find(f".//{Q}qti-simple-choice").text == tricky  # type: ignore[union-attr]
    assert item.get("title") == " ".join(tricky.split())


def test_a_missing_media_file_is_refused_by_name_and_nothing_is_written(demo: LoadedPackage, tmp_path: Path) -> None:
    media = {m.sha256: m.data for m in demo.media if m.filename != "dictation-2.ogg"}
    with pytest.raises(ExportError, match=r"media/dictation-2\.ogg"):
        export_qti(demo.manifest, media, tmp_path / "broken.zip")
    assert list(tmp_path.iterdir()) == []


def test_pictures_and_audio_with_play_limits_on_any_item_load_back_from_the_export(
    demo: LoadedPackage, tmp_path: Path
) -> None:
    raw = demo.manifest.model_dump(mode="json")
    first, second = (item["audio"] for item in raw["sections"][2]["items"])
    raw["sections"][0]["items"][1] |= {"audio": first, "max_plays": 3}  # a choice item with a listening part
    raw["sections"][1]["items"][0] |= {"audio": second, "image": raw["sections"][0]["items"][0]["image"]}
    export_qti(Manifest.model_validate(raw), {m.sha256: m.data for m in demo.media}, tmp_path / "media.zip")
    items = load_package(tmp_path / "media.zip").manifest.items()
    choice, text = items["mc-opposite"], items["short-plural"]
    assert (choice.audio.sha256, choice.max_plays) == (first["sha256"], 3)  # type: ignore[union-attr]
    assert (text.audio.sha256, text.max_plays) == (second["sha256"], None)  # type: ignore[union-attr]
    assert text.image.sha256 == raw["sections"][0]["items"][0]["image"]["sha256"]  # type: ignore[union-attr]


def test_a_control_character_xml_cannot_carry_is_refused_naming_the_item(demo: LoadedPackage, tmp_path: Path) -> None:
    raw = demo.manifest.model_dump(mode="json")
    raw["sections"][1]["items"][2]["prompt"] = "What is the capital\x07 of France?"  # a bell pasted in by accident
    with pytest.raises(ExportError, match=r"short-capital holds U\+0007, a character XML cannot carry"):
        export_qti(Manifest.model_validate(raw), {m.sha256: m.data for m in demo.media}, tmp_path / "bell.zip")
    assert list(tmp_path.iterdir()) == []


def test_custom_qti_rules_are_written_back_as_they_were_read(tmp_path: Path) -> None:
    """Rules an imported item carries (string_match both ways, and/or/not, is_null, sum, gte/lte, mapResponse, integer,
    boolean and string values, outcomes besides SCORE) go out as QTI 3.0 XML and read back the same; match and
    member are what the native export itself writes (test_roundtrip's second trip)."""
    text = {"variable": "RESPONSE"}
    exact = {"op": "string_match", "args": [text, {"base": "string", "value": "Paris"}], "case_sensitive": True}
    loose = {"op": "string_match", "args": [text, {"base": "string", "value": "paris"}], "case_sensitive": False}
    mapped = {"op": "gte", "args": [{"map_response": "RESPONSE"}, {"base": "float", "value": 0.5}]}
    tries = {"op": "sum", "args": [{"variable": "TRIES"}, {"base": "integer", "value": 1}]}
    rules = [
        {"set": "TRIES", "value": tries},
        {
            "branches": [
                {
                    "when": {"op": "and", "args": [exact, {"op": "not", "args": [{"op": "is_null", "args": [text]}]}]},
                    "then": [{"set": "SCORE", "value": {"base": "float", "value": 2.0}}],
                },
                {
                    "when": {
                        "op": "or",
                        "args": [
                            loose,
                            mapped,
                            {"op": "lte", "args": [{"variable": "TRIES"}, {"base": "integer", "value": 0}]},
                        ],
                    },
                    "then": [
                        {"set": "SCORE", "value": {"base": "float", "value": 1.0}},
                        {"set": "DONE", "value": {"base": "boolean", "value": True}},
                    ],
                },
            ],
            "otherwise": [{"set": "SCORE", "value": {"op": "sum", "args": [{"base": "float", "value": 0.0}]}}],
        },
    ]
    response = {
        "identifier": "RESPONSE",
        "cardinality": "single",
        "base_type": "string",
        "correct": ["Paris"],
        "mapping": {
            "entries": [{"key": "Lutece", "value": 0.5, "case_sensitive": False}],
            "default": -0.25,
            "lower_bound": -1.0,
        },
    }
    outcomes = [
        {"identifier": "SCORE", "base_type": "float"},
        {"identifier": "MAXSCORE", "base_type": "float", "default": 2.0},
        {"identifier": "TRIES", "base_type": "integer", "default": 0},
        {"identifier": "DONE", "base_type": "boolean", "default": False},
    ]
    qti = {"response": response, "outcomes": outcomes, "rules": rules}
    item = {"id": "capital", "type": "short_text", "prompt": "The capital of France?", "points": 2, "qti": qti}
    section = {"id": "s", "title": "S", "time_limit_seconds": 60, "items": [item]}
    manifest = Manifest.model_validate({"id": "rules", "version": "1", "title": "Rules", "sections": [section]})
    export_qti(manifest, {}, tmp_path / "rules.zip")
    imported = load_package(tmp_path / "rules.zip").manifest.items()["capital"]
    assert imported.qti is not None
    assert imported.qti.model_dump(exclude={"source"}) == manifest.items()["capital"].qti.model_dump(exclude={"source"})  # type: ignore[union-attr]
