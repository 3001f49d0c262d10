"""Failed-login counts per machine, code prefix and client address, kept in the database (shared by all workers).

The policy that reads these counts (what is refused when) is `attempts.login`; docs/server.md explains it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sync.server.crypto import Keyring
from sync.server.errors import ServiceError
from sync.server.models import LoginFailure
from sync.server.settings import LoginLimits

MACHINE = "machine"
PREFIX = "prefix"
ADDRESS = "address"

PREFIX_LENGTH = 4
"""Characters of the normalised code a prefix counter covers: 20 of the code's 40 bits."""


@dataclass(frozen=True)
class Tally:
    """Failures of one key within the window, counted up to its ceiling."""

    failures: int
    newest: datetime | None
    full_until: datetime | None
    """When the count drops below the ceiling again; None when it is below already."""


def tally(session: Session, *, scope: str, key: str, ceiling: int, limits: LoginLimits, now: datetime) -> Tally:
    times = session.scalars(
        select(LoginFailure.at)
        .where(LoginFailure.scope == scope, LoginFailure.key == key, LoginFailure.at > now - limits.window)
        .order_by(LoginFailure.at.desc())
        .limit(ceiling)
    ).all()
    # The oldest of the last `ceiling` failures must leave the window before the key is under its ceiling.
    full_until = times[-1] + limits.window if len(times) >= ceiling else None
    return Tally(failures=len(times), newest=times[0] if times else None, full_until=full_until)


def prefix_key(keyring: Keyring, code: str) -> str:
    """The key a normalised code's prefix is counted under: keyed, so the table holds no part of any code
    (a student's typo usually shares its first characters with the real code)."""
    return keyring.code_lookup("prefix:" + code[:PREFIX_LENGTH])


@dataclass(frozen=True)
class FailureKeys:
    """What one failed login is counted under; `prefix` is None for a code that could not be read."""

    machine: str
    address: str
    prefix: str | None


class CountedRefusal(ServiceError):
    """A refused login that was a guess at a code (unknown or unreadable): the caller records it, in a
    transaction of its own because the login's own is rolled back."""

    def __init__(self, status: int, error: str, message: str, *, keys: FailureKeys, **kwargs: int | None) -> None:
        super().__init__(status, error, message, **kwargs)
        self.keys = keys


def record_failure(session: Session, keys: FailureKeys, *, limits: LoginLimits, now: datetime) -> None:
    session.add(LoginFailure(scope=MACHINE, key=keys.machine, at=now))
    session.add(LoginFailure(scope=ADDRESS, key=keys.address, at=now))
    if keys.prefix is not None:
        session.add(LoginFailure(scope=PREFIX, key=keys.prefix, at=now))
    # Old rows are useless; trimming on each failure keeps the table small without a background job.
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - limits.window))
