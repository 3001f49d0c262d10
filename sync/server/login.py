"""Access-code login: the login guard's checks, admission to the sitting, and the attempt started or resumed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import accesscode, protocol
from sync.server import crypto, domain, ratelimit
from sync.server.attempts import held_checkpoint
from sync.server.crypto import Keyring
from sync.server.errors import ServiceError
from sync.server.manifest_cache import ManifestCache, parsed
from sync.server.models import Allocation, Attempt, Sitting
from sync.server.settings import LoginLimits
from sync.server.sittings import apply_closing


def _refused(refusal: domain.Refusal) -> ServiceError:
    return ServiceError(refusal.http_status, refusal.code, refusal.message)


def machine_key(machine_id: str | None, address: str) -> str:
    """The key a machine's failures are counted under; a client without a machine id counts by its address."""
    return f"id:{machine_id}" if machine_id else f"address:{address}"


def admit_student(
    session: Session,
    keyring: Keyring,
    request: protocol.LoginRequest,
    *,
    address: str,
    limits: LoginLimits,
    now: datetime,
    manifests: ManifestCache | None = None,
) -> protocol.LoginResponse:
    """Admit a student by access code. Raises ServiceError; the caller records each `ratelimit.CountedRefusal`
    (a guess at a code) in a transaction of its own. The limits: `ratelimit.LoginGuard`, docs/server.md."""
    guard = ratelimit.LoginGuard(
        session, machine_key=machine_key(request.machine_id, address), address=address, limits=limits, now=now
    )
    try:
        code = accesscode.normalize(request.access_code)
    except accesscode.AccessCodeFormatError as exc:
        raise guard.malformed(str(exc)) from exc
    allocation = _locked_allocation(session, keyring.code_lookup(code), now=now)
    attempt = _current_attempt(session, allocation) if allocation is not None else None
    resuming = attempt is not None and request.machine_id is not None and attempt.machine_id == request.machine_id
    guard.check_prefix(keyring, code, resuming=resuming)
    if allocation is None:
        raise guard.unknown_code()
    sitting = allocation.sitting
    # A client that sends no machine id counts as a machine of its own, never as the one holding the attempt.
    machine_id = request.machine_id or f"anonymous:{uuid.uuid4()}"
    finished = attempt is not None and attempt.finished_at is not None
    refusal = domain.admit(
        domain.AdmissionFacts(
            now=now,
            window_start=sitting.window_start,
            window_end=sitting.window_end,
            closed_at=sitting.closed_at,
            extended_until=allocation.extended_until,
            started=attempt is not None,
            finished=finished,
            active_machine=attempt.machine_id if attempt is not None and not finished else None,
            machine_id=machine_id,
        )
    )
    if refusal is not None:
        raise _refused(refusal)
    token, token_hash = crypto.new_token()
    if attempt is None:
        result_secret = crypto.new_result_secret()
        attempt = Attempt(
            allocation_id=allocation.id,
            token_hash=token_hash,
            result_secret_sealed=keyring.seal(result_secret.encode(), purpose="result-secret"),
            machine_id=machine_id,
            started_at=now,
            last_seen_at=now,
        )
        session.add(attempt)
    else:
        result_secret = keyring.unseal(attempt.result_secret_sealed, purpose="result-secret").decode()
        attempt.token_hash = token_hash
        attempt.machine_id = machine_id
        attempt.last_seen_at = now
    session.flush()
    manifest = parsed(sitting.assessment, manifests)
    checkpoint = held_checkpoint(attempt, manifest.rules)
    return protocol.LoginResponse(
        attempt_id=attempt.id,
        attempt_token=token,
        student=allocation.student.display_name,
        sitting_name=sitting.name,
        window_end=allocation.extended_until or sitting.window_end,
        accommodations=protocol.Accommodations(extra_time_percent=allocation.student.extra_time_percent),
        assessment=manifest.delivery,
        result_secret=result_secret,
        checkpoint=checkpoint,
    )


def _locked_allocation(session: Session, lookup: str, *, now: datetime) -> Allocation | None:
    """The code's allocation, locked until the login commits, after closing its sitting if that is due.

    On PostgreSQL two server processes may admit the same code at once (a player repeating a login whose reply was
    lost, or two machines typing one code): the row lock makes the second wait and then see the first one's
    attempt, so it resumes it or is told the code is in use elsewhere. An edit of the sitting locks the same rows,
    so a student is never removed while starting. Locks are taken sitting first, then allocation, as the edit
    takes them, so the two never wait on each other in a circle. (On SQLite, whose writers take turns already,
    FOR UPDATE is left out by SQLAlchemy.)
    """
    sitting = session.scalar(select(Sitting).join(Allocation).where(Allocation.code_lookup == lookup))
    if sitting is None:
        return None
    if sitting.closed_at is None and sitting.window_end <= now:
        apply_closing(session, sitting, closed_at=sitting.window_end)
    return session.scalar(
        select(Allocation)
        .where(Allocation.code_lookup == lookup)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _current_attempt(session: Session, allocation: Allocation) -> Attempt | None:
    """The allocation's attempt as committed now (read after the lock, so a concurrent start is seen)."""
    return session.scalar(
        select(Attempt).where(Attempt.allocation_id == allocation.id).execution_options(populate_existing=True)
    )


def record_failed_login(
    session: Session, refusal: ratelimit.CountedRefusal, *, limits: LoginLimits, now: datetime
) -> None:
    ratelimit.record_failure(session, refusal.keys, limits=limits, now=now)
