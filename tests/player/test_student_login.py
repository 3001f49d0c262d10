"""Signing in without Qt: a resumed sitting finds its media in the cache only when every file is there and whole,
and a failed login is said in a sentence the student can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from player.student_login import (
    CANNOT_SIGN_IN,
    DOWNLOAD_FAILED,
    NO_CONNECTION,
    NOT_RECOGNISED,
    SERVER_BUSY,
    UNEXPECTED,
    cached_media,
    downloading_text,
    login_failure,
)
from resources import demo_assessment_path
from sync.client import BadReply, ClientError, MediaCorrupt, Refused, ServerBusy, Unreachable
from sync.client.errors import CA_BUNDLE_HINT
from sync.error_catalogue import number_for
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


STAFF_WORDS = ("server at", "set up for", "IT", "ca_bundle", "config", "HTTP", "http://", "Error", "version")
"""Words that belong in the log and the invigilator's view, never in a student's sentence."""

SERVER_URL = "https://invigil.example-school.org"


@pytest.mark.parametrize(
    ("failure", "shown", "number"),
    [
        (
            Refused("This access code was not recognised. ...check which server...", status=401, error="unknown_code"),
            NOT_RECOGNISED,
            "INV-2201",
        ),
        (Unreachable(SERVER_URL, "connection refused"), NO_CONNECTION, "INV-2001"),
        (
            Unreachable(
                SERVER_URL, "this computer does not trust the server's certificate", hint=CA_BUNDLE_HINT, tls=True
            ),
            NO_CONNECTION,
            "INV-2002",  # the same words for the student; the number tells IT it is the certificate
        ),
        (
            ServerBusy("The server at x is busy (HTTP 503).", status=503, error="http_503", retry_after=None),
            SERVER_BUSY,
            "INV-2003",
        ),
        (MediaCorrupt("media/cat.ogg does not match its sha256"), DOWNLOAD_FAILED, "INV-2005"),
        (
            BadReply(f"The server at {SERVER_URL} sent a reply Invigil cannot read (not JSON)."),
            CANNOT_SIGN_IN,
            "INV-2004",
        ),
        (
            Refused("The request is not valid: body.code.", status=422, error="invalid_request"),
            CANNOT_SIGN_IN,
            "INV-2101",
        ),
        (
            Refused("Refused by a newer server.", status=403, error="brand_new", number="INV-2999"),
            CANNOT_SIGN_IN,
            "INV-2999",  # the server's own number, even for a code this player does not know
        ),
        (ClientError("anything else"), CANNOT_SIGN_IN, "INV-2007"),
        (KeyError("x"), UNEXPECTED, "INV-3002"),
    ],
)
def test_a_failed_login_is_said_in_plain_words_and_its_cause_is_logged(
    caplog: pytest.LogCaptureFixture, failure: Exception, shown: str, number: str
) -> None:
    caplog.set_level("INFO")
    problem = login_failure(failure, server_url=SERVER_URL)
    assert problem.text == shown
    assert problem.number == number
    assert not [word for word in STAFF_WORDS if word in shown]
    assert shown.endswith("tell your invigilator.") or shown.endswith("Tell your invigilator.")
    logged = caplog.text
    assert str(failure) in logged or "Login failed unexpectedly" in logged
    if isinstance(failure, Refused | Unreachable | BadReply):
        assert SERVER_URL in logged, "the log says which server this computer asked"


@pytest.mark.parametrize(
    "refused",
    [
        Refused(
            "You have already finished this test, so this code cannot be used again.",
            status=409,
            error="already_finished",
        ),
        Refused(
            "This access code is in use on another computer. Ask your invigilator to release it.",
            status=409,
            error="in_use_elsewhere",
        ),
        ServerBusy(
            "Too many wrong access codes were typed on this computer. Try again after 09:10.",
            status=429,
            error="locked_out",
            retry_after=60,
        ),
        Refused(
            "This test is not open yet: it opens at 09:00. Type your code again then.", status=403, error="not_open_yet"
        ),
    ],
)
def test_a_refusal_written_for_the_student_is_shown_as_the_server_wrote_it(refused: ClientError) -> None:
    problem = login_failure(refused, server_url=SERVER_URL)
    assert problem.text == str(refused)
    assert problem.number == refused.number == number_for(f"api.{getattr(refused, 'error', '')}")


def test_the_download_counts_files() -> None:
    assert downloading_text(0, 1) == "Downloading the test: 0 of 1 file"
    assert downloading_text(2, 5) == "Downloading the test: 2 of 5 files"
