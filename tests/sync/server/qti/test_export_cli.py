"""`invigil-server export-assessment REF --qti OUT.zip` as an operator runs it: the demo goes out as a QTI 3.0
package that loads again, an existing file is kept unless --force, and mistakes are explained."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from resources import demo_assessment_path
from sync.server import marking
from sync.server.content import load_package
from tests.helpers.cli import Cli


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """A folder for the zips alone (the SQLite database lives elsewhere in tmp_path)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


@pytest.fixture
def loaded(cli: Cli) -> Cli:
    cli.ok("init")
    cli.ok("load-assessment", str(demo_assessment_path()))
    return cli


def test_the_demo_exports_with_its_media_from_the_database_and_loads_back_marking_the_same(
    loaded: Cli, exports: Path
) -> None:
    out = exports / "demo-qti.zip"
    run = loaded.ok("export-assessment", "demo-literacy", "--qti", str(out))
    assert f"to {out}: 9 items, 3 media files." in run.out
    assert "2 dictation items (dict-cat, dict-library)" in run.out
    assert "need hand marking" in run.out
    with zipfile.ZipFile(out) as archive:
        assert {"imsmanifest.xml", "assessment.xml", "media/circles.png", "media/dictation-1.ogg"} <= set(
            archive.namelist()
        )
    original = load_package(demo_assessment_path()).manifest
    imported = load_package(out).manifest
    answers = {"mc-circles": "b", "mc-nouns": ["a", "c", "d"], "short-capital": "  PARIS ", "short-describe": "Hi."}
    expected, got = marking.mark(original, answers).items, marking.mark(imported, answers).items
    assert {i: m for i, m in got.items() if not i.startswith("dict-")} == {
        i: m for i, m in expected.items() if not i.startswith("dict-")
    }
    assert (got["mc-nouns"].score, got["short-capital"].score) == (1.0, 1.0)  # 2 × (2 right − 1 wrong) / 2
    dictated = marking.mark(imported, {"dict-cat": "The cat sat on the mat."}).items["dict-cat"]
    assert (dictated.score, dictated.needs_manual) == (0.0, True)  # dictation: marked by hand after the trip
    # And the operator can load the export as a package of its own.
    again = loaded.ok("load-assessment", str(out))
    assert "Loaded Demo literacy check (demo-literacy" in again.out


@pytest.mark.sqlite_only
def test_an_existing_file_is_kept_unless_force_is_given(loaded: Cli, exports: Path) -> None:
    out = exports / "taken.zip"
    out.write_bytes(b"someone's work")
    refused = loaded("export-assessment", "demo-literacy", "--qti", str(out))
    assert refused.code == 1
    assert f"{out} already exists; choose another name, or add --force to replace it" in refused.err
    assert out.read_bytes() == b"someone's work"
    loaded.ok("export-assessment", "demo-literacy", "--qti", str(out), "--force")
    assert zipfile.is_zipfile(out)
    assert [p.name for p in exports.iterdir()] == ["taken.zip"]  # no temporary file left beside it


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("ref", "name", "message"),
    [
        ("no-such-test", "out.zip", "No assessment 'no-such-test' is loaded"),
        ("demo-literacy", "out.qti", "a QTI package is a .zip file"),
        ("demo-literacy", "missing/out.zip", "there is no folder"),
    ],
)
def test_mistakes_are_explained_and_nothing_is_written(
    loaded: Cli, exports: Path, ref: str, name: str, message: str
) -> None:
    run = loaded("export-assessment", ref, "--qti", str(exports / name))
    assert run.code == 1
    assert message in run.err
    assert run.err.startswith("invigil-server export-assessment: ")
    assert list(exports.iterdir()) == []
