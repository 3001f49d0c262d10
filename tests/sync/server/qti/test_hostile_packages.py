"""Hostile QTI packages: XML bombs and entities, paths out of the package, symlinks, zip bombs, oversize files, bad
encodings, missing or foreign files. Each is refused naming the file (and line) before anything is stored."""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.server.content import PackageError, PackageLimits, load_package
from sync.server.models import Assessment
from tests.helpers.cli import Cli
from tests.helpers.qti_packages import PNG, choice_item, ims_manifest, package_files, write_folder, write_zip

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="q">&lol3;</assessmentItem>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE manifest [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="m">&secret;</manifest>
"""


def _refused(source: Path, **kwargs: object) -> PackageError:
    with pytest.raises(PackageError) as info:
        load_package(source, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_a_billion_laughs_item_is_refused_through_the_cli_and_nothing_is_stored(cli: Cli, tmp_path: Path) -> None:
    cli.ok("init")
    files = package_files({"items/q.xml": BILLION_LAUGHS})

    run = cli("load-assessment", str(write_zip(tmp_path / "bomb.zip", files)))

    assert run.code == 1
    assert "items/q.xml: line 2: has a DOCTYPE; DTDs and entities are not allowed" in run.err, run.err
    with cli.store() as store, store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Assessment)) == 0


def test_the_cli_gives_untimed_sections_the_minutes_it_is_told(cli: Cli, tmp_path: Path) -> None:
    cli.ok("init")
    package = write_folder(tmp_path / "p", package_files({"q.xml": choice_item()}, max_time=None))

    refused = cli("load-assessment", str(package))
    assert refused.code == 1
    assert "--untimed-section-minutes N" in refused.err

    cli.ok("load-assessment", str(package), "--untimed-section-minutes", "12")
    with cli.store() as store, store.transaction() as session:
        stored = session.scalars(select(Assessment)).one()
        assert stored.package_id == "test-1"
        assert '"time_limit_minutes":12' in stored.manifest_json


def test_an_external_entity_in_the_manifest_is_refused(tmp_path: Path) -> None:
    error = _refused(write_folder(tmp_path / "p", {"imsmanifest.xml": EXTERNAL}))

    assert (error.file, error.field) == ("imsmanifest.xml", "line 2")
    assert "DTDs and entities are not allowed" in error.message


@pytest.mark.parametrize(
    ("entry", "message"),
    [("../evil.xml", "'..' in a path"), ("/etc/evil.xml", "absolute or Windows-style path")],
)
def test_zip_entries_outside_the_package_are_refused(tmp_path: Path, entry: str, message: str) -> None:
    files = package_files({"q.xml": choice_item()})
    files[entry] = "<x/>"

    error = _refused(write_zip(tmp_path / "p.zip", files))

    assert error.file == entry
    assert message in error.message


@pytest.mark.parametrize("href", ["../outside.xml", "/etc/passwd", "http://example.com/q.xml", "a/../../q.xml"])
def test_a_resource_href_leaving_the_package_is_refused_with_its_line(tmp_path: Path, href: str) -> None:
    files = package_files({"q.xml": choice_item()})
    files["imsmanifest.xml"] = ims_manifest([href])

    error = _refused(write_folder(tmp_path / "p", files))

    assert (error.file, error.field) == ("imsmanifest.xml", "line 6")
    assert "escapes the package" in error.message or "not a path inside the package" in error.message


def test_an_image_escaping_the_item_folder_is_refused(tmp_path: Path) -> None:
    xml = choice_item().replace("<p>Which", '<p><img src="../../secret.png"/>Which')
    error = _refused(write_folder(tmp_path / "p", package_files({"items/q.xml": xml})))

    assert (error.file, error.field) == ("items/q.xml", "line 6")
    assert "escapes the package folder" in error.message


def test_symlinks_are_refused_in_a_folder_and_in_a_zip(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "p", package_files({"q.xml": choice_item()}))
    os.symlink("/etc/passwd", folder / "media.png")
    assert "symlink" in _refused(folder).message

    archive = write_zip(tmp_path / "p.zip", package_files({"q.xml": choice_item()}))
    with zipfile.ZipFile(archive, "a") as zf:
        link = zipfile.ZipInfo("media.png")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    error = _refused(archive)
    assert error.file == "media.png"
    assert "symlink" in error.message


def test_a_high_ratio_zip_bomb_is_refused_before_reading(tmp_path: Path) -> None:
    files = package_files({"q.xml": choice_item()})
    files["padding.bin"] = b"\x00" * (8 * 1024 * 1024)

    error = _refused(write_zip(tmp_path / "p.zip", files))

    assert error.file == "padding.bin"
    assert "zip bomb" in error.message


def test_a_zip_whose_header_lies_about_a_size_is_refused(tmp_path: Path) -> None:
    big = choice_item().replace("<p>Which", "<!--" + "x" * 300_000 + "--><p>Which")
    archive = write_zip(tmp_path / "p.zip", package_files({"q.xml": big}))
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("q.xml")
    # Forge the uncompressed size to 100 bytes in the local header and the central directory.
    struct.pack_into("<I", data, info.header_offset + 22, 100)
    central = data.index(b"PK\x01\x02")
    while struct.unpack_from("<H", data, central + 28) != (5,) or data[central + 46 : central + 51] != b"q.xml":
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, 100)
    archive.write_bytes(bytes(data))

    error = _refused(archive)

    assert error.file == "q.xml"
    assert "damaged" in error.message


def test_an_oversize_xml_file_is_refused(tmp_path: Path) -> None:
    files = package_files({"q.xml": choice_item().replace("<p>Which", "<!--" + "x" * 20_000 + "--><p>Which")})

    error = _refused(write_folder(tmp_path / "p", files), limits=PackageLimits(max_manifest_bytes=10_000))

    assert error.file == "q.xml"
    assert "XML files may be at most 10000 bytes" in error.message


def test_encodings_utf16_with_bom_loads_latin1_bytes_and_other_declarations_are_refused(tmp_path: Path) -> None:
    utf16 = choice_item().replace('encoding="UTF-8"', 'encoding="UTF-16"').replace("Alpha", "Älpha")
    package = load_package(write_folder(tmp_path / "ok", package_files({"q.xml": utf16.encode("utf-16")})))
    assert package.manifest.sections[0].items[0].options[0].text == "Älpha"  # type: ignore[union-attr]

    latin1 = choice_item().replace("Alpha", "Älpha").encode("latin-1")
    error = _refused(write_folder(tmp_path / "latin1", package_files({"q.xml": latin1})))
    assert (error.file, error.field) == ("q.xml", "line 9")
    assert error.message.startswith("not UTF-8 text")

    declared = choice_item().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    error = _refused(write_folder(tmp_path / "declared", package_files({"q.xml": declared})))
    assert error.message.startswith("declares encoding 'ISO-8859-1'; save it as UTF-8")


def test_missing_files_are_refused_naming_the_file_that_names_them(tmp_path: Path) -> None:
    files = package_files({"q.xml": choice_item()})
    del files["q.xml"]
    error = _refused(write_folder(tmp_path / "item", files))
    assert (error.file, error.field) == ("imsmanifest.xml", "line 6")
    assert "names 'q.xml', which is not in the package" in error.message

    files = package_files({"q.xml": choice_item().replace("<p>Which", '<p><img src="gone.png"/>Which')})
    files["other.png"] = PNG
    error = _refused(write_folder(tmp_path / "media", files))
    assert (error.file, error.field) == ("q.xml", "line 6")
    assert "names image 'gone.png', which is not in the package" in error.message


def test_an_item_file_that_is_not_qti_is_refused(tmp_path: Path) -> None:
    files = package_files({"q.xml": "<html><body><p>Not an item</p></body></html>"})

    error = _refused(write_folder(tmp_path / "p", files))

    assert (error.file, error.field) == ("q.xml", "line 1")
    assert error.message.startswith("not a QTI 2.1/2.2/3.0 assessmentItem (root element 'html'")
