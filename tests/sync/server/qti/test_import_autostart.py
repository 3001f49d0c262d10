"""Whether an imported recording starts by itself: mediaInteraction's autostart (QTI 2.1/2.2 Information Model,
mediaInteraction: "autostart [1]: boolean", required; QTI 3.0 qti-media-interaction `autostart`), and the HTML
`autoplay` attribute for audio outside one. Invigil's own items start by themselves (autoplay's default, true)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.server.content import PackageError, load_package
from sync.server.content.manifest import AnyItem
from tests.helpers.qti_packages import OGG, PNG, choice_item, package_files, spelled, write_folder

VERSIONS = ("2.1", "2.2", "3.0")
MEDIA = '<mediaInteraction responseIdentifier="PLAYS"{attrs} maxPlays="2"><object type="audio/ogg" data="s.ogg"/></mediaInteraction>'


def imported(tmp_path: Path, media: str, version: str = "2.1") -> AnyItem:
    """A choice item whose body starts with `media` (in 2.1 spelling; 3.0 spells it qti-media-interaction...)."""
    media = spelled(media, version)
    xml = choice_item(version=version).replace("<p>Which is right?</p>", f"{media}<p>Which is right?</p>")
    files = package_files({"a.xml": xml}, version=version)
    files["s.ogg"] = OGG
    return load_package(write_folder(tmp_path / "p", files)).manifest.sections[0].items[0]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("written", "autoplay"), [("false", False), ("0", False), ("true", True), ("1", True)])
def test_autostart_decides_whether_the_recording_starts_by_itself(
    tmp_path: Path, version: str, written: str, autoplay: bool
) -> None:
    item = imported(tmp_path, MEDIA.format(attrs=f' autostart="{written}"'), version)

    assert item.audio is not None
    assert item.max_plays == 2
    assert item.autoplay is autoplay
    # Left out of the stored manifest while true (Invigil's default), written down when false.
    assert ("autoplay" in item.model_dump()) is (not autoplay)


def test_a_media_interaction_without_autostart_waits_for_the_student(tmp_path: Path) -> None:
    """The attribute is required; a package that leaves it out did not ask for a start by itself, and a play
    started without the student choosing would use one of theirs."""
    assert imported(tmp_path, MEDIA.format(attrs="")).autoplay is False


def test_an_autostart_that_is_not_a_boolean_is_refused_by_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(PackageError) as info:
        imported(tmp_path, MEDIA.format(attrs=' autostart="yes"'))
    assert info.value.file == "a.xml"
    assert "line" in str(info.value)
    assert "autostart='yes' is not true or false" in str(info.value)


@pytest.mark.parametrize(
    ("media", "autoplay"),
    [
        ('<audio autoplay="autoplay"><source src="s.ogg"/></audio>', True),  # HTML boolean attribute present
        ('<audio autoplay=""><source src="s.ogg"/></audio>', True),
        ('<audio controls="controls"><source src="s.ogg"/></audio>', False),  # HTML: no autoplay attribute
        ('<p><object type="audio/ogg" data="s.ogg"/></p>', False),  # <object> has no way to say "start"
    ],
)
def test_audio_outside_a_media_interaction_follows_html_autoplay(tmp_path: Path, media: str, autoplay: bool) -> None:
    item = imported(tmp_path, media)

    assert item.audio is not None
    assert item.max_plays is None
    assert item.autoplay is autoplay


@pytest.mark.parametrize("plays", ["0", "2"])
def test_a_media_interaction_holding_an_image_is_refused_whatever_its_plays(tmp_path: Path, plays: str) -> None:
    """maxPlays="0" (no limit) once let an image through, because "inside a mediaInteraction" was read from
    max_plays; every mediaInteraction holds audio here."""
    media = f'<mediaInteraction responseIdentifier="PLAYS" autostart="false" maxPlays="{plays}"><img src="i.png"/></mediaInteraction>'
    xml = choice_item().replace("<p>Which is right?</p>", f"{media}<p>Which is right?</p>")
    files = package_files({"a.xml": xml})
    files["i.png"] = PNG
    with pytest.raises(PackageError) as info:
        load_package(write_folder(tmp_path / "p", files))
    assert info.value.file == "a.xml"
    assert "a mediaInteraction must hold audio, not an image" in str(info.value)
