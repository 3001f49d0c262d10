"""Failed-login limits per machine, code prefix and client address, counted in the database (shared by all workers).

docs/server.md says what is refused when, and why the address limit is only a backstop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sync.server import domain
from sync.server.crypto import Keyring
from sync.server.errors import ServiceError
from sync.server.models import LoginFailure
from sync.server.settings import LoginLimits

log = logging.getLogger(__name__)

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


def _refused(refusal: domain.Refusal, *, now: datetime) -> ServiceError:
    return ServiceError(
        refusal.http_status, refusal.code, refusal.message, retry_after_seconds=refusal.retry_after_seconds(now=now)
    )


class LoginGuard:
    """The limits around one access-code login: `LoginGuard(...)` refuses a machine that may not try at all,
    `check_prefix` a paused prefix once the code is read, and `malformed`/`unknown_code` give the refusal for a
    guess, which the caller raises and records (`record_failure`)."""

    def __init__(self, session: Session, *, machine_key: str, address: str, limits: LoginLimits, now: datetime) -> None:
        self._session = session
        self._machine_key = machine_key
        self._address = address
        self._limits = limits
        self._now = now
        self._prefix: str | None = None
        machine = self._tally(MACHINE, machine_key, limits.per_machine)
        if machine.full_until is not None:
            raise _refused(domain.refusal_machine_locked(retry_at=machine.full_until, now=now), now=now)
        self._address_tally = self._tally(ADDRESS, address, limits.per_address)
        if self._address_tally.full_until is not None and machine.newest is not None:
            # Refused before the code is read, so the refusal tells a guesser nothing. Free again when the
            # address drops under its limit or this machine's last failure leaves the window.
            retry_at = min(self._address_tally.full_until, machine.newest + limits.window)
            raise _refused(domain.refusal_address_machine_locked(retry_at=retry_at, now=now), now=now)

    def _tally(self, scope: str, key: str, ceiling: int) -> Tally:
        return tally(self._session, scope=scope, key=key, ceiling=ceiling, limits=self._limits, now=self._now)

    def _keys(self) -> FailureKeys:
        return FailureKeys(machine=self._machine_key, address=self._address, prefix=self._prefix)

    def malformed(self, message: str) -> CountedRefusal:
        return CountedRefusal(401, "malformed_code", message, keys=self._keys())

    def check_prefix(self, keyring: Keyring, code: str, *, resuming: bool) -> None:
        """Refuse a normalised code whose prefix is paused, unless the machine is resuming its own attempt."""
        self._prefix = prefix_key(keyring, code)
        paused = self._tally(PREFIX, self._prefix, self._limits.per_prefix)
        if paused.full_until is not None and not resuming:
            # The same answer whether the code exists or not: a refusal here tells a guesser nothing.
            refusal = domain.refusal_prefix_locked(
                prefix=code[:PREFIX_LENGTH], retry_at=paused.full_until, now=self._now
            )
            raise _refused(refusal, now=self._now)

    def unknown_code(self) -> CountedRefusal:
        address = self._address_tally
        if address.failures == self._limits.per_address - 1:
            # Crossing the backstop is worth an operator's look: a script, or a proxy not named in
            # --forwarded-allow-ips making every client one address. Logged once per crossing, not per guess.
            log.warning(
                "Failed logins from %s reached %d within %s",
                self._address,
                self._limits.per_address,
                self._limits.window,
            )
        if address.full_until is None:
            refusal = domain.refusal_unknown_code()
        else:
            refusal = domain.refusal_address_unknown_code(retry_at=address.full_until, now=self._now)
        return CountedRefusal(
            refusal.http_status,
            refusal.code,
            refusal.message,
            keys=self._keys(),
            retry_after_seconds=refusal.retry_after_seconds(now=self._now),
        )
