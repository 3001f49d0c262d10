"""Loading content packages: the demo, the delivery form without keys, and every kind of refused package."""

from __future__ import annotations

import copy
import json
import stat
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resources import demo_assessment_path, soundcheck_path
from sync.server.content import (
    LoadedPackage,
    PackageError,
    PackageLimits,
    load_package,
    load_stored_manifest,
    manifest_json_schema,
)

REPO = Path(__file__).resolve().parents[3]
DEMO_MEDIA = demo_assessment_path() / "media"
PNG = (DEMO_MEDIA / "circles.png").read_bytes()
OGG = (DEMO_MEDIA / "dictation-1.ogg").read_bytes()

BASE: dict[str, Any] = {
    "id": "t1",
    "version": "1",
    "title": "Test",
    "sections": [
        {
            "id": "s1",
            "title": "Choices",
            "time_limit_minutes": 5,
            "items": [
                {
                    "id": "q1",
                    "type": "single_choice",
                    "prompt": "Pick",
                    "image": "media/pic.png",
                    "options": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
                    "correct": "a",
                },
                {
                    "id": "q2",
                    "type": "multiple_choice",
                    "prompt": "Pick some",
                    "options": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}, {"id": "c", "text": "C"}],
                    "correct": ["a", "b"],
                },
            ],
        },
        {
            "id": "s2",
            "title": "Listening",
            "time_limit_minutes": 5,
            "items": [
                {
                    "id": "q3",
                    "type": "dictation",
                    "prompt": "Type it",
                    "audio": "media/clip.ogg",
                    "max_plays": 2,
                    "text": "A secret sentence.",
                },
                {"id": "q4", "type": "short_text", "prompt": "Say", "accepted": ["yes"]},
            ],
        },
    ],
}


def manifest(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE), **changes}


def build(
    tmp_path: Path,
    kind: str,
    content: dict[str, Any] | str | bytes,
    *,
    media: dict[str, bytes] | None = None,
) -> Path:
    """Writes a package as a folder or zip; `content` is the manifest (a dict, or raw text for parsing)."""
    files = {"media/pic.png": PNG, "media/clip.ogg": OGG} if media is None else media
    if isinstance(content, dict):
        raw = json.dumps(content, indent=2).encode()
    else:
        raw = content.encode() if isinstance(content, str) else content
    if kind == "folder":
        root = tmp_path / "pkg"
        for name, data in {"manifest.json": raw, **files}.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        return root
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manifest.json", raw)
        for name, data in files.items():
            zf.writestr(name, data)
    return archive


def refused(source: Path, limits: PackageLimits | None = None) -> PackageError:
    with pytest.raises(PackageError) as info:
        load_package(source, limits=limits or PackageLimits())
    return info.value


KINDS = pytest.mark.parametrize("kind", ["folder", "zip"])


# ---- the demo -----------------------------------------------------------------------------------------


def ogg_vorbis_format(data: bytes) -> tuple[int, int]:
    """Channels and sample rate from the Vorbis identification header of an Ogg file's first page."""
    assert data[:4] == b"OggS"
    header = data.index(b"\x01vorbis")
    channels = data[header + 11]
    (rate,) = struct.unpack("<I", data[header + 12 : header + 16])
    return channels, rate


def test_the_demo_loads_with_three_timed_sections_and_real_media() -> None:
    package = load_package(demo_assessment_path())

    m = package.manifest
    assert (m.id, m.version) == ("demo-literacy", "1.0.0")
    assert [s.title for s in m.sections] == ["Multiple choice", "Short answers", "Dictation"]
    assert [s.time_limit_minutes for s in m.sections] == [10, 10, 10]
    assert [i.type for i in m.sections[2].items] == ["dictation", "dictation"]
    by_name = {f.filename: f for f in package.media}
    assert set(by_name) == {"circles.png", "dictation-1.ogg", "dictation-2.ogg"}
    assert len(by_name["circles.png"].data) < 30_000
    for name in ("dictation-1.ogg", "dictation-2.ogg"):
        assert len(by_name[name].data) < 60_000
        assert ogg_vorbis_format(by_name[name].data) == (1, 16000)


def test_the_soundcheck_clip_is_small_mono_vorbis() -> None:
    data = soundcheck_path().read_bytes()
    assert len(data) < 60_000
    assert ogg_vorbis_format(data) == (1, 16000)


def test_the_demo_delivery_form_carries_no_key_material() -> None:
    package = load_package(demo_assessment_path())
    form = package.manifest.delivery_form()
    wire = form.model_dump_json().casefold()

    secrets: list[str] = []
    for item in package.manifest.items().values():
        secrets += getattr(item, "accepted", [])
        secrets += [getattr(item, "text", ""), getattr(item, "guidance", "")]
    for secret in filter(None, secrets):
        assert secret.casefold() not in wire, secret
    for field in ('"correct"', '"accepted"', '"guidance"', '"scoring"', '"points"', '"text":"the cat'):
        assert field not in wire
    dictation = form.sections[2].items[0]
    assert dictation.max_plays == 2
    assert [(ref.role, ref.mime_type) for ref in dictation.media] == [("audio", "audio/ogg")]
    assert form.sections[0].time_limit_seconds == 600
    assert form.content_hash == package.content_hash


def test_a_zip_of_the_demo_has_the_same_content_hash_even_inside_a_top_folder(tmp_path: Path) -> None:
    archive = tmp_path / "demo.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(demo_assessment_path().rglob("*")):
            if path.is_file():
                zf.write(path, "demo-literacy/" + path.relative_to(demo_assessment_path()).as_posix())

    assert load_package(archive).content_hash == load_package(demo_assessment_path()).content_hash


def test_the_stored_manifest_alone_rebuilds_the_same_delivery_form() -> None:
    package = load_package(demo_assessment_path())

    again = load_stored_manifest(package.manifest.model_dump_json())

    assert again == package.manifest
    assert again.delivery_form() == package.manifest.delivery_form()
    assert again.content_hash() == package.content_hash


def test_a_stored_manifest_with_unresolved_media_is_refused() -> None:
    with pytest.raises(PackageError) as info:
        load_stored_manifest(json.dumps(BASE))
    error = info.value
    assert (error.file, error.field) == ("manifest.json", "sections[0].items[0].image")


@given(st.text(max_size=200))
def test_reading_any_stored_text_either_succeeds_or_says_why(text: str) -> None:
    error: PackageError | None = None
    try:
        load_stored_manifest(text)
    except PackageError as exc:
        error = exc
    if error is not None:  # any other exception fails the test
        assert error.file == "manifest.json"
        assert error.message


def test_media_referenced_twice_is_delivered_once(tmp_path: Path) -> None:
    content = manifest()
    content["sections"][0]["items"][1]["image"] = "media/pic.png"
    package: LoadedPackage = load_package(build(tmp_path, "folder", content))
    assert sorted(f.filename for f in package.media) == ["clip.ogg", "pic.png"]


def test_the_committed_json_schema_matches_the_model() -> None:
    committed = (REPO / "docs" / "content-package.schema.json").read_text(encoding="utf-8")
    assert committed == manifest_json_schema(), (
        "docs/content-package.schema.json is stale; regenerate it with: .venv/bin/python -c "
        "\"from sync.server.content import manifest_json_schema as s; print(s(), end='')\" "
        "> docs/content-package.schema.json"
    )


# ---- refused packages ---------------------------------------------------------------------------------


@KINDS
def test_missing_media_names_the_referencing_field(tmp_path: Path, kind: str) -> None:
    error = refused(build(tmp_path, kind, manifest(), media={"media/clip.ogg": OGG}))
    assert (error.file, error.field) == ("manifest.json", "sections[0].items[0].image")
    assert "media/pic.png" in str(error)


@KINDS
def test_an_unknown_item_type_is_named_with_the_allowed_ones(tmp_path: Path, kind: str) -> None:
    content = manifest()
    content["sections"][1]["items"][0]["type"] = "essay"
    error = refused(build(tmp_path, kind, content))
    assert str(error).startswith("manifest.json: sections[1].items[0].type: unknown item type 'essay'")
    assert "extended_text" in error.message


@KINDS
def test_an_item_id_used_twice_is_refused_where_it_repeats(tmp_path: Path, kind: str) -> None:
    content = manifest()
    content["sections"][1]["items"][1]["id"] = "s1"  # the id of a section: ids are unique package-wide
    error = refused(build(tmp_path, kind, content))
    assert (error.file, error.field) == ("manifest.json", "sections[1].items[1].id")
    assert "duplicate id 's1'" in error.message
    assert "sections[0].id" in error.message


@KINDS
def test_an_option_id_used_twice_in_one_item_is_refused(tmp_path: Path, kind: str) -> None:
    content = manifest()
    content["sections"][0]["items"][1]["options"][2]["id"] = "a"
    error = refused(build(tmp_path, kind, content))
    assert (error.file, error.field) == ("manifest.json", "sections[0].items[1].options[2].id")


@KINDS
def test_a_key_naming_a_missing_option_is_refused(tmp_path: Path, kind: str) -> None:
    content = manifest()
    content["sections"][0]["items"][0]["correct"] = "z"
    error = refused(build(tmp_path, kind, content))
    assert (error.file, error.field) == ("manifest.json", "sections[0].items[0].correct")
    assert "'z'" in error.message


def test_a_multiple_choice_key_naming_a_missing_option_names_its_position(tmp_path: Path) -> None:
    content = manifest()
    content["sections"][0]["items"][1]["correct"] = ["a", "q"]
    error = refused(build(tmp_path, "folder", content))
    assert error.field == "sections[0].items[1].correct[1]"


@KINDS
@pytest.mark.parametrize("missing", ["audio", "max_plays"])
def test_dictation_without_audio_or_max_plays_is_refused(tmp_path: Path, kind: str, missing: str) -> None:
    content = manifest()
    del content["sections"][1]["items"][0][missing]
    error = refused(build(tmp_path, kind, content))
    assert (error.file, error.field) == ("manifest.json", f"sections[1].items[0].{missing}")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m.update(title="Test\x00"), "title"),
        (lambda m: m.update(version="\x001"), "version"),
        (lambda m: m["sections"][0].update(title="Choices\x00"), "sections[0].title"),
        (lambda m: m["sections"][1].update(id="s2\x00"), "sections[1].id"),
        (
            lambda m: m["sections"][0]["items"][1]["options"][2].update(text="C\x00"),
            "sections[0].items[1].options[2].text",
        ),
        (lambda m: m["sections"][0]["items"][1]["correct"].append("\x00"), "sections[0].items[1].correct[2]"),
        (lambda m: m["sections"][0].update({"note\x00": "x"}), "sections[0].'note\\x00'"),
    ],
)
def test_a_nul_character_anywhere_is_refused_by_its_field(tmp_path: Path, change: Any, field: str) -> None:
    # PostgreSQL cannot store U+0000 in text (a title, a version), and a section title holding it would have every
    # heartbeat naming that section refused: a package is refused for one, on every engine alike.
    content = manifest()
    change(content)
    error = refused(build(tmp_path, "zip", content))
    assert (error.file, error.field) == ("manifest.json", field)
    assert error.message == (
        "contains a NUL character (U+0000, \\u0000 in JSON), which is not allowed in a package; remove it"
    )


@KINDS
def test_malformed_json_names_line_and_column(tmp_path: Path, kind: str) -> None:
    error = refused(build(tmp_path, kind, '{\n  "id": "t1",\n  "version" "1"\n}\n'))
    assert error.file == "manifest.json"
    assert "line 3, column 13" in error.message


@KINDS
def test_a_misspelt_field_is_refused_rather_than_ignored(tmp_path: Path, kind: str) -> None:
    content = manifest()
    content["sections"][0]["items"][0]["corect"] = "a"
    error = refused(build(tmp_path, kind, content))
    assert (error.file, error.field) == ("manifest.json", "sections[0].items[0].corect")


@KINDS
def test_a_missing_required_field_is_named(tmp_path: Path, kind: str) -> None:
    content = manifest()
    del content["sections"][1]["time_limit_minutes"]
    error = refused(build(tmp_path, kind, content))
    assert (error.file, error.field) == ("manifest.json", "sections[1].time_limit_minutes")


@KINDS
def test_a_file_whose_bytes_do_not_match_its_extension_is_refused(tmp_path: Path, kind: str) -> None:
    error = refused(build(tmp_path, kind, manifest(), media={"media/pic.png": OGG, "media/clip.ogg": OGG}))
    assert (error.file, error.field) == ("media/pic.png", "sections[0].items[0].image")
    assert "image/png" in error.message


@KINDS
def test_an_unsupported_media_type_is_refused(tmp_path: Path, kind: str) -> None:
    content = manifest()
    content["sections"][0]["items"][0]["image"] = "media/pic.bmp"
    error = refused(build(tmp_path, kind, content, media={"media/pic.bmp": b"BM", "media/clip.ogg": OGG}))
    assert (error.file, error.field) == ("media/pic.bmp", "sections[0].items[0].image")


@KINDS
def test_audio_in_an_image_field_is_refused(tmp_path: Path, kind: str) -> None:
    content = manifest()
    content["sections"][0]["items"][0]["image"] = "media/clip.ogg"
    error = refused(build(tmp_path, kind, content))
    assert (error.file, error.field) == ("media/clip.ogg", "sections[0].items[0].image")


@KINDS
def test_an_oversize_manifest_is_refused(tmp_path: Path, kind: str) -> None:
    error = refused(build(tmp_path, kind, manifest()), PackageLimits(max_manifest_bytes=100))
    assert error.file == "manifest.json"
    assert "limit is 100" in error.message


@KINDS
def test_an_oversize_media_file_is_refused(tmp_path: Path, kind: str) -> None:
    error = refused(build(tmp_path, kind, manifest()), PackageLimits(max_media_bytes=len(PNG) - 1))
    assert (error.file, error.field) == ("media/pic.png", "sections[0].items[0].image")


@KINDS
def test_too_many_bytes_or_files_in_all_are_refused(tmp_path: Path, kind: str) -> None:
    source = build(tmp_path, kind, manifest())
    assert "limit is 1000 bytes" in refused(source, PackageLimits(max_total_bytes=1000)).message
    assert "at most 2 are allowed" in refused(source, PackageLimits(max_files=2)).message


@KINDS
def test_a_media_path_that_escapes_the_package_is_refused(tmp_path: Path, kind: str) -> None:
    content = manifest()
    content["sections"][0]["items"][0]["image"] = "../pic.png"
    error = refused(build(tmp_path, kind, content))
    assert (error.file, error.field) == ("manifest.json", "sections[0].items[0].image")
    assert "'..'" in error.message


@pytest.mark.parametrize("entry", ["../evil.png", "media/../../evil.png", "/etc/evil.png", "C:/evil.png"])
def test_zip_entries_that_escape_the_folder_are_refused(tmp_path: Path, entry: str) -> None:
    archive = build(tmp_path, "zip", manifest())
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(entry, PNG)
    error = refused(archive)
    assert error.file == entry
    assert "pkg.zip" in error.message


def test_zip_symlinks_are_refused(tmp_path: Path) -> None:
    archive = build(tmp_path, "zip", manifest())
    link = zipfile.ZipInfo("media/link.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    error = refused(archive)
    assert error.file == "media/link.png"
    assert "symlink" in error.message


def test_folder_symlinks_are_refused(tmp_path: Path) -> None:
    folder = build(tmp_path, "folder", manifest())
    (folder / "media" / "link.png").symlink_to(folder / "media" / "pic.png")
    error = refused(folder)
    assert error.file == "media/link.png"


def test_a_corrupt_zip_entry_is_refused_with_its_name(tmp_path: Path) -> None:
    archive = build(tmp_path, "zip", manifest())
    raw = bytearray(archive.read_bytes())
    data_at = raw.index(PNG[:64])
    raw[data_at + 40] ^= 0xFF  # inside the stored PNG: the CRC no longer matches
    archive.write_bytes(bytes(raw))
    error = refused(archive)
    assert error.file == "media/pic.png"
    assert "pkg.zip" in error.message


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "pkg.zip"
    bogus.write_bytes(b"not a zip")
    assert refused(bogus).file == "pkg.zip"


@KINDS
def test_a_package_without_a_manifest_is_refused(tmp_path: Path, kind: str) -> None:
    source = build(tmp_path, kind, manifest())
    if kind == "folder":
        (source / "manifest.json").unlink()
    else:
        with zipfile.ZipFile(tmp_path / "bare.zip", "w") as zf:
            zf.writestr("media/pic.png", PNG)
        source = tmp_path / "bare.zip"
    assert refused(source).file == "manifest.json"


def test_the_example_in_the_format_docs_loads(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "content-format.md").read_text(encoding="utf-8")
    example = doc.split("```json\n", 1)[1].split("```", 1)[0]
    source = build(
        tmp_path,
        "folder",
        example,
        media={"media/circles.png": PNG, "media/sentence-1.ogg": OGG},
    )
    package = load_package(source)
    assert [s.id for s in package.manifest.sections] == ["choices", "writing"]


def test_max_plays_without_audio_is_refused(tmp_path: Path) -> None:
    content = manifest()
    content["sections"][0]["items"][0]["max_plays"] = 1
    error = refused(build(tmp_path, "folder", content))
    assert (error.file, error.field) == ("manifest.json", "sections[0].items[0].max_plays")


def test_a_mac_zip_with_a_top_folder_and_resource_forks_loads(tmp_path: Path) -> None:
    archive = tmp_path / "mac.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg/manifest.json", json.dumps(BASE))
        zf.writestr("pkg/media/pic.png", PNG)
        zf.writestr("pkg/media/clip.ogg", OGG)
        zf.writestr("__MACOSX/pkg/media/._pic.png", b"\x00\x05\x16\x07")
    assert load_package(archive).manifest.id == "t1"
