"""Incidents staff record during a sitting, each naming the students of that sitting it concerns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import staff_protocol as sp
from sync.server import audit, sittings
from sync.server.audit import Actor
from sync.server.errors import ServiceError
from sync.server.models import Incident, IncidentStudent


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
