"""A student's attempt once signed in: its bearer token, media, checkpoints and heartbeats."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import null, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.base import ExecutableOption

from sync import protocol
from sync.server import crypto, room
from sync.server.answer_rules import AssessmentRules
from sync.server.errors import ServiceError, not_found
from sync.server.manifest_cache import ManifestCache, parsed
from sync.server.models import Allocation, Assessment, AssessmentMedia, Attempt, Media, Sitting
from sync.server.play_log import log_given_back_plays

log = logging.getLogger(__name__)


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
    session: Session,
    attempt: Attempt,
    checkpoint: protocol.Checkpoint,
    *,
    now: datetime,
    manifests: ManifestCache | None = None,
) -> None:
    """Keep the newest checkpoint, and put the plays it newly gives back in the sitting's log; 422 (nothing
    saved) for one naming a section or item the test lacks."""
    _open_attempt(attempt)
    parsed(attempt.allocation.sitting.assessment, manifests).rules.check_checkpoint(checkpoint)
    attempt.last_seen_at = now
    current = held_checkpoint(attempt)
    # Checkpoints may arrive out of order after an outage; only a newer one replaces what is held.
    if current is None or current.taken_at < checkpoint.taken_at:
        attempt.checkpoint = checkpoint.model_dump(mode="json")
        log_given_back_plays(session, attempt, checkpoint, held=current, now=now)


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
    parsed(attempt.allocation.sitting.assessment, manifests).rules.check_heartbeat(beat)
    attempt.last_seen_at = now
    attempt.outbox_depth = beat.outbox_depth
    attempt.paused = beat.paused
    attempt.section_id = beat.section_id
    attempt.section_title = beat.section_title
    attempt.item_id = beat.item_id
    attempt.item_index = beat.item_index
    attempt.item_count = beat.item_count
    attempt.remaining_seconds = beat.remaining_seconds
    if beat.machine_name is not None:
        attempt.machine_name = beat.machine_name
    attempt.answered_count = beat.answered_count
    attempt.question_count = beat.question_count
    attempt.audio = beat.audio
    attempt.resumed_at = beat.resumed_at
    if not beat.finished:
        # The machine now holding the attempt is not finished (e.g. the student resumed elsewhere after a release).
        attempt.reported_finished_at = None
    elif attempt.reported_finished_at is None:
        attempt.reported_finished_at = now
    if beat.starting:
        # Before the first section starts the player has no clock to add time to or section to end: the
        # instructions wait for a heartbeat that can apply them.
        return protocol.HeartbeatReply()
    return protocol.HeartbeatReply(instructions=room.deliver(session, attempt, now=now))
