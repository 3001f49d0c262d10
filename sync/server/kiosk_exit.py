"""Leaving kiosk mode on one machine (docs/kiosk.md): one-time exit codes and staff signed in on the machine.

A machine belongs to the school of the newest attempt started on it, so staff of another school can neither make
a code for it nor sign it out. A code is 8 random digits, kept only as a keyed hash (the server key with the
machine id), works once, on that machine only, for EXIT_CODE_LIFETIME; a newer code for the machine replaces it.
Wrong codes are counted per machine in the failed-login table and refused past EXIT_TRIES in the login window.
Each code made and each exit is in the audit log, and in the sitting's log when the machine has one."""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sync.kiosk_protocol import EXIT_CODE_DIGITS
from sync.server import audit, ratelimit
from sync.server.audit import Actor
from sync.server.crypto import Keyring
from sync.server.errors import ServiceError
from sync.server.models import Allocation, Attempt, KioskExitCode, LoginFailure, Sitting
from sync.server.settings import LoginLimits

log = logging.getLogger(__name__)

EXIT_CODE_LIFETIME = timedelta(minutes=15)
EXIT_TRIES = 5
"""Wrong exit codes one machine may hand in within the login window (10 minutes) before it must wait."""
FAILURE_SCOPE = "kiosk"
"""The failed-login table's scope for wrong exit codes (keyed by machine id)."""
ROLES = ("invigilator", "admin")
PLAYER_ACTOR = "player"
"""The log's actor when a machine handed in a code (the code's maker is in the entry's detail)."""


@dataclass(frozen=True)
class IssuedCode:
    code: str
    """Grouped for reading out: "4821 0937"."""
    expires_at: datetime
    machine_name: str | None


def _require_role(actor: Actor) -> None:
    if actor.role not in ROLES:
        raise ServiceError(
            403,
            "forbidden",
            f"Letting a computer leave kiosk mode needs the role invigilator or admin; you are signed in as "
            f"{actor.role}.",
        )


def _newest_attempt_on(session: Session, machine_id: str) -> Attempt | None:
    return session.scalars(
        select(Attempt).where(Attempt.machine_id == machine_id).order_by(Attempt.started_at.desc()).limit(1)
    ).first()


def _school_of(session: Session, attempt: Attempt) -> tuple[str, Allocation]:
    allocation = session.get(Allocation, attempt.allocation_id)
    assert allocation is not None  # a foreign key
    sitting = session.get(Sitting, allocation.sitting_id)
    assert sitting is not None
    return sitting.school_id, allocation


def _not_yours(machine_id: str) -> ServiceError:
    # One answer for a machine no sitting used and one of another school's: nothing leaks across schools.
    return ServiceError(
        404,
        "unknown_machine",
        f"No sitting of your school has had a student on the computer {machine_id!r}. Exit codes are made for the "
        "computers in your school's sittings: choose the student at that computer in the room view.",
    )


def _hash(keyring: Keyring, machine_id: str, digits: str) -> str:
    return keyring.code_lookup(f"kiosk-exit\x1f{machine_id}\x1f{digits}")


def issue_code(
    session: Session,
    keyring: Keyring,
    actor: Actor,
    machine_id: str,
    *,
    now: datetime,
    lifetime: timedelta = EXIT_CODE_LIFETIME,
) -> IssuedCode:
    """A new exit code for `machine_id`, replacing any unused one; 404 unless the machine is this school's."""
    _require_role(actor)
    attempt = _newest_attempt_on(session, machine_id)
    if attempt is None:
        raise _not_yours(machine_id)
    school_id, allocation = _school_of(session, attempt)
    if school_id != actor.school_id:
        raise _not_yours(machine_id)
    session.execute(
        update(KioskExitCode)
        .where(
            KioskExitCode.machine_id == machine_id,
            KioskExitCode.used_at.is_(None),
            KioskExitCode.replaced_at.is_(None),
        )
        .values(replaced_at=now)
    )
    digits = f"{secrets.randbelow(10**EXIT_CODE_DIGITS):0{EXIT_CODE_DIGITS}d}"
    expires_at = now + lifetime
    session.add(
        KioskExitCode(
            school_id=school_id,
            machine_id=machine_id,
            code_hash=_hash(keyring, machine_id, digits),
            staff_id=actor.staff_id,
            staff_name=actor.name,
            sitting_id=allocation.sitting_id,
            allocation_id=allocation.id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    audit.record(
        session,
        actor,
        "kiosk_exit_code",
        target=attempt.id,
        sitting_id=allocation.sitting_id,
        allocation_id=allocation.id,
        machine_id=machine_id,
        expires_at=expires_at.isoformat(),
    )
    log.info("Exit code for machine %r made by %s, valid until %s", machine_id, actor.name, expires_at.isoformat())
    half = EXIT_CODE_DIGITS // 2
    return IssuedCode(f"{digits[:half]} {digits[half:]}", expires_at, attempt.machine_name)


class WrongExitCode(ServiceError):
    """A code that matches nothing for this machine: a guess, counted in a transaction of its own (the caller's,
    where the check ran, is rolled back by the refusal)."""


def check_tries(session: Session, machine_id: str, *, limits: LoginLimits, now: datetime) -> None:
    """Refuse a machine that has handed in EXIT_TRIES wrong codes within the window (429, with when to retry)."""
    tally = ratelimit.tally(session, scope=FAILURE_SCOPE, key=machine_id, ceiling=EXIT_TRIES, limits=limits, now=now)
    if tally.full_until is not None:
        minutes = max(1, math.ceil((tally.full_until - now).total_seconds() / 60))
        raise ServiceError(
            429,
            "too_many_exit_codes",
            f"Too many wrong exit codes were typed on this computer. Wait {minutes} minute"
            f"{'s' if minutes != 1 else ''} and try again, or sign in here as staff.",
            retry_after_seconds=max(1, math.ceil((tally.full_until - now).total_seconds())),
        )


def record_wrong_code(session: Session, machine_id: str, *, limits: LoginLimits, now: datetime) -> None:
    session.add(LoginFailure(scope=FAILURE_SCOPE, key=machine_id, at=now))
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - limits.window))


def use_code(
    session: Session, keyring: Keyring, machine_id: str, typed: str, *, limits: LoginLimits, now: datetime
) -> KioskExitCode:
    """The exit code typed on `machine_id`, used up; raises WrongExitCode (counted) or a plain refusal."""
    check_tries(session, machine_id, limits=limits, now=now)
    digits = "".join(ch for ch in typed if ch not in " -")
    wrong = WrongExitCode(
        403,
        "wrong_exit_code",
        "That exit code is not right for this computer. Check it against the console, which shows the code for "
        "this computer, and type its 8 digits again.",
    )
    if len(digits) != EXIT_CODE_DIGITS or not digits.isascii() or not digits.isdigit():
        raise wrong
    code = session.scalars(
        select(KioskExitCode)
        .where(KioskExitCode.machine_id == machine_id, KioskExitCode.code_hash == _hash(keyring, machine_id, digits))
        .with_for_update()
    ).first()
    if code is None:
        raise wrong
    if code.used_at is not None:
        raise ServiceError(409, "exit_code_used", "That exit code was used already. Ask for a new one in the console.")
    if code.replaced_at is not None:
        raise ServiceError(
            409,
            "exit_code_replaced",
            "A newer exit code was made for this computer since that one: type the newest code the console shows.",
        )
    if now >= code.expires_at:
        raise ServiceError(
            410,
            "exit_code_expired",
            f"That exit code expired (codes last {int(EXIT_CODE_LIFETIME.total_seconds() // 60)} minutes). Ask for "
            "a new one in the console.",
        )
    code.used_at = now
    audit.record(
        session,
        Actor(school_id=code.school_id, name=PLAYER_ACTOR, now=now),
        "kiosk_exit",
        target=machine_id[:36],
        sitting_id=code.sitting_id,
        allocation_id=code.allocation_id,
        machine_id=machine_id,
        by="exit_code",
        code_from=code.staff_name,
    )
    log.info("Machine %r left kiosk mode with the exit code made by %s", machine_id, code.staff_name)
    return code


def staff_exit(session: Session, actor: Actor, machine_id: str, *, now: datetime) -> None:
    """A staff member signed in on `machine_id` lets it leave kiosk mode: the role, and the school of the machine's
    newest attempt (a machine no sitting has used yet belongs to no school: any school's staff may)."""
    _require_role(actor)
    attempt = _newest_attempt_on(session, machine_id)
    sitting_id = allocation_id = None
    if attempt is not None:
        school_id, allocation = _school_of(session, attempt)
        if school_id != actor.school_id:
            raise _not_yours(machine_id)
        sitting_id, allocation_id = allocation.sitting_id, allocation.id
    audit.record(
        session,
        actor,
        "kiosk_exit",
        target=attempt.id if attempt is not None else None,
        sitting_id=sitting_id,
        allocation_id=allocation_id,
        machine_id=machine_id,
        by="staff_sign_in",
    )
    log.info("Machine %r left kiosk mode: %s signed in on it", machine_id, actor.name)
