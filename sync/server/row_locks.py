"""Row locks for changing a sitting while other server processes may be changing it too (PostgreSQL).

Taken in one order everywhere (the sitting, then its allocations, then credits: `accounts.credits_for(lock=True)`)
so two requests never wait on each other in a circle. On SQLite SQLAlchemy leaves FOR UPDATE out: one process
serves, and its write queue orders writers. docs/architecture.md, "What holds across server processes".
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from sync.server.models import Allocation, Sitting


def lock_sitting(session: Session, sitting_id: str) -> Sitting | None:
    """The sitting's row, locked and read afresh (its loaded object is updated in place)."""
    return session.scalar(
        select(Sitting)
        .where(Sitting.id == sitting_id)
        .with_for_update(of=Sitting)
        .execution_options(populate_existing=True)
    )


def lock_allocations(session: Session, sitting: Sitting) -> None:
    """Lock the sitting's allocations and load them, with their attempts, as committed now (in one go: reading
    each allocation's attempt on its own cost a query per student)."""
    allocations = session.scalars(
        select(Allocation)
        .where(Allocation.sitting_id == sitting.id)
        .order_by(Allocation.id)
        .with_for_update(of=Allocation)
        .options(selectinload(Allocation.attempt))
        .execution_options(populate_existing=True)
    ).all()
    set_committed_value(sitting, "allocations", list(allocations))
