"""Content packages loaded by a school's admin through the staff API, when the server allows it (`serve
--content-uploads`): who may, the zip streamed to a temporary file, and the same complete check as
`invigil-server load-assessment` before anything is stored."""

from __future__ import annotations

import logging
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from sync import staff_protocol as sp
from sync.protocol import ErrorBody
from sync.server import accounts, audit, sittings
from sync.server.audit import Actor
from sync.server.deps import ServerContext
from sync.server.errors import ServiceError
from sync.server.store import retry_on_race

log = logging.getLogger(__name__)

UPLOADS_OFF = (
    "This server does not take content packages through the staff API: assessments are shared by every school "
    "on it, so its operator loads them with `invigil-server load-assessment PACKAGE.zip`. The operator can let "
    "school admins load them too by starting the server with `invigil-server serve --content-uploads` "
    "(see docs/server.md, Loading content)."
)
MAX_NAME_CHARS = 100

REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The content package: a .zip (the JSON format, or an IMS content package of QTI items) "
        "as the raw body. `X-Filename` may name the file, for the messages about it.",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in sp.PACKAGE_TYPES},
    }
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": sp.AssessmentLoaded, "description": "This very content was already loaded; nothing changed."},
    415: {"model": ErrorBody, "description": "The body is not sent as a zip (Content-Type application/zip)."},
}


def check_uploader(ctx: ServerContext, token: str) -> Actor:
    """The signed-in admin, in a short transaction of its own: none is held open while the body arrives."""
    now = ctx.clock()
    with ctx.store.transaction() as session:
        actor = Actor.of(accounts.staff_for_token(session, token, now=now), now=now)
    if actor.role != "admin":
        raise ServiceError(
            403, "forbidden", f"Loading an assessment needs the role admin; you are signed in as {actor.role}."
        )
    if not ctx.settings.content_uploads:
        raise ServiceError(403, "content_uploads_off", UPLOADS_OFF)
    return actor


def check_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in sp.PACKAGE_TYPES:
        raise ServiceError(
            415,
            "unsupported_type",
            f"A content package is sent as a .zip file with Content-Type application/zip, not "
            f"{media_type or 'without a Content-Type'}. Zip the package and upload the .zip.",
        )


def package_name(raw: str | None) -> str:
    """The uploaded file's name, safe to use as the temporary file's (the importer's messages name it)."""
    name = re.split(r"[\\/]", unquote(raw or ""))[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(c if (c.isalnum() or c in "._-()") else "_" for c in name).strip("._")
    stem = name[:-4] if name.lower().endswith(".zip") else name
    return f"{(stem or 'package')[: MAX_NAME_CHARS - 4]}.zip"


async def receive(request: Request, path: Path) -> int:
    """Write the body to `path` as it arrives (never all of it in memory); the body limit middleware stops it
    past `--max-body content=`. Returns its size."""
    size = 0
    with path.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            await run_in_threadpool(out.write, chunk)
    return size


def store(
    ctx: ServerContext, actor: Actor, path: Path, *, size: int, untimed_section_minutes: int | None = None
) -> sp.AssessmentLoaded:
    """Check the package completely and store it (or find it stored), with an audit entry, in one transaction;
    refused, nothing is kept."""

    def load() -> sp.AssessmentLoaded:
        with ctx.store.transaction(queued=True) as session:
            assessment, new = sittings.load_assessment(session, path, untimed_section_minutes=untimed_section_minutes)
            manifest = ctx.manifests.get(assessment).manifest
            audit.record(
                session,
                actor,
                "assessment_loaded" if new else "assessment_load_repeated",
                target=assessment.id,
                package_id=assessment.package_id,
                version=assessment.version,
                content_hash=assessment.content_hash,
                file=path.name,
                bytes=size,
            )
            return sp.AssessmentLoaded(
                id=assessment.id,
                package_id=assessment.package_id,
                version=assessment.version,
                title=assessment.title,
                sections=len(manifest.sections),
                items=sum(len(section.items) for section in manifest.sections),
                content_hash=assessment.content_hash,
                already_loaded=not new,
            )

    # Two admins loading the same package at once: the second finds the first's rows on its retry (200 or 409).
    return retry_on_race(load, what="A content package")


async def upload(
    request: Request,
    ctx: ServerContext,
    token: str,
    *,
    content_type: str | None,
    filename: str | None,
    untimed_section_minutes: int | None = None,
) -> sp.AssessmentLoaded:
    actor = await run_in_threadpool(check_uploader, ctx, token)
    check_type(content_type)
    with tempfile.TemporaryDirectory(prefix="invigil-upload-") as folder:
        path = Path(folder) / package_name(filename)
        size = await receive(request, path)
        try:
            loaded = await run_in_threadpool(
                store, ctx, actor, path, size=size, untimed_section_minutes=untimed_section_minutes
            )
        except ServiceError as exc:
            log.info("content upload %s by %s (school %s) refused: %s", path.name, actor.name, actor.school_id, exc)
            raise
    log.info(
        "content upload by %s (school %s): %s version %s %s",
        actor.name,
        actor.school_id,
        loaded.package_id,
        loaded.version,
        "already loaded" if loaded.already_loaded else "stored",
    )
    return loaded
