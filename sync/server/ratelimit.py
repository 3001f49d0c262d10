"""Failed-login limits per machine and per client address, counted in the database (shared by all workers)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sync.server.models import LoginFailure
from sync.server.settings import LoginLimits


def _scopes(*, machine_key: str, address: str, limits: LoginLimits) -> list[tuple[str, str, int]]:
    return [("machine", machine_key, limits.per_machine), ("address", address, limits.per_address)]


def locked_until(
    session: Session, *, machine_key: str, address: str, limits: LoginLimits, now: datetime
) -> datetime | None:
    """When the machine or address may try again, or None if neither is over its limit."""
    since = now - limits.window
    latest: datetime | None = None
    for scope, key, ceiling in _scopes(machine_key=machine_key, address=address, limits=limits):
        times = session.scalars(
            select(LoginFailure.at)
            .where(LoginFailure.scope == scope, LoginFailure.key == key, LoginFailure.at > since)
            .order_by(LoginFailure.at.desc())
            .limit(ceiling)
        ).all()
        if len(times) >= ceiling:
            # The oldest of the last `ceiling` failures must leave the window before another try.
            until = times[-1] + limits.window
            latest = until if latest is None or until > latest else latest
    return latest


def record_failure(session: Session, *, machine_key: str, address: str, limits: LoginLimits, now: datetime) -> None:
    for scope, key, _ in _scopes(machine_key=machine_key, address=address, limits=limits):
        session.add(LoginFailure(scope=scope, key=key, at=now))
    # Old rows are useless; trimming on each failure keeps the table small without a background job.
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - limits.window))


def failure_count(session: Session, *, scope: str, key: str) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.scope == scope, LoginFailure.key == key)
        )
        or 0
    )
