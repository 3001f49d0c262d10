"""Signing a student in without Qt: the login and media download (run on a worker thread), the cached media a
resumed sitting needs, and the sentences the access-code screen shows on the way."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Types only: requests and pydantic (the wire types) are imported by the calls that need them, after the
    # access-code screen's first paint.
    from sync.client import InvigilClient
    from sync.mediacache import MediaCache
    from sync.protocol import LoginResponse

log = logging.getLogger(__name__)

CHECKING = "Checking your code…"
UNEXPECTED = "Something went wrong on this computer ({what}). Tell your invigilator."
ENTER_AGAIN = "Type your access code again to continue your test where you left off."


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


def login_failure_text(exc: Exception) -> str:
    """What the access-code screen says when signing in failed: the server's or the network's own sentence, or
    (for anything unexpected, which is logged) a request to tell the invigilator."""
    from sync.client import ClientError

    if isinstance(exc, ClientError):
        return str(exc)
    log.error("Login failed unexpectedly", exc_info=exc)
    return UNEXPECTED.format(what=type(exc).__name__)
