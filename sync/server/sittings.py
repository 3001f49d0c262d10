"""Assessments, sittings, access codes and closing: the sitting rules of domain.py applied to the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import accesscode
from sync import staff_protocol as sp
from sync.server import audit, content, domain
from sync.server.accounts import credits_for, get_student
from sync.server.audit import Actor
from sync.server.crypto import Keyring
from sync.server.errors import ServiceError, not_found
from sync.server.models import RELEASED_TOKEN_PREFIX, Allocation, Assessment, AssessmentMedia, Media, Sitting
from sync.server.moving import keep_shown_time
from sync.server.row_locks import lock_allocations, lock_sitting


def load_assessment(
    session: Session, source: Path, *, untimed_section_minutes: int | None = None
) -> tuple[Assessment, bool]:
    """Validate a content package completely, then store it; returns (assessment, newly_stored)."""
    try:
        package = content.load_package(source, untimed_section_minutes=untimed_section_minutes)
    except content.PackageError as exc:
        raise ServiceError(422, "bad_package", str(exc)) from exc
    manifest = package.manifest
    existing = session.scalar(
        select(Assessment).where(Assessment.package_id == manifest.id, Assessment.version == manifest.version)
    )
    if existing is not None:
        if existing.content_hash == package.content_hash:
            return existing, False
        raise ServiceError(
            409,
            "version_exists",
            f"{manifest.id} version {manifest.version} is already loaded with different content; "
            "give the changed package a new version number.",
        )
    assessment = Assessment(
        package_id=manifest.id,
        version=manifest.version,
        title=manifest.title,
        content_hash=package.content_hash,
        manifest_json=manifest.model_dump_json(),
    )
    session.add(assessment)
    session.flush()
    for media in package.media:
        if session.get(Media, media.sha256) is None:
            session.add(Media(sha256=media.sha256, mime_type=media.mime_type, size=len(media.data), data=media.data))
        session.flush()
        if session.get(AssessmentMedia, (assessment.id, media.sha256)) is None:
            session.add(AssessmentMedia(assessment_id=assessment.id, sha256=media.sha256))
    session.flush()
    return assessment, True


def find_assessment(session: Session, ref: str) -> Assessment:
    """By id, or by package id (newest version), or `package_id@version`."""
    found = session.get(Assessment, ref)
    if found is not None:
        return found
    package_id, _, version = ref.partition("@")
    query = select(Assessment).where(Assessment.package_id == package_id)
    if version:
        query = query.where(Assessment.version == version)
    found = session.scalars(query.order_by(Assessment.created_at.desc())).first()
    if found is None:
        raise ServiceError(
            404, "not_found", f"No assessment {ref!r} is loaded. `invigil-server load-assessment` adds one."
        )
    return found


def get_sitting(session: Session, actor: Actor, sitting_id: str, *, lock: bool = False) -> Sitting:
    """The actor's school's sitting (404 otherwise). `lock=True` (for a change) holds its row and its allocations'
    rows until the transaction ends and reads them afresh: a concurrent edit, close or login of one of its codes
    in another server process waits, and this one sees what that one committed (PostgreSQL; SQLite's writers
    take turns already, and SQLAlchemy leaves FOR UPDATE out there)."""
    sitting = lock_sitting(session, sitting_id) if lock else session.get(Sitting, sitting_id)
    if sitting is None or sitting.school_id != actor.school_id:
        raise not_found("sitting")
    if lock:
        lock_allocations(session, sitting)
    return sitting


def list_sittings(session: Session, actor: Actor) -> list[Sitting]:
    return list(
        session.scalars(
            select(Sitting).where(Sitting.school_id == actor.school_id).order_by(Sitting.window_start.desc())
        )
    )


@dataclass(frozen=True)
class IssuedCode:
    allocation: Allocation
    code: str


def _allocate(session: Session, keyring: Keyring, sitting: Sitting, student_id: str) -> IssuedCode:
    while True:
        code = accesscode.generate()
        lookup = keyring.code_lookup(code)
        # 40 bits make a clash rare, but codes must be unique, so draw again rather than trust luck.
        if session.scalar(select(Allocation.id).where(Allocation.code_lookup == lookup)) is None:
            break
    allocation = Allocation(
        sitting_id=sitting.id,
        student_id=student_id,
        code_lookup=lookup,
        code_sealed=keyring.seal(code.encode(), purpose="access-code"),
    )
    session.add(allocation)
    return IssuedCode(allocation=allocation, code=code)


def _check_students(session: Session, actor: Actor, student_ids: list[str]) -> None:
    for student_id in student_ids:
        student = get_student(session, actor, student_id)
        if not student.active:
            raise ServiceError(
                422,
                "student_deactivated",
                f"{student.display_name} ({student.unique_id}) is deactivated; reactivate them before allocating.",
            )


def _take_credits(session: Session, actor: Actor, assessment: Assessment, needed: int, now: datetime) -> None:
    credit = credits_for(session, actor.school_id, assessment.package_id, lock=True)
    account = None if credit is None else domain.CreditAccount(balance=credit.balance, expires_on=credit.expires_on)
    try:
        domain.check_credits(account=account, needed=needed, assessment_title=assessment.title, today=now.date())
    except domain.RuleViolation as exc:
        raise ServiceError(409, exc.code, exc.message) from exc
    if credit is not None:
        credit.balance -= needed


def create_sitting(
    session: Session,
    actor: Actor,
    keyring: Keyring,
    *,
    assessment_ref: str,
    name: str,
    window_start: datetime,
    window_end: datetime,
    student_ids: list[str],
    now: datetime,
) -> tuple[Sitting, list[IssuedCode]]:
    assessment = find_assessment(session, assessment_ref)
    student_ids = list(dict.fromkeys(student_ids))
    if not name.strip():
        raise ServiceError(422, "bad_sitting", "A sitting needs a name.")
    try:
        domain.check_window(start=window_start, end=window_end)
        if not student_ids:
            raise domain.RuleViolation("no_students", "A sitting needs at least one student.")
    except domain.RuleViolation as exc:
        raise ServiceError(422, exc.code, exc.message) from exc
    _check_students(session, actor, student_ids)
    _take_credits(session, actor, assessment, len(student_ids), now)
    sitting = Sitting(
        school_id=actor.school_id,
        assessment_id=assessment.id,
        name=name.strip(),
        window_start=window_start,
        window_end=window_end,
    )
    session.add(sitting)
    session.flush()
    codes = [_allocate(session, keyring, sitting, sid) for sid in student_ids]
    session.flush()
    audit.record(session, actor, "create_sitting", target=sitting.id, sitting_id=sitting.id, students=len(student_ids))
    return sitting, codes


def started_count(sitting: Sitting) -> int:
    return sum(1 for a in sitting.allocations if a.attempt is not None)


def edit_sitting(
    session: Session,
    actor: Actor,
    keyring: Keyring,
    sitting_id: str,
    *,
    name: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    add_student_ids: list[str] | None = None,
    remove_student_ids: list[str] | None = None,
    now: datetime,
) -> tuple[Sitting, list[IssuedCode]]:
    sitting = get_sitting(session, actor, sitting_id, lock=True)
    try:
        domain.check_sitting_editable(started_count=started_count(sitting))
        if sitting.closed_at is not None:
            raise domain.RuleViolation("sitting_closed", "This sitting is closed and can no longer be edited.")
        domain.check_window(start=window_start or sitting.window_start, end=window_end or sitting.window_end)
    except domain.RuleViolation as exc:
        raise ServiceError(409 if exc.code != "bad_window" else 422, exc.code, exc.message) from exc
    current = {a.student_id: a for a in sitting.allocations}
    adding = [s for s in dict.fromkeys(add_student_ids or []) if s not in current]
    removing = [current[s] for s in dict.fromkeys(remove_student_ids or []) if s in current]
    for sid in remove_student_ids or []:
        if sid not in current:
            get_student(session, actor, sid)  # 404 for a stranger; a known student simply was not allocated
    if len(current) + len(adding) - len(removing) < 1:
        raise ServiceError(422, "no_students", "A sitting needs at least one student; close it instead.")
    _check_students(session, actor, adding)
    _take_credits(session, actor, sitting.assessment, len(adding), now)
    if removing:
        credit = credits_for(session, actor.school_id, sitting.assessment.package_id, lock=True)
        if credit is not None:
            credit.balance += len(removing)
        for allocation in removing:
            sitting.allocations.remove(allocation)
            session.delete(allocation)
    codes = [_allocate(session, keyring, sitting, sid) for sid in adding]
    if name is not None and name.strip():
        sitting.name = name.strip()
    sitting.window_start = window_start or sitting.window_start
    sitting.window_end = window_end or sitting.window_end
    session.flush()
    audit.record(
        session,
        actor,
        "edit_sitting",
        target=sitting.id,
        sitting_id=sitting.id,
        added=len(adding),
        removed=len(removing),
        window_start=sitting.window_start.isoformat(),
        window_end=sitting.window_end.isoformat(),
    )
    return sitting, codes


def apply_closing(session: Session, sitting: Sitting, *, closed_at: datetime) -> None:
    """Refund unstarted students' credits and extend part-way students, once per sitting.

    The sitting's row is locked and read again first, so two server processes closing it at once (a staff
    request and a login at the window's end) refund once: the second finds it closed."""
    lock_sitting(session, sitting.id)
    if sitting.closed_at is not None:
        return
    lock_allocations(session, sitting)
    sitting.closed_at = closed_at
    refunds = 0
    for allocation in sitting.allocations:
        attempt = allocation.attempt
        outcome = domain.close_allocation(
            domain.AllocationState(
                started=attempt is not None, finished=attempt is not None and attempt.finished_at is not None
            ),
            closed_at=closed_at,
        )
        if outcome.refund_credit and not allocation.credit_refunded:
            allocation.credit_refunded = True
            refunds += 1
        allocation.extended_until = outcome.extended_until
    if refunds:
        credit = credits_for(session, sitting.school_id, sitting.assessment.package_id, lock=True)
        if credit is not None:
            credit.balance += refunds
    session.flush()


def close_sitting(session: Session, actor: Actor, sitting_id: str, *, now: datetime) -> Sitting:
    sitting = get_sitting(session, actor, sitting_id, lock=True)
    if sitting.closed_at is not None:
        raise ServiceError(
            409,
            "already_closed",
            f"This sitting was already closed at {sitting.closed_at:%Y-%m-%d %H:%M} UTC.",
        )
    apply_closing(session, sitting, closed_at=min(now, sitting.window_end))
    audit.record(session, actor, "close_sitting", target=sitting.id, sitting_id=sitting.id)
    return sitting


def close_due_sittings(session: Session, *, now: datetime, school_id: str | None = None) -> int:
    """Apply closing to every sitting whose window has ended; safe to call often and from any worker."""
    query = select(Sitting).where(Sitting.closed_at.is_(None), Sitting.window_end <= now)
    if school_id is not None:
        query = query.where(Sitting.school_id == school_id)
    due = list(session.scalars(query.with_for_update()))
    for sitting in due:
        apply_closing(session, sitting, closed_at=sitting.window_end)
    return len(due)


@dataclass(frozen=True)
class CodeSlip:
    allocation_id: str
    student_name: str
    unique_id: str
    code: str
    state: str


def allocation_state(allocation: Allocation) -> str:
    attempt = allocation.attempt
    if attempt is None:
        return "not started"
    if attempt.finished_at is not None:
        return "finished"
    return "in progress" if attempt.machine_id is not None else "released"


def list_codes(session: Session, actor: Actor, keyring: Keyring, sitting_id: str) -> list[CodeSlip]:
    sitting = get_sitting(session, actor, sitting_id)
    audit.record(session, actor, "list_codes", target=sitting.id, sitting_id=sitting.id)
    return [
        CodeSlip(
            allocation_id=a.id,
            student_name=a.student.display_name,
            unique_id=a.student.unique_id,
            code=accesscode.display(keyring.unseal(a.code_sealed, purpose="access-code").decode()),
            state=allocation_state(a),
        )
        for a in sorted(sitting.allocations, key=lambda a: (a.student.last_name, a.student.first_name))
    ]


def get_allocation(session: Session, actor: Actor, allocation_id: str) -> Allocation:
    allocation = session.get(Allocation, allocation_id)
    if allocation is None or allocation.sitting.school_id != actor.school_id:
        raise not_found("allocation")
    return allocation


def check_reason(action: sp.ActionKind, reason_kind: str) -> None:
    """422 `reason_not_for_action` for a reason the action's list does not hold (sp.REASONS_FOR), before anything
    changes, so the sitting's log never gives a false reason."""
    refusal = sp.reason_refused(action, reason_kind)
    if refusal is not None:
        raise ServiceError(422, "reason_not_for_action", refusal)


def release_code(
    session: Session, actor: Actor, allocation_id: str, *, reason_kind: str, reason: str = ""
) -> Allocation:
    """Let the student's attempt continue on another machine; the old machine's token stops working."""
    check_reason("release", reason_kind)
    allocation = get_allocation(session, actor, allocation_id)
    attempt = allocation.attempt
    if attempt is None:
        raise ServiceError(
            409,
            "not_started",
            f"{allocation.student.display_name} has not started; there is nothing to release.",
        )
    if attempt.finished_at is not None:
        raise ServiceError(409, "already_finished", f"{allocation.student.display_name} has already finished.")
    previous = attempt.machine_id
    keep_shown_time(attempt)
    attempt.machine_id = None
    if not attempt.token_hash.startswith(RELEASED_TOKEN_PREFIX):
        # The old machine may still hand in results it holds (answered in time); nothing else.
        attempt.released_token_hash = attempt.token_hash
    attempt.token_hash = f"{RELEASED_TOKEN_PREFIX}{attempt.id}"  # matches no token: the old machine is cut off
    audit.record(
        session,
        actor,
        "release_code",
        target=allocation.id,
        sitting_id=allocation.sitting_id,
        allocation_id=allocation.id,
        reason_kind=reason_kind,
        reason=reason,
        previous_machine=attempt.machine_name or previous,
        remaining_seconds=attempt.remaining_seconds,
    )
    return allocation
