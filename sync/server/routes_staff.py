"""Routes for staff: sign-in, students, credits, sittings, codes, releases and results (one school each)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import accesscode
from sync import staff_protocol as sp
from sync.server import accounts, audit, code_intake, content_upload, hand_marking, manual_entries, results, sittings
from sync.server.audit import Actor
from sync.server.deps import ERRORS, ActorDep, Bearer, Ctx, Tx
from sync.server.errors import ServiceError, not_found
from sync.server.hand_marking import Layout
from sync.server.manifest_cache import ManifestCache
from sync.server.models import Allocation, Assessment, Credit, HandMark, Result, Sitting, Student
from sync.server.store import retry_on_race

router = APIRouter(prefix="/staff", tags=["staff"], responses=ERRORS)


def require(actor: Actor, *roles: str) -> None:
    if actor.role not in roles:
        raise ServiceError(
            403, "forbidden", f"This needs the role {' or '.join(roles)}; you are signed in as {actor.role}."
        )


@router.post("/login", response_model=sp.StaffLoginResponse)
def staff_login(body: sp.StaffLoginRequest, session: Tx, ctx: Ctx) -> sp.StaffLoginResponse:
    lifetime = ctx.settings.staff_token_lifetime.total_seconds() / 3600
    issued = accounts.staff_login(
        session, username=body.username, password=body.password, now=ctx.clock(), lifetime_hours=lifetime
    )
    staff = issued.staff
    school = accounts.get_school(session, staff.school_id)
    info = sp.StaffInfo(
        id=staff.id,
        username=staff.username,
        display_name=staff.display_name,
        role=staff.role,
        school_id=school.id,
        school_name=school.name,
    )
    return sp.StaffLoginResponse(token=issued.token, expires_at=issued.expires_at, staff=info)


@router.post("/logout", status_code=204)
def staff_logout(token: Bearer, session: Tx, ctx: Ctx) -> Response:
    staff = accounts.revoke_token(session, token, now=ctx.clock())
    if staff is not None:
        audit.record(session, Actor.of(staff, now=ctx.clock()), "staff_logout")
    return Response(status_code=204)


def student_out(s: Student) -> sp.StudentOut:
    return sp.StudentOut(
        id=s.id,
        unique_id=s.unique_id,
        first_name=s.first_name,
        last_name=s.last_name,
        date_of_birth=s.date_of_birth,
        groups=s.groups,
        extra_time_percent=s.extra_time_percent,
        active=s.active,
    )


@router.get("/students", response_model=list[sp.StudentOut])
def list_students(actor: ActorDep, session: Tx) -> list[sp.StudentOut]:
    return [student_out(s) for s in accounts.list_students(session, actor)]


@router.post("/students", response_model=sp.StudentOut, status_code=201)
def add_student(body: sp.StudentIn, actor: ActorDep, session: Tx) -> sp.StudentOut:
    require(actor, "admin", "teacher")
    return student_out(accounts.add_student(session, actor, **body.model_dump()))


@router.get("/students/{student_id}", response_model=sp.StudentOut)
def get_student(student_id: str, actor: ActorDep, session: Tx) -> sp.StudentOut:
    return student_out(accounts.get_student(session, actor, student_id))


@router.patch("/students/{student_id}", response_model=sp.StudentOut)
def patch_student(student_id: str, body: sp.StudentPatch, actor: ActorDep, session: Tx) -> sp.StudentOut:
    require(actor, "admin", "teacher")
    return student_out(accounts.set_student_active(session, actor, student_id, active=body.active))


@router.get("/credits", response_model=list[sp.CreditOut])
def list_credits(actor: ActorDep, session: Tx) -> list[sp.CreditOut]:
    rows = session.scalars(select(Credit).where(Credit.school_id == actor.school_id).order_by(Credit.package_id))
    return [sp.CreditOut(package_id=c.package_id, balance=c.balance, expires_on=c.expires_on) for c in rows]


@router.get("/assessments", response_model=list[sp.AssessmentOut])
def list_assessments(actor: ActorDep, session: Tx) -> list[sp.AssessmentOut]:
    rows = session.scalars(select(Assessment).order_by(Assessment.package_id, Assessment.version))
    return [sp.AssessmentOut(id=a.id, package_id=a.package_id, version=a.version, title=a.title) for a in rows]


@router.post(
    "/assessments",
    response_model=sp.AssessmentLoaded,
    status_code=201,
    responses=content_upload.RESPONSES,
    openapi_extra=content_upload.REQUEST_BODY,
)
async def upload_assessment(
    request: Request,
    response: Response,
    token: Bearer,
    ctx: Ctx,
    content_type: Annotated[str | None, Header()] = None,
    x_filename: Annotated[str | None, Header()] = None,
    untimed_section_minutes: Annotated[int | None, Query(ge=1, le=sp.MAX_UNTIMED_SECTION_MINUTES)] = None,
) -> sp.AssessmentLoaded:
    """Load a content package (admins, and only when the server runs with `--content-uploads`): checked as
    completely as `invigil-server load-assessment` checks it, and stored only when all of it is valid
    (422 `bad_package` naming the file, the field or line, and what to do). `untimed_section_minutes`: a QTI
    package's sections without timeLimits get that many minutes (as `load-assessment --untimed-section-minutes`).
    Assessments are shared by every
    school on the server: see docs/server.md, Loading content."""
    loaded = await content_upload.upload(
        request,
        ctx,
        token,
        content_type=content_type,
        filename=x_filename,
        untimed_section_minutes=untimed_section_minutes,
    )
    if loaded.already_loaded:
        response.status_code = 200
    return loaded


def sitting_out(s: Sitting) -> sp.SittingOut:
    return sp.SittingOut(
        id=s.id,
        name=s.name,
        assessment_id=s.assessment_id,
        assessment_title=s.assessment.title,
        window_start=s.window_start,
        window_end=s.window_end,
        closed_at=s.closed_at,
        editable=s.closed_at is None and sittings.started_count(s) == 0,
        allocations=[allocation_out(a) for a in s.allocations],
    )


def allocation_out(a: Allocation) -> sp.AllocationOut:
    return sp.AllocationOut(
        id=a.id,
        student_id=a.student_id,
        student_name=a.student.display_name,
        state=sittings.allocation_state(a),
        extended_until=a.extended_until,
    )


def _codes(issued: list[sittings.IssuedCode]) -> list[sp.NewCode]:
    return [
        sp.NewCode(allocation_id=c.allocation.id, student_id=c.allocation.student_id, code=accesscode.display(c.code))
        for c in issued
    ]


def _close_due(session: Session, actor: Actor, ctx: Ctx) -> None:
    sittings.close_due_sittings(session, now=ctx.clock(), school_id=actor.school_id)


@router.get("/sittings", response_model=list[sp.SittingOut])
def list_sittings(actor: ActorDep, session: Tx, ctx: Ctx) -> list[sp.SittingOut]:
    _close_due(session, actor, ctx)
    return [sitting_out(s) for s in sittings.list_sittings(session, actor)]


@router.post("/sittings", response_model=sp.SittingCreated, status_code=201)
def create_sitting(body: sp.SittingIn, actor: ActorDep, session: Tx, ctx: Ctx) -> sp.SittingCreated:
    require(actor, "admin", "teacher")
    sitting, issued = sittings.create_sitting(
        session,
        actor,
        ctx.keyring,
        assessment_ref=body.assessment,
        name=body.name,
        window_start=body.window_start,
        window_end=body.window_end,
        student_ids=body.student_ids,
        now=ctx.clock(),
    )
    return sp.SittingCreated(sitting=sitting_out(sitting), codes=_codes(issued))


@router.get("/sittings/{sitting_id}", response_model=sp.SittingOut)
def get_sitting(sitting_id: str, actor: ActorDep, session: Tx, ctx: Ctx) -> sp.SittingOut:
    _close_due(session, actor, ctx)
    return sitting_out(sittings.get_sitting(session, actor, sitting_id))


@router.patch("/sittings/{sitting_id}", response_model=sp.SittingCreated)
def edit_sitting(sitting_id: str, body: sp.SittingPatch, actor: ActorDep, session: Tx, ctx: Ctx) -> sp.SittingCreated:
    require(actor, "admin", "teacher")
    _close_due(session, actor, ctx)
    sitting, issued = sittings.edit_sitting(
        session,
        actor,
        ctx.keyring,
        sitting_id,
        name=body.name,
        window_start=body.window_start,
        window_end=body.window_end,
        add_student_ids=body.add_student_ids,
        remove_student_ids=body.remove_student_ids,
        now=ctx.clock(),
    )
    return sp.SittingCreated(sitting=sitting_out(sitting), codes=_codes(issued))


@router.post("/sittings/{sitting_id}/close", response_model=sp.SittingOut)
def close_sitting(sitting_id: str, actor: ActorDep, session: Tx, ctx: Ctx) -> sp.SittingOut:
    require(actor, "admin", "teacher")
    _close_due(session, actor, ctx)
    return sitting_out(sittings.close_sitting(session, actor, sitting_id, now=ctx.clock()))


@router.get("/sittings/{sitting_id}/codes", response_model=list[sp.CodeSlipOut])
def list_codes(sitting_id: str, actor: ActorDep, session: Tx, ctx: Ctx) -> list[sp.CodeSlipOut]:
    slips = sittings.list_codes(session, actor, ctx.keyring, sitting_id)
    return [
        sp.CodeSlipOut(
            allocation_id=s.allocation_id,
            student_name=s.student_name,
            unique_id=s.unique_id,
            code=s.code,
            state=s.state,
        )
        for s in slips
    ]


@router.post("/allocations/{allocation_id}/release", response_model=sp.AllocationOut)
def release_code(allocation_id: str, body: sp.ReleaseRequest, actor: ActorDep, session: Tx) -> sp.AllocationOut:
    """Release now needs a reason (kind and text), which lands in the sitting's log."""
    a = sittings.release_code(session, actor, allocation_id, reason_kind=body.reason_kind, reason=body.reason)
    return allocation_out(a)


def section_scores(
    result: Result, marks: dict[str, Any] | None, hand: dict[str, HandMark], layout: Layout
) -> list[sp.SectionScore]:
    """The marks of the sections this result carries (a result is marked against the whole test), hand marks in."""
    marked = (marks or {}).get("sections", {})
    scores = []
    for section_id in result.body.get("section_ids", []):
        mark = marked.get(section_id)
        if mark is not None:
            needed, done = hand_marking.hand_counts(result.marks, hand, layout.items.get(section_id, []))
            scores.append(
                sp.SectionScore(
                    section_id=section_id,
                    title=layout.titles.get(section_id, section_id),
                    score=mark["score"],
                    max_score=mark["max_score"],
                    needs_manual=bool(mark.get("needs_manual", False)),
                    hand_marks_needed=needed,
                    hand_marks_done=done,
                )
            )
    return scores


def result_out(
    session: Session, r: Result, *, layout: Layout, hand: dict[str, HandMark], manifests: ManifestCache
) -> sp.ResultOut:
    allocation = r.attempt.allocation
    manual = manual_entries.manual_out(session, allocation, manifests)
    marks = hand_marking.with_hand_marks(r.marks, hand, layout)
    return sp.ResultOut(
        id=r.id,
        attempt_id=r.attempt_id,
        allocation_id=allocation.id,
        student_name=allocation.student.display_name,
        unique_id=allocation.student.unique_id,
        status=r.status,
        error=r.error,
        received_at=r.received_at,
        marks=marks,
        section_scores=section_scores(r, marks, hand, layout),
        manual=manual if manual.updated_at is not None or manual.evidence else None,
    )


def sitting_layout(sitting: Sitting, manifests: ManifestCache) -> Layout:
    return Layout.of(manifests.get(sitting.assessment).manifest)


def _result(session: Session, actor: Actor, result_id: str) -> Result:
    result = session.get(Result, result_id)
    if result is None or result.attempt.allocation.sitting.school_id != actor.school_id:
        raise not_found("result")
    return result


def _one_result_out(session: Session, result: Result, manifests: ManifestCache) -> sp.ResultOut:
    hand = hand_marking.newest_marks(session, [result.id]).get(result.id, {})
    layout = sitting_layout(result.attempt.allocation.sitting, manifests)
    return result_out(session, result, layout=layout, hand=hand, manifests=manifests)


@router.get("/sittings/{sitting_id}/results", response_model=list[sp.ResultOut])
def sitting_results(sitting_id: str, actor: ActorDep, session: Tx, ctx: Ctx) -> list[sp.ResultOut]:
    sitting = sittings.get_sitting(session, actor, sitting_id)
    rows = list(
        session.scalars(
            select(Result)
            .join(Result.attempt)
            .join(Allocation)
            .where(Allocation.sitting_id == sitting.id)
            .order_by(Result.received_at)
        )
    )
    layout = sitting_layout(sitting, ctx.manifests)
    hand = hand_marking.newest_marks(session, [r.id for r in rows])
    return [result_out(session, r, layout=layout, hand=hand.get(r.id, {}), manifests=ctx.manifests) for r in rows]


@router.get("/results/{result_id}", response_model=sp.ResultOut)
def get_result(result_id: str, actor: ActorDep, session: Tx, ctx: Ctx) -> sp.ResultOut:
    return _one_result_out(session, _result(session, actor, result_id), ctx.manifests)


@router.post("/results/{result_id}/remark", response_model=sp.ResultOut)
def remark(result_id: str, actor: ActorDep, session: Tx, ctx: Ctx) -> sp.ResultOut:
    require(actor, "admin", "teacher")
    result = _result(session, actor, result_id)
    results.remark(session, now=ctx.clock(), result_id=result.id)
    audit.record(session, actor, "remark", target=result.id, status=result.status)
    return _one_result_out(session, result, ctx.manifests)


@router.post("/result-codes", response_model=sp.ResultCodeReceipt)
def submit_result_code(body: sp.ResultCodeIn, actor: ActorDep, ctx: Ctx) -> sp.ResultCodeReceipt:
    """Any role may type in a result code: it only delivers answers the student already gave."""

    # Its own transaction (not Tx), so that a key stored at the same moment by an upload can be tried again: then
    # it is held, and the code answers as a repeat.
    def submit() -> sp.ResultCodeReceipt:
        with ctx.store.transaction() as session:
            return code_intake.submit_code(session, ctx.keyring, body.code, now=ctx.clock(), actor=actor)

    return retry_on_race(submit, what="A result code")
