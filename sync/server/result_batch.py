"""Several result envelopes of one attempt stored in one transaction, each once by key, with a receipt each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import protocol
from sync.server.attempts import ManifestCache, check_same_body, receipt, store_new_result
from sync.server.errors import ServiceError
from sync.server.models import Attempt, Result


def _refused(envelope: protocol.ResultEnvelope, exc: ServiceError) -> protocol.BatchItemReceipt:
    return protocol.BatchItemReceipt(
        idempotency_key=envelope.idempotency_key,
        status=exc.status,
        error=protocol.ErrorBody(error=exc.error, message=exc.message),
    )


def _stored(result: Result, *, duplicate: bool) -> protocol.BatchItemReceipt:
    return protocol.BatchItemReceipt(
        idempotency_key=result.idempotency_key, status=200, receipt=receipt(result, duplicate=duplicate)
    )


def store_batch(
    session: Session,
    attempt: Attempt,
    envelopes: Sequence[protocol.ResultEnvelope],
    *,
    now: datetime,
    manifests: ManifestCache | None = None,
) -> list[protocol.BatchItemReceipt]:
    """Store each envelope as the single-envelope route would, in the caller's one transaction.

    A refused envelope (409 conflict or too late, 422 wrong attempt) gets its own status and error and writes
    nothing, so it does not sink the others; an envelope repeated (in this batch or from before) is a duplicate.
    """
    keys = [e.idempotency_key for e in envelopes]
    # One query for every key instead of one per envelope.
    held = {r.idempotency_key: r for r in session.scalars(select(Result).where(Result.idempotency_key.in_(keys)))}
    items: list[protocol.BatchItemReceipt] = []
    for envelope in envelopes:
        try:
            if envelope.attempt_id != attempt.id:
                raise ServiceError(
                    422, "wrong_attempt", "These results belong to a different attempt than the one signed in."
                )
            found = held.get(envelope.idempotency_key)
            if found is not None:
                check_same_body(found, envelope)
                items.append(_stored(found, duplicate=True))
                continue
            result = store_new_result(session, attempt, envelope, now=now, manifests=manifests)
        except ServiceError as exc:
            items.append(_refused(envelope, exc))
            continue
        held[result.idempotency_key] = result
        items.append(_stored(result, duplicate=False))
    return items
