"""Signing in without Qt: a resumed sitting finds its media in the cache only when every file is there and whole,
and a failed login is said in a sentence the student can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from player.student_login import UNEXPECTED, cached_media, downloading_text, login_failure_text
from resources import demo_assessment_path
from sync.client import Refused, Unreachable
from sync.mediacache import MediaCache
from tests.helpers.player import make_login


def fill(cache: MediaCache, login_media: list[tuple[str, str]]) -> None:
    """Put the demo's own media files in the cache, as a download would."""
    folder = demo_assessment_path() / "media"
    cache.folder.mkdir(parents=True, exist_ok=True)
    for sha256, filename in login_media:
        cache.path_for(sha256).write_bytes((folder / filename).read_bytes())


def test_a_resumed_sitting_has_its_media_only_when_every_file_is_whole(tmp_path: Path, demo_delivery: object) -> None:
    login = make_login(demo_delivery)
    refs = {(r.sha256, r.filename) for s in login.assessment.sections for i in s.items for r in i.media}
    assert refs, "the demo has media"
    cache = MediaCache(tmp_path / "media")
    assert cached_media(login, cache) is None

    fill(cache, sorted(refs))
    media = cached_media(login, cache)
    assert media == {sha256: cache.path_for(sha256) for sha256, _ in refs}

    damaged = cache.path_for(sorted(refs)[0][0])
    damaged.write_bytes(b"x" + damaged.read_bytes()[1:])
    assert cached_media(login, cache) is None


def test_a_failed_login_is_the_clients_sentence_or_a_request_to_tell_the_invigilator(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = Refused("This code has already been used to finish the test.", status=409, error="already_finished")
    assert login_failure_text(refused) == "This code has already been used to finish the test."
    offline = Unreachable("http://server", "connection refused")
    assert login_failure_text(offline) == str(offline)
    assert login_failure_text(KeyError("x")) == UNEXPECTED.format(what="KeyError")
    assert "Login failed unexpectedly" in caplog.text


def test_the_download_counts_files() -> None:
    assert downloading_text(0, 1) == "Downloading the test: 0 of 1 file"
    assert downloading_text(2, 5) == "Downloading the test: 2 of 5 files"
