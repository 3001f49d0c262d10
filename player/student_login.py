"""Signing a student in without Qt: the login and media download (run on a worker thread), the cached media a
resumed sitting needs, and the sentences the access-code screen shows on the way."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sync.error_catalogue import Problem, number_for

if TYPE_CHECKING:
    # Types only: requests and pydantic (the wire types) are imported by the calls that need them, after the
    # access-code screen's first paint.
    from sync.client import InvigilClient
    from sync.mediacache import MediaCache
    from sync.protocol import LoginResponse

log = logging.getLogger(__name__)

CHECKING = "Checking your code…"
ENTER_AGAIN = "Type your access code again to continue your test where you left off."

# What a student reads when signing in fails: what happened and what to do, in plain words. The technical cause
# (the server's address, the network error, a certificate, a config setting to change) is for IT: it goes to the
# log (login_failure), never on the student's screen; the number shown under the sentence is the cause's (the
# client's or the server's entry in the error catalogue), so a support call still learns it.
NOT_RECOGNISED = (
    "This access code was not recognised. Check the code on your slip and type it again. "
    "If it still does not work, tell your invigilator."
)
NO_CONNECTION = "This computer cannot reach the test server just now. Tell your invigilator."
SERVER_BUSY = (
    "The test server is busy just now. Wait a minute, then type your code again. "
    "If it keeps happening, tell your invigilator."
)
DOWNLOAD_FAILED = (
    "The test could not be downloaded completely. Type your code again. If it happens again, tell your invigilator."
)
CANNOT_SIGN_IN = "This computer cannot open your test. Tell your invigilator."
CANNOT_START = "Your test cannot be started on this computer. Tell your invigilator."
UNEXPECTED = "Something went wrong on this computer. Tell your invigilator."

STUDENT_SENTENCES = frozenset(
    {"not_open_yet", "sitting_closed", "extension_over", "in_use_elsewhere", "already_finished", "locked_out"}
)
"""Refusals whose sentence the server writes for the student at the screen (sync/server/domain.py: when to come
back, whom to ask): shown as they are. "malformed_code" is the client's own, the code's format explained."""


def downloading_text(done: int, total: int) -> str:
    return f"Downloading the test: {done} of {total} file{'s' if total != 1 else ''}"


@dataclass(frozen=True)
class SignedIn:
    """A login the server accepted, with every media file of its assessment on disk (by sha256)."""

    login: LoginResponse
    media: dict[str, Path]


def sign_in(
    make_client: Callable[[], InvigilClient],
    code: str,
    cache: MediaCache,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> SignedIn:
    """Log in with `code` and fetch (or find verified in `cache`) every media file; `progress(done, total)` after
    each file. Slow: run it off the GUI thread. Raises sync.client's errors as they come."""
    # A client per call: a requests session is not shared between threads.
    with make_client() as client:
        login = client.login(code)
        return SignedIn(login, client.fetch_all_media(login, cache, progress=progress))


def cached_media(login: LoginResponse, cache: MediaCache) -> dict[str, Path] | None:
    """Every media file of `login`'s assessment from the cache, verified; None when one is missing or damaged
    (a new login then fetches it again)."""
    paths: dict[str, Path] = {}
    for section in login.assessment.sections:
        for item in section.items:
            for ref in item.media:
                if not cache.has_valid(ref):
                    log.warning(
                        "Media %s (%s) is not in the cache; asking for the code again", ref.sha256, ref.filename
                    )
                    return None
                paths[ref.sha256] = cache.path_for(ref.sha256)
    return paths


def login_failure(exc: Exception, *, server_url: str) -> Problem:
    """What the access-code screen says when signing in to `server_url` failed, in a student's words, with the
    cause's number; the technical cause is logged for IT (a wrong server address, the network, a certificate,
    mismatched versions)."""
    from sync.client import ClientError, MediaCorrupt, Refused, ServerBusy, Unreachable

    if not isinstance(exc, ClientError):
        log.error("Login failed unexpectedly", exc_info=exc)
        return Problem(UNEXPECTED, number_for("login.unexpected"))
    error = getattr(exc, "error", None)
    if isinstance(exc, Refused | ServerBusy) and (error in STUDENT_SENTENCES or error == "malformed_code"):
        log.info("Login refused (%s): %s", error, exc)
        return exc.problem
    if isinstance(exc, Refused) and error == "unknown_code":
        # A right code refused as unknown usually means this computer is set up for another school's server.
        log.warning("Login refused: the server at %s does not know this code (%s)", server_url, exc)
        return Problem(NOT_RECOGNISED, exc.number)
    log.warning("Login to %s failed (%s %s): %s", server_url, error or type(exc).__name__, exc.number, exc)
    if isinstance(exc, Unreachable):
        return Problem(NO_CONNECTION, exc.number)
    if isinstance(exc, ServerBusy):
        return Problem(SERVER_BUSY, exc.number)
    if isinstance(exc, MediaCorrupt):
        return Problem(DOWNLOAD_FAILED, exc.number)
    return Problem(CANNOT_SIGN_IN, exc.number)  # BadReply (a wrong address, mismatched versions), any other refusal
