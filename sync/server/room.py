"""The invigilator's live room: each student's state, instructions to players, and the sitting's log."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import protocol
from sync import staff_protocol as sp
from sync.server import audit, refusals, sittings
from sync.server.audit import Actor
from sync.server.errors import ServiceError
from sync.server.hand_marking import newest_marks
from sync.server.manifest_cache import parsed
from sync.server.models import Allocation, Assessment, Attempt, AuditEntry, Instruction, Result, utcnow

log = logging.getLogger(__name__)

ONLINE_WITHIN = timedelta(seconds=sp.ONLINE_WITHIN_SECONDS)
OPEN_STATES = ("in_progress", "paused", "finished_waiting")
"""States in which a machine is expected to be talking to the server."""


# ---- delivery (the player's heartbeat) ---------------------------------------------------------


def deliver(session: Session, attempt: Attempt, *, now: datetime) -> list[protocol.Instruction]:
    """The attempt's undelivered instructions, oldest first, marked delivered in the caller's transaction.

    Two heartbeats racing may both carry an instruction; the player applies each id once, so that is harmless.
    """
    pending = list(
        session.scalars(
            select(Instruction)
            .where(Instruction.attempt_id == attempt.id, Instruction.delivered_at.is_(None))
            .order_by(Instruction.seq)
        )
    )
    for instruction in pending:
        instruction.delivered_at = now
    return [
        protocol.Instruction(
            id=i.id,
            kind=i.kind,
            seconds=i.seconds,
            section_id=i.section_id,
            reason=i.reason,
        )
        for i in pending
    ]


# ---- the room view ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _AttemptFacts:
    all_marked: bool
    extra_seconds: int
    pause_pending: bool
    """The last pause/resume instruction given is a pause the player has not yet reported as applied."""
    pending: list[protocol.InstructionKind]
    """Instructions given that the player has not collected yet, oldest first."""


def _facts(session: Session, attempt_ids: list[str]) -> dict[str, _AttemptFacts]:
    statuses: dict[str, list[str]] = defaultdict(list)
    to_mark: dict[str, set[str]] = defaultdict(set)
    """Items answered in a way only a person can mark, by attempt."""
    results = session.execute(
        select(Result.id, Result.attempt_id, Result.status, Result.marks).where(Result.attempt_id.in_(attempt_ids))
    ).all()
    for _result_id, attempt_id, status, marks in results:
        statuses[attempt_id].append(status)
        items = (marks or {}).get("items", {})
        to_mark[attempt_id].update(i for i, item in items.items() if item.get("needs_manual", False))
    hand = newest_marks(session, [r.id for r in results if to_mark[r.attempt_id]])
    for result_id, attempt_id, *_ in results:
        to_mark[attempt_id].difference_update(hand.get(result_id, {}))
    extra: dict[str, int] = defaultdict(int)
    last_pause_kind: dict[str, str] = {}
    pending: dict[str, list[protocol.InstructionKind]] = defaultdict(list)
    for row in session.scalars(
        select(Instruction).where(Instruction.attempt_id.in_(attempt_ids)).order_by(Instruction.seq)
    ):
        if row.delivered_at is None:
            pending[row.attempt_id].append(cast(protocol.InstructionKind, row.kind))  # written only from one
        if row.kind == "add_time":
            extra[row.attempt_id] += row.seconds or 0
        elif row.kind in ("pause", "resume"):
            last_pause_kind[row.attempt_id] = row.kind
    return {
        a: _AttemptFacts(
            # Marked means done: every result marked automatically and every answer needing a person marked.
            all_marked=bool(statuses[a]) and all(s == "marked" for s in statuses[a]) and not to_mark[a],
            extra_seconds=extra[a],
            pause_pending=last_pause_kind.get(a) == "pause",
            pending=pending[a],
        )
        for a in attempt_ids
    }


def student_state(attempt: Attempt | None, *, all_marked: bool) -> sp.StudentState:
    if attempt is None:
        return "not_started"
    if attempt.finished_at is not None:
        return "marked" if all_marked else "finished_sent"
    if attempt.machine_id is None:
        return "released"
    if attempt.reported_finished_at is not None:
        return "finished_waiting"
    return "paused" if attempt.paused else "in_progress"


def is_online(attempt: Attempt | None, *, now: datetime) -> bool:
    return attempt is not None and attempt.last_seen_at is not None and now - attempt.last_seen_at <= ONLINE_WITHIN


def _reported(text: str | None, limit: int) -> str | None:
    """A player's report as stored, cut to what a heartbeat may carry today (an older server stored any length)."""
    return text if text is None or len(text) <= limit else text[:limit]


def _student(allocation: Allocation, facts: _AttemptFacts | None, *, now: datetime) -> sp.RoomStudent:
    attempt = allocation.attempt
    live = attempt is not None and attempt.finished_at is None
    remaining = attempt.remaining_seconds if attempt and live else None
    return sp.RoomStudent(
        allocation_id=allocation.id,
        attempt_id=attempt.id if attempt else None,
        student_name=allocation.student.display_name,
        unique_id=allocation.student.unique_id,
        state=student_state(attempt, all_marked=facts is not None and facts.all_marked),
        machine_id=_reported(attempt.machine_id, 160) if attempt else None,  # the column's width
        section_id=_reported(attempt.section_id, protocol.MAX_ID_CHARS) if attempt and live else None,
        section_title=_reported(attempt.section_title, protocol.MAX_TITLE_CHARS) if attempt and live else None,
        item_index=attempt.item_index if attempt and live else None,
        item_count=attempt.item_count if attempt and live else None,
        # A negative time left (accepted by older servers) is shown as unknown, never as "-5 minutes".
        remaining_seconds=remaining if remaining is None or remaining >= 0 else None,
        last_seen_at=attempt.last_seen_at if attempt else None,
        online=is_online(attempt, now=now),
        outbox_depth=attempt.outbox_depth if attempt else 0,
        paused=bool(attempt and live and attempt.paused),
        extra_time_seconds=facts.extra_seconds if facts else 0,
        extra_time_percent=allocation.student.extra_time_percent,
        machine_name=_reported(attempt.machine_name, protocol.MAX_MACHINE_NAME_CHARS) if attempt else None,
        answered_count=attempt.answered_count if attempt and live else None,
        question_count=attempt.question_count if attempt and live else None,
        audio=_audio(attempt.audio) if attempt and live else "not_checked",
        resumed_at=attempt.resumed_at if attempt and live else None,
        pending=facts.pending if facts and live else [],
        app_version=_reported(attempt.app_version, protocol.MAX_APP_VERSION_CHARS) if attempt else None,
        readiness=_reported(attempt.readiness, protocol.MAX_READINESS_CHARS) if attempt else None,
        left_window_count=attempt.left_window_count if attempt else 0,
    )


def _audio(stored: str | None) -> protocol.AudioStatus:
    known: tuple[protocol.AudioStatus, ...] = ("heard", "not_heard", "no_device", "playback_failed")
    return next((status for status in known if status == stored), "not_checked")


def _counts(students: list[sp.RoomStudent]) -> sp.RoomCounts:
    def count(*states: str) -> int:
        return sum(1 for s in students if s.state in states)

    return sp.RoomCounts(
        not_started=count("not_started"),
        in_progress=count("in_progress"),
        paused=count("paused"),
        finished=count("finished_sent", "finished_waiting", "marked"),
        offline=sum(1 for s in students if s.state in OPEN_STATES and not s.online),
        waiting_to_send=sum(
            1
            for s in students
            if s.state == "finished_waiting" or (s.state in ("in_progress", "paused") and s.outbox_depth > 0)
        ),
    )


def room_view(session: Session, actor: Actor, sitting_id: str, *, now: datetime) -> sp.RoomView:
    sitting = sittings.get_sitting(session, actor, sitting_id)
    allocations = sorted(sitting.allocations, key=lambda a: (a.student.last_name, a.student.first_name))
    facts = _facts(session, [a.attempt.id for a in allocations if a.attempt is not None])
    students = [_student(a, facts.get(a.attempt.id) if a.attempt else None, now=now) for a in allocations]
    return sp.RoomView(
        sitting_id=sitting.id,
        sitting_name=sitting.name,
        assessment_title=sitting.assessment.title,
        window_end=sitting.window_end,
        counts=_counts(students),
        students=students,
        server_time=now,
    )


# ---- actions ----------------------------------------------------------------------------------

_VERBS = {"pause": "pause", "resume": "resume", "add_time": "add time for", "end_section": "end the section of"}


def _open_attempt(allocation: Allocation, kind: str) -> Attempt:
    name = allocation.student.display_name
    attempt = allocation.attempt
    if attempt is None:
        raise ServiceError(
            409, "not_started", f"{name} has not started the test yet, so you cannot {_VERBS[kind]} them."
        )
    if attempt.finished_at is not None or attempt.reported_finished_at is not None:
        raise ServiceError(409, "already_finished", f"{name} has already finished, so you cannot {_VERBS[kind]} them.")
    return attempt


def _give(
    session: Session,
    actor: Actor,
    allocation: Allocation,
    attempt: Attempt,
    *,
    kind: protocol.InstructionKind,
    seconds: int | None,
    reason_kind: str,
    reason: str,
    whole_room: bool = False,
) -> sp.ActionReceipt:
    section_id = attempt.section_id if kind in ("add_time", "end_section") else None
    instruction = Instruction(
        attempt_id=attempt.id,
        kind=kind,
        seconds=seconds,
        section_id=section_id,
        reason_kind=reason_kind,
        reason=reason,
        created_by=actor.name,
        created_at=actor.now or utcnow(),
    )
    session.add(instruction)
    session.flush()
    detail: dict[str, object] = {"instruction_id": instruction.id}
    if seconds is not None:
        detail["seconds"] = seconds
    if section_id is not None:
        detail["section_id"] = section_id
        if attempt.section_title:
            detail["section_title"] = attempt.section_title
    if whole_room:
        detail["whole_room"] = True
    audit.record(
        session,
        actor,
        kind,
        target=attempt.id,
        sitting_id=allocation.sitting_id,
        allocation_id=allocation.id,
        reason_kind=reason_kind,
        reason=reason,
        facts=detail,
    )
    return sp.ActionReceipt(
        instruction_id=instruction.id,
        kind=kind,
        student_name=allocation.student.display_name,
        allocation_id=allocation.id,
    )


def act(session: Session, actor: Actor, allocation_id: str, action: sp.ActionIn) -> sp.ActionReceipt:
    """Queue one instruction for one student's player; it goes out in the player's next heartbeat reply."""
    sittings.check_reason(action.kind, action.reason_kind)
    allocation = sittings.get_allocation(session, actor, allocation_id)
    attempt = _open_attempt(allocation, action.kind)
    if action.kind == "end_section" and attempt.section_id is None:
        raise ServiceError(
            409,
            "section_unknown",
            f"{allocation.student.display_name}'s computer has not yet said which section they are in; "
            "wait a few seconds for it to check in, then try again.",
        )
    return _give(
        session,
        actor,
        allocation,
        attempt,
        kind=action.kind,
        seconds=action.seconds,
        reason_kind=action.reason_kind,
        reason=action.reason,
    )


def act_on_room(session: Session, actor: Actor, sitting_id: str, action: sp.RoomActionIn) -> list[sp.ActionReceipt]:
    """The same instruction for everyone it applies to: pause everyone in progress, resume everyone paused
    (including pauses not yet applied), add time for everyone with an open attempt, or end one section for
    everyone in it. 422 (nothing given) for a section the test does not have."""
    sittings.check_reason(sp.WHOLE_ROOM[action.kind], action.reason_kind)
    sitting = sittings.get_sitting(session, actor, sitting_id)
    if action.kind == "end_section":
        _check_section(sitting.assessment, action.section_id)
    live = [a for a in sitting.allocations if a.attempt is not None]
    facts = _facts(session, [a.attempt.id for a in live if a.attempt is not None])
    receipts = []
    for allocation in sorted(live, key=lambda a: (a.student.last_name, a.student.first_name)):
        attempt = allocation.attempt
        assert attempt is not None  # filtered above
        if _reaches(action, attempt, pause_pending=facts[attempt.id].pause_pending):
            receipts.append(
                _give(
                    session,
                    actor,
                    allocation,
                    attempt,
                    kind=action.kind,
                    seconds=action.seconds,
                    reason_kind=action.reason_kind,
                    reason=action.reason,
                    whole_room=True,
                )
            )
    log.info("%s: %s the room of sitting %s (%d students)", actor.name, action.kind, sitting.id, len(receipts))
    return receipts


def _reaches(action: sp.RoomActionIn, attempt: Attempt, *, pause_pending: bool) -> bool:
    state = student_state(attempt, all_marked=False)
    if action.kind == "pause":
        return state == "in_progress" and not pause_pending
    if action.kind == "resume":
        return state == "paused" or (state == "in_progress" and pause_pending)
    if action.kind == "add_time":
        return state in ("in_progress", "paused")
    return state in ("in_progress", "paused") and attempt.section_id == action.section_id


def _check_section(assessment: Assessment, section_id: str | None) -> None:
    sections = {s.id: s.title for s in parsed(assessment, None).delivery.sections}
    if section_id not in sections:
        listed = ", ".join(f"{key} ({title})" for key, title in sections.items())
        raise ServiceError(
            422,
            "unknown_section",
            f"The test {assessment.title!r} has no section {refusals.shown(section_id or '')}; its sections are "
            f"{listed}. Nothing was changed.",
        )


# ---- the sitting's log ------------------------------------------------------------------------


def sitting_log(session: Session, actor: Actor, sitting_id: str) -> list[sp.LogEntry]:
    """Everything staff did in the sitting, oldest first."""
    sitting = sittings.get_sitting(session, actor, sitting_id)
    names = {a.id: a.student.display_name for a in sitting.allocations}
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.school_id == actor.school_id, AuditEntry.sitting_id == sitting.id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return [
        sp.LogEntry(
            at=row.at,
            actor=row.actor,
            action=row.action,
            student_name=names.get(row.allocation_id) if row.allocation_id else None,
            reason_kind=row.reason_kind,
            reason=row.reason,
            detail=row.detail,
        )
        for row in rows
    ]
