"""Manual entries: what staff type in for a student's dictation and comments, shown with the evidence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import staff_protocol as sp
from sync.server import audit, sittings
from sync.server.audit import Actor
from sync.server.evidence import evidence_out
from sync.server.models import Allocation, Evidence, ManualEntry


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
        evidence=[evidence_out(e) for e in files],
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
