"""Results stored exactly once per idempotency key, checked against their test and deadline, and marked."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import protocol
from sync.server import domain
from sync.server.errors import ServiceError
from sync.server.ids import time_ordered_id
from sync.server.manifest_cache import ManifestCache, Parsed, parse, parsed
from sync.server.models import Attempt, Result
from sync.server.result_digest import as_utc, body_digest
from sync.server.sittings import apply_closing

log = logging.getLogger(__name__)

LATE_GRACE = timedelta(minutes=5)
"""How far past its deadline an answer's time may be and still count as in time: the answer times come from the
student's computer, whose clock may run a little fast."""


def receipt(result: Result, *, duplicate: bool) -> protocol.ResultReceipt:
    return protocol.ResultReceipt(
        result_id=result.id,
        idempotency_key=result.idempotency_key,
        status=result.status,
        duplicate=duplicate,
    )


def held_result(session: Session, envelope: protocol.ResultEnvelope) -> Result | None:
    """The result already stored under the envelope's key, or 409 when the key was used for a different body."""
    held = session.scalar(select(Result).where(Result.idempotency_key == envelope.idempotency_key))
    if held is None:
        return None
    check_same_body(held, envelope)
    return held


class HeldBody(Protocol):
    """A stored result as far as comparing bodies goes (an ORM `Result` or a selected row)."""

    @property
    def attempt_id(self) -> str: ...

    @property
    def body(self) -> dict[str, Any]: ...


def check_same_body(held: HeldBody, envelope: protocol.ResultEnvelope) -> None:
    """409 `idempotency_conflict` unless `held` (stored under the envelope's key) holds the same envelope."""
    # Compared from the stored body, not the stored digest, so rows digested before times were made canonical
    # still match the same envelope.
    try:
        before = protocol.ResultEnvelope.model_validate(held.body)
    except ValidationError:
        # Stored by an older server without today's checks (a time without a zone, an endless answer): the
        # envelope sent now passed them, so it cannot be the same body.
        log.warning("The result held under key %s is not a valid envelope today", envelope.idempotency_key)
        raise idempotency_conflict(envelope) from None
    same = held.attempt_id == envelope.attempt_id and body_digest(before) == body_digest(envelope)
    if not same:
        raise idempotency_conflict(envelope)


def check_own_attempt(attempt_id: str, envelope: protocol.ResultEnvelope) -> None:
    """422 `wrong_attempt` unless the envelope belongs to the attempt signed in; checked before its key is looked
    up, so another attempt's envelope is refused as such whatever that key holds."""
    if envelope.attempt_id != attempt_id:
        raise ServiceError(422, "wrong_attempt", "These results belong to a different attempt than the one signed in.")


def idempotency_conflict(envelope: protocol.ResultEnvelope) -> ServiceError:
    return ServiceError(
        409,
        "idempotency_conflict",
        f"Results with key {envelope.idempotency_key} were already received with different content; "
        "nothing was changed. Send new results with a new key.",
    )


def answer_deadline(attempt: Attempt) -> datetime:
    """The last moment the attempt's answers count: its extension if closing gave one, else the sitting's close."""
    allocation = attempt.allocation
    if allocation.extended_until is not None:
        return allocation.extended_until
    sitting = allocation.sitting
    return domain.sitting_effective_close(window_end=sitting.window_end, closed_at=sitting.closed_at)


def check_answered_in_time(
    attempt: Attempt, envelope: protocol.ResultEnvelope, *, deadline: datetime | None = None
) -> None:
    """409 `answered_too_late` when any answer (or the finish) came after the deadline plus LATE_GRACE.

    `deadline` is `answer_deadline(attempt)` when the caller already read it.
    """
    deadline = answer_deadline(attempt) if deadline is None else deadline
    moments = [envelope.finished_at, *(a.answered_at for a in envelope.answers)]
    # Aware times compare as instants whatever their zone; naive ones are taken as UTC first.
    latest = max(moments) if all(m.tzinfo is not None for m in moments) else max(as_utc(m) for m in moments)
    if latest <= deadline + LATE_GRACE:
        return
    latest = as_utc(latest)
    raise ServiceError(
        409,
        "answered_too_late",
        f"These results were not stored: the test had to be answered by {domain.format_time(deadline)}, but "
        f"answers were given until {domain.format_time(latest)}. If the student's computer clock is wrong, "
        "tell support; otherwise these answers cannot count.",
    )


@dataclass(frozen=True)
class Stored:
    """A result as stored by `store_result`: the row, and whether it was already held (nothing changed)."""

    result: Result
    duplicate: bool


def store_result(
    session: Session,
    attempt: Attempt,
    envelope: protocol.ResultEnvelope,
    *,
    now: datetime,
    manifests: ManifestCache | None = None,
) -> Stored:
    """Store an envelope once per idempotency key and mark it; the one path for uploads and result codes."""
    check_own_attempt(attempt.id, envelope)
    held = held_result(session, envelope)
    if held is not None:
        return Stored(held, duplicate=True)
    result = store_new_result(session, attempt, envelope, now=now, manifests=manifests)
    session.flush()  # a key stored meanwhile by another request fails here, inside the caller's handler
    return Stored(result, duplicate=False)


def store_new_result(
    session: Session,
    attempt: Attempt,
    envelope: protocol.ResultEnvelope,
    *,
    now: datetime,
    manifests: ManifestCache | None = None,
) -> Result:
    """Store and mark an envelope whose key is not held yet. Refuses (ServiceError) before writing anything."""
    row = NewResults(session, attempt, now=now, manifests=manifests).accept(envelope)
    result = Result(**row.columns(), attempt=attempt)
    session.add(result)
    return result


class NewResult(NamedTuple):
    """A checked and marked envelope, ready to insert: the `results` row's values."""

    id: str
    attempt_id: str
    idempotency_key: str
    body_sha256: str
    body_json: str
    """The envelope as JSON (`model_dump_json`), stored as it is."""
    received_at: datetime
    status: str
    error: str | None
    marks_json: str | None
    """The marks as JSON text (`marking.Marker.marks_json`), None when marking failed."""
    marked_at: datetime | None

    def columns(self) -> dict[str, Any]:
        """The row as an ORM `Result` takes it (body and marks as data)."""
        columns = {
            "id": self.id,
            "attempt_id": self.attempt_id,
            "idempotency_key": self.idempotency_key,
            "body_sha256": self.body_sha256,
            "body": json.loads(self.body_json),
            "received_at": self.received_at,
            "status": self.status,
            "error": self.error,
            "marked_at": self.marked_at,
        }
        if self.marks_json is not None:
            # Left out when there are none: an ORM JSON attribute set to None stores the JSON text 'null', and
            # results without marks have always held SQL NULL.
            columns["marks"] = json.loads(self.marks_json)
        return columns


_ENVELOPE_JSON = protocol.ResultEnvelope.__pydantic_serializer__.to_json
"""`ResultEnvelope.model_dump_json`, without the keyword handling of pydantic's wrapper (same bytes)."""


class NewResults:
    """Accepts envelopes of one attempt whose keys are not held yet: checks, marks, and applies a final one.

    What every envelope shares is read once, on the first one accepted: the sitting is closed if its time is up
    (as login does, so a part-way student's extension counts before the deadline is read), the answer deadline,
    and the manifest's marking tables. A batch of 200 then costs 200 rows of plain data, not 200 ORM objects
    and 200 sets of pydantic marks. Marking happens here, in the storing transaction: a result is stored
    `marked`, or `marking_failed` with the error kept for `remark`.
    """

    def __init__(
        self, session: Session, attempt: Attempt, *, now: datetime, manifests: ManifestCache | None = None
    ) -> None:
        self._session = session
        self._attempt = attempt
        self._attempt_id = attempt.id
        self._now = now
        self._manifests = manifests
        self._deadline: datetime | None = None
        self._limit = now
        self._parsed: Parsed | None = None

    def accept(self, envelope: protocol.ResultEnvelope) -> NewResult:
        """The row for `envelope`, or ServiceError (wrong attempt, not fitting the test, too late) before anything
        changed."""
        check_own_attempt(self._attempt_id, envelope)
        attempt = self._attempt
        if self._parsed is None:
            self._parsed = parsed(attempt.allocation.sitting.assessment, self._manifests)
        self._parsed.rules.check_envelope(envelope)
        if self._deadline is None:
            sitting = attempt.allocation.sitting
            if sitting.closed_at is None and sitting.window_end <= self._now:
                apply_closing(self._session, sitting, closed_at=sitting.window_end)
            self._deadline = answer_deadline(attempt)
            self._limit = self._deadline + LATE_GRACE
        try:
            in_time = envelope.finished_at <= self._limit and all(
                a.answered_at <= self._limit for a in envelope.answers
            )
        except TypeError:  # a time without a zone: the full check takes it as UTC
            in_time = False
        if not in_time:
            check_answered_in_time(attempt, envelope, deadline=self._deadline)
        body = _ENVELOPE_JSON(envelope).decode()
        status, error, marks = self._mark(self._parsed, envelope)
        if envelope.final and attempt.finished_at is None:
            attempt.finished_at = envelope.finished_at
            attempt.machine_id = None
        return NewResult(
            id=time_ordered_id(),
            attempt_id=self._attempt_id,
            idempotency_key=envelope.idempotency_key,
            body_sha256=body_digest(envelope, body),
            body_json=body,
            received_at=self._now,
            status=status,
            error=error,
            marks_json=marks,
            marked_at=self._now if marks is not None else None,
        )

    @staticmethod
    def _mark(parsed: Parsed, envelope: protocol.ResultEnvelope) -> tuple[str, str | None, str | None]:
        from sync.server.marking import MarkingError

        try:
            answers = {a.item_id: a.value for a in envelope.answers}
            marks = parsed.marker.marks_json(answers, sections=envelope.section_ids)
        except (MarkingError, ValueError) as exc:
            return "marking_failed", str(exc), None
        return "marked", None, marks


def submit_result(
    session: Session,
    attempt: Attempt,
    envelope: protocol.ResultEnvelope,
    *,
    now: datetime,
    manifests: ManifestCache | None = None,
) -> protocol.ResultReceipt:
    stored = store_result(session, attempt, envelope, now=now, manifests=manifests)
    return receipt(stored.result, duplicate=stored.duplicate)


def mark_result(result: Result, *, now: datetime) -> None:
    """received -> marking -> marked, or marking_failed with the error kept for `remark`."""
    from sync.server.marking import MarkingError  # marking pulls in the scoring rules only when results arrive

    result.status = "marking"
    try:
        marker = parse(result.attempt.allocation.sitting.assessment).marker
        envelope = protocol.ResultEnvelope.model_validate(result.body)
        marks = marker.marks({a.item_id: a.value for a in envelope.answers}, sections=envelope.section_ids)
    except (MarkingError, ValueError) as exc:
        result.status = "marking_failed"
        result.error = str(exc)
        return
    result.marks = marks
    result.status = "marked"
    result.error = None
    result.marked_at = now


def remark(session: Session, *, now: datetime, result_id: str | None = None) -> list[Result]:
    """Mark again every result whose marking failed (or one result by id).

    The stored package is parsed afresh, not taken from a ManifestCache: remark is what an operator runs after
    repairing a stored package, and the cache would still hold the broken one."""
    query = select(Result)
    query = query.where(Result.id == result_id) if result_id else query.where(Result.status != "marked")
    results = list(session.scalars(query))
    for result in results:
        mark_result(result, now=now)
    return results
