"""The console's own entries in a sitting's log: exports and printed code slips (tenant-scoped, any staff role)."""

from __future__ import annotations

from fastapi import APIRouter

from sync import protocol
from sync import staff_protocol as sp
from sync.server import audit, sittings
from sync.server.deps import ERRORS, ActorDep, Tx

router = APIRouter(prefix="/staff", tags=["console"], responses=ERRORS)


@router.post("/sittings/{sitting_id}/log", response_model=sp.LogEntry, status_code=201)
def add_log_event(sitting_id: str, body: protocol.SittingLogEventIn, actor: ActorDep, session: Tx) -> sp.LogEntry:
    """Record that the console exported or printed this sitting's data; the reply is the entry as logged."""
    sitting = sittings.get_sitting(session, actor, sitting_id)  # 404 for another school's sitting
    entry = audit.record(session, actor, body.action, target=sitting.id, sitting_id=sitting.id, facts=body.detail)
    return sp.LogEntry(
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        student_name=None,
        reason_kind=None,
        reason=None,
        detail=entry.detail,
    )
