"""The audit log of staff actions (who did what, when), written in the same transaction as the action."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sync.server.models import AuditEntry, Staff, utcnow


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in staff member, or the server command line (school chosen explicitly)."""

    school_id: str
    name: str
    staff_id: str | None = None
    role: str = "admin"
    now: datetime | None = None
    """When the action happens (the server's injected clock); None means the wall clock."""

    @classmethod
    def of(cls, staff: Staff, *, now: datetime | None = None) -> Actor:
        return cls(school_id=staff.school_id, name=staff.username, staff_id=staff.id, role=staff.role, now=now)

    @classmethod
    def cli(cls, school_id: str, *, now: datetime | None = None) -> Actor:
        return cls(school_id=school_id, name="cli", now=now)


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target: str | None = None,
    sitting_id: str | None = None,
    allocation_id: str | None = None,
    reason_kind: str | None = None,
    reason: str | None = None,
    facts: Mapping[str, Any] | None = None,
    **detail: Any,
) -> AuditEntry:
    """Add one entry and return it; `sitting_id` puts it in that sitting's log, `allocation_id` names the student
    it concerns. Its detail is `facts` (any keys, e.g. what the console sent) and the keyword arguments."""
    entry = AuditEntry(
        school_id=actor.school_id,
        staff_id=actor.staff_id,
        actor=actor.name,
        action=action,
        target=target,
        sitting_id=sitting_id,
        allocation_id=allocation_id,
        reason_kind=reason_kind,
        reason=reason,
        detail={**(facts or {}), **detail},
        at=actor.now or utcnow(),
    )
    session.add(entry)
    return entry
