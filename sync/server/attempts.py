"""The player side: access-code login, checkpoints, heartbeats and results (idempotent), all per attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from pydantic import ValidationError
from sqlalchemy import null, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.base import ExecutableOption

from sync import accesscode, protocol
from sync.server import content, crypto, domain, ratelimit, room
from sync.server.answer_rules import AssessmentRules
from sync.server.crypto import Keyring
from sync.server.errors import ServiceError, not_found
from sync.server.models import Allocation, Assessment, AssessmentMedia, Attempt, Media, Result, Sitting
from sync.server.settings import LoginLimits
from sync.server.sittings import apply_closing

if TYPE_CHECKING:
    from sync.server.marking import Marker

log = logging.getLogger(__name__)

LATE_GRACE = timedelta(minutes=5)
"""How far past its deadline an answer's time may be and still count as in time: the answer times come from the
student's computer, whose clock may run a little fast."""


def _refused(refusal: domain.Refusal) -> ServiceError:
    return ServiceError(refusal.http_status, refusal.code, refusal.message)


def machine_key(machine_id: str | None, address: str) -> str:
    """The key a machine's failures are counted under; a client without a machine id counts by its address."""
    return f"id:{machine_id}" if machine_id else f"address:{address}"


def login(
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
    allocation = session.scalar(select(Allocation).where(Allocation.code_lookup == keyring.code_lookup(code)))
    attempt = allocation.attempt if allocation is not None else None
    resuming = attempt is not None and request.machine_id is not None and attempt.machine_id == request.machine_id
    guard.check_prefix(keyring, code, resuming=resuming)
    if allocation is None:
        raise guard.unknown_code()
    sitting = allocation.sitting
    if sitting.closed_at is None and sitting.window_end <= now:
        apply_closing(session, sitting, closed_at=sitting.window_end)
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
    parsed = _parsed(sitting.assessment, manifests)
    delivery = parsed.delivery
    checkpoint = held_checkpoint(attempt, parsed.rules)
    return protocol.LoginResponse(
        attempt_id=attempt.id,
        attempt_token=token,
        student=allocation.student.display_name,
        sitting_name=sitting.name,
        window_end=allocation.extended_until or sitting.window_end,
        accommodations=protocol.Accommodations(extra_time_percent=allocation.student.extra_time_percent),
        assessment=delivery,
        result_secret=result_secret,
        checkpoint=checkpoint,
    )


def record_failed_login(
    session: Session, refusal: ratelimit.CountedRefusal, *, limits: LoginLimits, now: datetime
) -> None:
    ratelimit.record_failure(session, refusal.keys, limits=limits, now=now)


def attempt_for_token(
    session: Session, attempt_id: str, token: str, *, load: Sequence[ExecutableOption] = ()
) -> Attempt:
    """The attempt a player's bearer token opens; 404 for any other attempt, so ids reveal nothing.

    `load`: loader options for the query (what the caller will read of the attempt's allocation and sitting).
    """
    presented = crypto.token_hash(token)
    attempt = session.scalar(select(Attempt).where(Attempt.token_hash == presented).options(*load))
    if attempt is None or not hmac.compare_digest(attempt.token_hash, presented):
        raise ServiceError(
            401,
            "attempt_token_invalid",
            "This computer's sign-in for the test is no longer valid (it may have been moved to another computer). "
            "Ask your invigilator.",
        )
    if attempt.id != attempt_id:
        raise not_found("attempt")
    return attempt


# Storing results reads the attempt's allocation, sitting and assessment (closing, deadline, manifest): loaded
# with the attempt in one query instead of three lazy loads per request. The manifest text itself is read only
# when the manifest cache does not hold it yet.
FOR_CONTENT = (
    joinedload(Attempt.allocation)
    .joinedload(Allocation.sitting)
    .joinedload(Sitting.assessment)
    .defer(Assessment.manifest_json),
)
"""Loader options for an attempt whose work is checked against its assessment (results, checkpoints, heartbeats)."""


def attempt_for_results(session: Session, attempt_id: str, token: str) -> Attempt:
    """As `attempt_for_token`, but also opened by the token of the machine staff released the attempt from.

    Only results take this path: answers the old machine finished (or saved before it was moved) must not be
    lost, and they still meet the late-answer rule. Its progress (checkpoints, heartbeats, media) is refused.
    """
    try:
        return attempt_for_token(session, attempt_id, token, load=FOR_CONTENT)
    except ServiceError as refused:
        if refused.status != 401:
            raise
        presented = crypto.token_hash(token)
        attempt = session.scalar(select(Attempt).where(Attempt.released_token_hash == presented).options(*FOR_CONTENT))
        if attempt is None or not hmac.compare_digest(attempt.released_token_hash or "", presented):
            raise
    if attempt.id != attempt_id:
        raise not_found("attempt")
    log.info("Results for attempt %s arrived from the machine it was released from", attempt.id)
    return attempt


def media_for_attempt(session: Session, attempt: Attempt, sha256: str) -> Media:
    assessment_id = attempt.allocation.sitting.assessment_id
    if session.get(AssessmentMedia, (assessment_id, sha256)) is None:
        raise not_found("media file")
    media = session.get(Media, sha256)
    if media is None:
        raise not_found("media file")
    return media


def _open_attempt(attempt: Attempt) -> None:
    if attempt.finished_at is not None:
        raise ServiceError(409, "already_finished", "This test has already been finished.")


def held_checkpoint(attempt: Attempt, rules: AssessmentRules | None = None) -> protocol.Checkpoint | None:
    """The attempt's stored checkpoint, or None when there is none or it is unreadable.

    Older servers stored checkpoints unchecked (a time without a zone, a lone surrogate, an item the test lacks):
    such a one is dropped with a warning, never a 500 at every later login or checkpoint. The next checkpoint the
    player sends takes its place.
    """
    stored = attempt.checkpoint
    if not stored:
        return None
    try:
        checkpoint = protocol.Checkpoint.model_validate(stored)
        if rules is not None:
            rules.check_checkpoint(checkpoint)
    except (ValidationError, ServiceError) as exc:
        problem = exc.error_count() if isinstance(exc, ValidationError) else exc.error
        log.warning("Attempt %s held an unreadable checkpoint (%s); it was dropped", attempt.id, problem)
        attempt.checkpoint = null()  # SQL NULL, as for an attempt without one (None would store JSON 'null')
        return None
    return checkpoint


def save_checkpoint(
    attempt: Attempt, checkpoint: protocol.Checkpoint, *, now: datetime, manifests: ManifestCache | None = None
) -> None:
    """Keep the newest checkpoint; 422 (nothing saved) for one naming a section or item the test lacks."""
    _open_attempt(attempt)
    _parsed(attempt.allocation.sitting.assessment, manifests).rules.check_checkpoint(checkpoint)
    attempt.last_seen_at = now
    current = held_checkpoint(attempt)
    # Checkpoints may arrive out of order after an outage; only a newer one replaces what is held.
    if current is None or current.taken_at < checkpoint.taken_at:
        attempt.checkpoint = checkpoint.model_dump(mode="json")


def heartbeat(
    session: Session,
    attempt: Attempt,
    beat: protocol.Heartbeat,
    *,
    now: datetime,
    manifests: ManifestCache | None = None,
) -> protocol.HeartbeatReply:
    """Keep the player's live state for the room view; reply with the instructions it has not had yet.

    422 (nothing kept) for a section or item the test lacks."""
    _parsed(attempt.allocation.sitting.assessment, manifests).rules.check_heartbeat(beat)
    attempt.last_seen_at = now
    attempt.outbox_depth = beat.outbox_depth
    attempt.paused = beat.paused
    attempt.section_id = beat.section_id
    attempt.section_title = beat.section_title
    attempt.item_index = beat.item_index
    attempt.item_count = beat.item_count
    attempt.remaining_seconds = beat.remaining_seconds
    if not beat.finished:
        # The machine now holding the attempt is not finished (e.g. the student resumed elsewhere after a release).
        attempt.reported_finished_at = None
    elif attempt.reported_finished_at is None:
        attempt.reported_finished_at = now
    return protocol.HeartbeatReply(instructions=room.deliver(session, attempt, now=now))


def _utc(moment: datetime) -> datetime:
    # The player records UTC; a naive time is taken as UTC, as the result code does.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical(envelope: protocol.ResultEnvelope) -> protocol.ResultEnvelope:
    """The envelope as the result code carries it: every time in UTC, floored to the whole second.

    The same envelope uploaded and typed in from its result code must count as the same body.
    """
    return envelope.model_copy(
        update={
            "finished_at": _utc(envelope.finished_at).replace(microsecond=0),
            "answers": [
                a.model_copy(update={"answered_at": _utc(a.answered_at).replace(microsecond=0)})
                for a in envelope.answers
            ],
        }
    )


# A time as pydantic writes a UTC one, under its key: the key and whole seconds, any fraction, then the "Z".
# Only the envelope's own keys can match: inside a JSON string every quote is escaped.
_UTC_TIME = re.compile(r'("(?:answered_at|finished_at)":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z"')


def _whole_second(match: re.Match[str]) -> str:
    return match.group(1) + 'Z"'


def canonical_json(envelope: protocol.ResultEnvelope, text: str | None = None) -> bytes:
    """`canonical(envelope)` as JSON; `text` is `envelope.model_dump_json()` when the caller has it.

    Times a player sends are already UTC (their JSON ends in "Z"), so flooring one to the second is cutting the
    fraction out of the envelope's JSON: no model copies. When any time is in another zone (or none), the
    general path. Both give the bytes `canonical(envelope).model_dump_json()` gives (tested property).
    """
    text = envelope.model_dump_json() if text is None else text
    cut, times = _UTC_TIME.subn(_whole_second, text)
    if times == len(envelope.answers) + 1:
        return cut.encode()
    return canonical(envelope).model_dump_json().encode()


def body_digest(envelope: protocol.ResultEnvelope, text: str | None = None) -> str:
    """SHA-256 of the canonical JSON: equal for the same envelope uploaded and handed in as a result code."""
    return hashlib.sha256(canonical_json(envelope, text)).hexdigest()


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
    latest = max(moments) if all(m.tzinfo is not None for m in moments) else max(_utc(m) for m in moments)
    if latest <= deadline + LATE_GRACE:
        return
    latest = _utc(latest)
    raise ServiceError(
        409,
        "answered_too_late",
        f"These results were not stored: the test had to be answered by {domain.format_time(deadline)}, but "
        f"answers were given until {domain.format_time(latest)}. If the student's computer clock is wrong, "
        "tell support; otherwise these answers cannot count.",
    )


@dataclass(frozen=True)
class Parsed:
    """A stored manifest parsed and validated once, with the delivery form players receive."""

    manifest: content.Manifest
    delivery: protocol.DeliveryAssessment

    @cached_property
    def rules(self) -> AssessmentRules:
        """What each item accepts as an answer, for checking results and checkpoints before they are stored."""
        return AssessmentRules(self.delivery)

    @cached_property
    def marker(self) -> Marker:
        """The manifest's marking tables, built on the first result marked against it."""
        from sync.server.marking import Marker  # the scoring rules are loaded only when results arrive

        return Marker(self.manifest)


class ManifestCache:
    """Parsed manifests by assessment and content hash, the most recent few (thread-safe).

    A stored manifest never changes under its content hash, so a parse is good for the life of the process
    (and the same in every worker); without this each login and each result re-parsed and re-validated it.
    """

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._parsed: OrderedDict[tuple[str, str], Parsed] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, assessment: Assessment) -> Parsed:
        key = (assessment.id, assessment.content_hash)
        with self._lock:
            found = self._parsed.get(key)
            if found is not None:
                self._parsed.move_to_end(key)
                return found
        manifest = content.load_stored_manifest(assessment.manifest_json)
        parsed = Parsed(manifest=manifest, delivery=manifest.delivery_form())
        with self._lock:
            self._parsed[key] = parsed
            while len(self._parsed) > self._size:
                self._parsed.popitem(last=False)
        return parsed


def _parsed(assessment: Assessment, manifests: ManifestCache | None) -> Parsed:
    if manifests is not None:
        return manifests.get(assessment)
    manifest = content.load_stored_manifest(assessment.manifest_json)
    return Parsed(manifest=manifest, delivery=manifest.delivery_form())


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


def time_ordered_id() -> str:
    """A new result's id: a UUID in the version 7 layout (milliseconds since the epoch, then 74 random bits).

    Ids that grow with time make a batch's rows land at the end of the primary key's index, instead of on a
    random page of it each: fewer pages written and synced per batch. Unique as a version 4 UUID is, for all
    practical purposes (74 random bits per millisecond), and as opaque to everyone who reads it.
    """
    value = (time.time_ns() // 1_000_000 & _MS_MASK) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & _VERSION_CLEAR | _VERSION_7_VARIANT
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_ENVELOPE_JSON = protocol.ResultEnvelope.__pydantic_serializer__.to_json
"""`ResultEnvelope.model_dump_json`, without the keyword handling of pydantic's wrapper (same bytes)."""
_MS_MASK = (1 << 48) - 1
_VERSION_CLEAR = ~(0xF << 76 | 0x3 << 62)
_VERSION_7_VARIANT = 0x7 << 76 | 0x2 << 62


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
            self._parsed = _parsed(attempt.allocation.sitting.assessment, self._manifests)
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
            marks = parsed.marker.marks_json({a.item_id: a.value for a in envelope.answers})
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
        marker = _parsed(result.attempt.allocation.sitting.assessment, None).marker
        envelope = protocol.ResultEnvelope.model_validate(result.body)
        marks = marker.marks({a.item_id: a.value for a in envelope.answers})
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
