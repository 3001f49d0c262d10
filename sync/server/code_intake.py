"""Results typed in from a result code: found by the code's attempt, decrypted, stored like an upload."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from sync import resultcode
from sync import staff_protocol as sp
from sync.server import audit
from sync.server.audit import Actor
from sync.server.crypto import Keyring
from sync.server.errors import ServiceError
from sync.server.models import Attempt
from sync.server.results import store_result

log = logging.getLogger(__name__)


def code_refused(exc: resultcode.ResultCodeError) -> ServiceError:
    return ServiceError(422, f"result_code_{exc.reason}", exc.message)


def no_such_attempt() -> ServiceError:
    # The same answer for an unknown attempt and another school's, so a code reveals nothing across schools.
    return ServiceError(
        404,
        "not_found",
        "No attempt on this server matches this result code. Check that the code was made by a computer "
        "set up for this school's server, and that it was copied from the right student.",
    )


def find_attempt(session: Session, code: str, *, school_id: str | None) -> tuple[Attempt, resultcode.CheckedCode]:
    """The attempt a code names (every check run first, once); `school_id` None means any school."""
    try:
        checked = resultcode.check(code)
    except resultcode.ResultCodeError as exc:
        raise code_refused(exc) from exc
    attempt = session.get(Attempt, checked.attempt_id)
    if attempt is None or (school_id is not None and attempt.allocation.sitting.school_id != school_id):
        raise no_such_attempt()
    return attempt, checked


def submit_code(
    session: Session, keyring: Keyring, code: str, *, now: datetime, actor: Actor | None
) -> sp.ResultCodeReceipt:
    """Store the results inside a result code exactly as an upload would be (same key: nothing changes).

    `actor` is the signed-in staff member, whose school scopes the lookup; None is the operator's command line,
    which reaches every school and is audited as "cli".
    """
    attempt, checked = find_attempt(session, code, school_id=actor.school_id if actor is not None else None)
    allocation = attempt.allocation
    secret = keyring.unseal(attempt.result_secret_sealed, purpose="result-secret").decode()
    try:
        envelope = resultcode.decode(checked, result_secret=secret, attempt_id=attempt.id)
    except resultcode.ResultCodeError as exc:
        raise code_refused(exc) from exc
    stored = store_result(session, attempt, envelope, now=now)
    result = stored.result
    who = actor or Actor.cli(allocation.sitting.school_id, now=now)
    audit.record(
        session,
        who,
        "submit_result_code",
        target=attempt.id,
        sitting_id=allocation.sitting_id,
        allocation_id=allocation.id,
        result_id=result.id,
        idempotency_key=envelope.idempotency_key,
        duplicate=stored.duplicate,
    )
    log.info("result code for attempt %s from %s: %s", attempt.id, who.name, "duplicate" if stored.duplicate else "new")
    return sp.ResultCodeReceipt(
        result_id=result.id,
        student_name=allocation.student.display_name,
        sitting_name=allocation.sitting.name,
        section_ids=envelope.section_ids,
        duplicate=stored.duplicate,
        status=result.status,
    )
