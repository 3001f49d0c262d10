"""Manual entries: what staff type in for a student's dictation and comments, shown with the evidence."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import staff_protocol as sp
from sync.server import audit, sittings
from sync.server.audit import Actor
from sync.server.content import DictationItem, Manifest
from sync.server.errors import ServiceError
from sync.server.evidence import evidence_out
from sync.server.manifest_cache import ManifestCache, parsed
from sync.server.models import Allocation, Evidence, ManualEntry


def dictation_max(manifest: Manifest) -> float | None:
    """The scale dictation values are given on: the points of the test's dictation items together."""
    points = [item.points for item in manifest.items().values() if isinstance(item, DictationItem)]
    return round(sum(points), 2) if points else None


def manual_out(session: Session, allocation: Allocation, manifests: ManifestCache | None = None) -> sp.ManualEntryOut:
    scale = dictation_max(parsed(allocation.sitting.assessment, manifests).manifest)
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
        evidence=[evidence_out(e) for e in files],
        dictation_max=scale,
    )


def manual(
    session: Session, actor: Actor, allocation_id: str, manifests: ManifestCache | None = None
) -> sp.ManualEntryOut:
    return manual_out(session, sittings.get_allocation(session, actor, allocation_id), manifests)


def _clean(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _on_scale(value: str | None, *, field: str, scale: float | None, test: str) -> str | None:
    """A dictation value as stored: a plain number from 0 to `scale` ("08" -> "8"); ServiceError otherwise."""
    if value is None:
        return None
    if scale is None:
        raise ServiceError(
            422,
            "no_dictation",
            f"The test '{test}' has no dictation items, so there is no {field} score to enter; "
            "write notes in Comments instead. Nothing was saved.",
        )
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not 0 <= number <= scale or round(number, 2) != number:
        raise ServiceError(
            422,
            "not_on_scale",
            f"{field.capitalize()} must be a number from 0 to {scale:g} (the points of the test's dictation "
            f"items), with at most two decimals; {value!r} is not. Type just the score, such as "
            f"{math.floor(scale * 0.8):g}. Nothing was saved.",
        )
    return f"{number:g}"


def save_manual(
    session: Session,
    actor: Actor,
    allocation_id: str,
    entry: sp.ManualEntryIn,
    *,
    now: datetime,
    manifests: ManifestCache | None = None,
) -> sp.ManualEntryOut:
    """Replace the allocation's manual values (None or blank clears one) and log what changed. Dictation values
    are numbers on the test's dictation scale (`dictation_max`); anything else is refused, nothing saved."""
    allocation = sittings.get_allocation(session, actor, allocation_id)
    manifest = parsed(allocation.sitting.assessment, manifests).manifest
    scale = dictation_max(manifest)
    typed = _on_scale(_clean(entry.typed_dictation), field="typed dictation", scale=scale, test=manifest.title)
    written = _on_scale(_clean(entry.written_dictation), field="written dictation", scale=scale, test=manifest.title)
    row = session.get(ManualEntry, allocation.id)
    if row is None:
        row = ManualEntry(allocation_id=allocation.id, updated_by=actor.name, updated_at=now)
        session.add(row)
    new = {
        "typed_dictation": typed,
        "written_dictation": written,
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
    return manual_out(session, allocation, manifests)
