"""Evidence of written work: scans and photos checked for what they really are, stored, and served back."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from urllib.parse import unquote

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import staff_protocol as sp
from sync.server import audit, sittings
from sync.server.audit import Actor
from sync.server.errors import ServiceError, not_found
from sync.server.models import Allocation, Evidence

MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "application/pdf": (b"%PDF-",),
}
"""The first bytes of each accepted evidence type: what a file is, whatever its name or header claims."""
MAX_FILENAME_CHARS = 100
_KIND_NAMES = {"image/png": "a PNG image", "image/jpeg": "a JPEG image", "application/pdf": "a PDF"}


def evidence_out(e: Evidence) -> sp.EvidenceOut:
    return sp.EvidenceOut(
        id=e.id,
        filename=e.filename,
        mime_type=e.mime_type,
        size=e.size,
        uploaded_at=e.uploaded_at,
        uploaded_by=e.uploaded_by,
    )


def sniff(data: bytes) -> str | None:
    """The evidence type the content really is, by its first bytes; None for anything else."""
    for mime_type, prefixes in MAGIC.items():
        if any(data.startswith(p) for p in prefixes):
            return mime_type
    return None


def too_large(size: int) -> ServiceError:
    limit = sp.MAX_EVIDENCE_BYTES // (1024 * 1024)
    return ServiceError(
        413,
        "too_large",
        f"This file is {size / (1024 * 1024):.1f} MB; evidence files can be at most {limit} MB. "
        "Scan at a lower resolution, or save the photo smaller, and upload it again.",
    )


def safe_filename(raw: str | None, mime_type: str) -> str:
    """A name safe to show and to save: no folders, no control characters, the right suffix, at most 100 chars."""
    name = unquote(raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(c if (c.isalnum() or c in " ._-()") else "_" for c in name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    suffix = sp.EVIDENCE_TYPES[mime_type]
    allowed = {suffix, ".jpeg"} if mime_type == "image/jpeg" else {suffix}
    stem, dot, ext = name.rpartition(".")
    if not (dot and f".{ext.lower()}" in allowed):
        # A missing or misleading suffix is replaced, so the saved file opens with the right program.
        stem, ext = name, suffix.removeprefix(".")
    stem = (stem or "evidence")[: MAX_FILENAME_CHARS - len(ext) - 1]
    return f"{stem}.{ext}"


def add_evidence(
    session: Session,
    actor: Actor,
    allocation_id: str,
    data: bytes,
    *,
    declared_type: str | None,
    filename: str | None,
    now: datetime,
) -> sp.EvidenceOut:
    """Store a scan or photo of written work after checking what it really is; 415 and 413 say what to do."""
    allocation = sittings.get_allocation(session, actor, allocation_id)
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared not in sp.EVIDENCE_TYPES:
        raise ServiceError(
            415,
            "unsupported_type",
            f"Evidence must be sent as image/png, image/jpeg or application/pdf, not {declared or 'no type'}. "
            "Scan or photograph the work as a PNG, JPEG or PDF.",
        )
    if len(data) > sp.MAX_EVIDENCE_BYTES:
        raise too_large(len(data))
    actual = sniff(data)
    shown = safe_filename(filename, declared)
    if actual != declared:
        what = _KIND_NAMES.get(actual or "", "not a PNG, JPEG or PDF file")
        if not data:
            what = "empty"
        raise ServiceError(
            415,
            "unsupported_type",
            f"{shown} was sent as {_KIND_NAMES[declared]}, but its content is {what}. "
            "Upload the original scan or photo (PNG, JPEG or PDF).",
        )
    evidence = Evidence(
        allocation_id=allocation.id,
        filename=shown,
        mime_type=declared,
        size=len(data),
        data=data,
        uploaded_by=actor.name,
        uploaded_at=now,
    )
    session.add(evidence)
    session.flush()
    audit.record(
        session,
        actor,
        "upload_evidence",
        target=evidence.id,
        sitting_id=allocation.sitting_id,
        allocation_id=allocation.id,
        filename=shown,
        size=len(data),
    )
    return evidence_out(evidence)


def get_evidence(session: Session, actor: Actor, evidence_id: str) -> Evidence:
    evidence = session.scalar(select(Evidence).where(Evidence.id == evidence_id))
    if evidence is None:
        raise not_found("evidence file")
    allocation = session.get(Allocation, evidence.allocation_id)
    if allocation is None or allocation.sitting.school_id != actor.school_id:
        raise not_found("evidence file")
    return evidence
