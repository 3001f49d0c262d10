"""Results typed in from a result code: found by the code's attempt, decrypted, stored like an upload."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import protocol, resultcode
from sync import staff_protocol as sp
from sync.server import audit, content
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


def find_attempts(
    session: Session, code: str, *, school_id: str | None
) -> tuple[list[Attempt], resultcode.CheckedCode]:
    """The attempts a code may belong to (every check run first, once); `school_id` None means any school.

    Format 3 names an attempt by the first 64 bits of its id: almost always one attempt, and the code's tag tells
    which when several share them."""
    try:
        checked = resultcode.check(code)
    except resultcode.ResultCodeError as exc:
        raise code_refused(exc) from exc
    if checked.partial_id:
        # Ids are canonical UUID text: those that begin 'xxxxxxxx-xxxx-xxxx-' sort between these two strings.
        start = checked.attempt_id + "-"
        found = list(session.scalars(select(Attempt).where(Attempt.id > start, Attempt.id < start + "~")))
    else:
        one = session.get(Attempt, checked.attempt_id)
        found = [one] if one is not None else []
    found = [a for a in found if school_id is None or a.allocation.sitting.school_id == school_id]
    if not found:
        raise no_such_attempt()
    return found, checked


def _opened(
    keyring: Keyring, attempts: list[Attempt], checked: resultcode.CheckedCode
) -> tuple[Attempt, protocol.ResultEnvelope]:
    """The attempt whose key opens the code, and the envelope inside; the first refusal when none does."""
    refusal: resultcode.ResultCodeError | None = None
    for attempt in attempts:
        secret = keyring.unseal(attempt.result_secret_sealed, purpose="result-secret").decode()
        delivery = None
        if checked.version >= 3:  # the form the attempt was given: the code holds positions in it, not ids
            stored = attempt.allocation.sitting.assessment.manifest_json
            delivery = content.load_stored_manifest(stored).delivery_form()
        try:
            return attempt, resultcode.decode(checked, result_secret=secret, attempt_id=attempt.id, delivery=delivery)
        except resultcode.ResultCodeError as exc:
            refusal = refusal or exc
    assert refusal is not None
    raise code_refused(refusal) from refusal


def submit_code(
    session: Session, keyring: Keyring, code: str, *, now: datetime, actor: Actor | None
) -> sp.ResultCodeReceipt:
    """Store the results inside a result code exactly as an upload would be (same key: nothing changes).

    `actor` is the signed-in staff member, whose school scopes the lookup; None is the operator's command line,
    which reaches every school and is audited as "cli".
    """
    found, checked = find_attempts(session, code, school_id=actor.school_id if actor is not None else None)
    attempt, envelope = _opened(keyring, found, checked)
    allocation = attempt.allocation
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
