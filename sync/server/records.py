"""What staff record about a sitting: manual dictation entries, evidence of written work, and incidents."""

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
from sync.server.models import Allocation, Evidence, Incident, IncidentStudent, ManualEntry

MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "application/pdf": (b"%PDF-",),
}
"""The first bytes of each accepted evidence type: what a file is, whatever its name or header claims."""
MAX_FILENAME_CHARS = 100
_KIND_NAMES = {"image/png": "a PNG image", "image/jpeg": "a JPEG image", "application/pdf": "a PDF"}


# ---- manual entries -----------------------------------------------------------------------------


def _evidence_out(e: Evidence) -> sp.EvidenceOut:
    return sp.EvidenceOut(
        id=e.id,
        filename=e.filename,
        mime_type=e.mime_type,
        size=e.size,
        uploaded_at=e.uploaded_at,
        uploaded_by=e.uploaded_by,
    )


def manual_out(session: Session, allocation: Allocation) -> sp.ManualEntryOut:
    entry = session.get(ManualEntry, allocation.id)
    files = session.scalars(select(Evidence).where(Evidence.allocation_id == allocation.id).order_by(Evidence.seq))
    return sp.ManualEntryOut(
        allocation_id=allocation.id,
        student_name=allocation.student.display_name,
        typed_dictation=entry.typed_dictation if entry else None,
        written_dictation=entry.written_dictation if entry else None,
        comments=entry.comments if entry else None,
        updated_by=entry.updated_by if entry else None,
        updated_at=entry.updated_at if entry else None,
        evidence=[_evidence_out(e) for e in files],
    )


def manual(session: Session, actor: Actor, allocation_id: str) -> sp.ManualEntryOut:
    return manual_out(session, sittings.get_allocation(session, actor, allocation_id))


def _clean(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def save_manual(
    session: Session, actor: Actor, allocation_id: str, entry: sp.ManualEntryIn, *, now: datetime
) -> sp.ManualEntryOut:
    """Replace the allocation's manual values (None or blank clears one) and log what changed."""
    allocation = sittings.get_allocation(session, actor, allocation_id)
    row = session.get(ManualEntry, allocation.id)
    if row is None:
        row = ManualEntry(allocation_id=allocation.id, updated_by=actor.name, updated_at=now)
        session.add(row)
    new = {
        "typed_dictation": _clean(entry.typed_dictation),
        "written_dictation": _clean(entry.written_dictation),
        "comments": _clean(entry.comments),
    }
    changed = sorted(name for name, value in new.items() if getattr(row, name) != value)
    row.typed_dictation = new["typed_dictation"]
    row.written_dictation = new["written_dictation"]
    row.comments = new["comments"]
    row.updated_by = actor.name
    row.updated_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "save_manual",
        target=allocation.id,
        sitting_id=allocation.sitting_id,
        allocation_id=allocation.id,
        changed=changed,
        typed_dictation=new["typed_dictation"],
        written_dictation=new["written_dictation"],
    )
    return manual_out(session, allocation)


# ---- evidence -----------------------------------------------------------------------------------


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
    return _evidence_out(evidence)


def get_evidence(session: Session, actor: Actor, evidence_id: str) -> Evidence:
    evidence = session.scalar(select(Evidence).where(Evidence.id == evidence_id))
    if evidence is None:
        raise not_found("evidence file")
    allocation = session.get(Allocation, evidence.allocation_id)
    if allocation is None or allocation.sitting.school_id != actor.school_id:
        raise not_found("evidence file")
    return evidence


# ---- incidents ----------------------------------------------------------------------------------


def _incident_out(incident: Incident) -> sp.IncidentOut:
    return sp.IncidentOut(
        id=incident.id,
        kind=incident.kind,
        occurred_at=incident.occurred_at,
        allocation_ids=[s.allocation_id for s in incident.students],
        students=[s.allocation.student.display_name for s in incident.students],
        note=incident.note,
        recorded_by=incident.recorded_by,
        recorded_at=incident.recorded_at,
    )


def add_incident(
    session: Session, actor: Actor, sitting_id: str, body: sp.IncidentIn, *, now: datetime
) -> sp.IncidentOut:
    sitting = sittings.get_sitting(session, actor, sitting_id)
    own = {a.id for a in sitting.allocations}
    wanted = list(dict.fromkeys(body.allocation_ids))
    strangers = [a for a in wanted if a not in own]
    if strangers:
        raise ServiceError(
            422,
            "not_in_sitting",
            f"allocation_ids: {', '.join(strangers[:3])} {'is' if len(strangers) == 1 else 'are'} not in the sitting "
            f"{sitting.name}. Choose the students affected from this sitting's room.",
        )
    incident = Incident(
        sitting_id=sitting.id,
        kind=body.kind,
        occurred_at=body.occurred_at,
        note=body.note,
        recorded_by=actor.name,
        recorded_at=now,
        students=[IncidentStudent(allocation_id=a) for a in wanted],
    )
    session.add(incident)
    session.flush()
    audit.record(
        session,
        actor,
        "add_incident",
        target=incident.id,
        sitting_id=sitting.id,
        kind=body.kind,
        occurred_at=body.occurred_at.isoformat(),
        students=len(wanted),
        note=body.note,
    )
    return _incident_out(incident)


def incidents(session: Session, actor: Actor, sitting_id: str) -> list[sp.IncidentOut]:
    sitting = sittings.get_sitting(session, actor, sitting_id)
    rows = session.scalars(
        select(Incident)
        .where(Incident.sitting_id == sitting.id)
        .order_by(Incident.occurred_at, Incident.recorded_at, Incident.id)
    )
    return [_incident_out(i) for i in rows]
