"""Routes for the invigilator console: the live room, actions, the sitting's log, manual entries, hand marking and
incidents."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Request, Response

from sync import marking_protocol as mp
from sync import staff_protocol as sp
from sync.server import evidence, hand_marking, incidents, manual_entries, room
from sync.server.deps import ERRORS, ActorDep, Ctx, Tx

router = APIRouter(prefix="/staff", tags=["console"], responses=ERRORS | {413: {}, 415: {}})


@router.get("/sittings/{sitting_id}/room", response_model=sp.RoomView)
def get_room(sitting_id: str, actor: ActorDep, session: Tx, ctx: Ctx) -> sp.RoomView:
    return room.room_view(session, actor, sitting_id, now=ctx.clock())


@router.post("/allocations/{allocation_id}/actions", response_model=sp.ActionReceipt)
def act(allocation_id: str, body: sp.ActionIn, actor: ActorDep, session: Tx) -> sp.ActionReceipt:
    return room.act(session, actor, allocation_id, body)


@router.post("/sittings/{sitting_id}/actions", response_model=list[sp.ActionReceipt])
def act_on_room(sitting_id: str, body: sp.RoomActionIn, actor: ActorDep, session: Tx) -> list[sp.ActionReceipt]:
    return room.act_on_room(session, actor, sitting_id, body)


@router.get("/sittings/{sitting_id}/log", response_model=list[sp.LogEntry])
def sitting_log(sitting_id: str, actor: ActorDep, session: Tx) -> list[sp.LogEntry]:
    return room.sitting_log(session, actor, sitting_id)


@router.get("/allocations/{allocation_id}/manual", response_model=sp.ManualEntryOut)
def get_manual(allocation_id: str, actor: ActorDep, session: Tx, ctx: Ctx) -> sp.ManualEntryOut:
    return manual_entries.manual(session, actor, allocation_id, ctx.manifests)


@router.put("/allocations/{allocation_id}/manual", response_model=sp.ManualEntryOut)
def save_manual(
    allocation_id: str, body: sp.ManualEntryIn, actor: ActorDep, session: Tx, ctx: Ctx
) -> sp.ManualEntryOut:
    return manual_entries.save_manual(session, actor, allocation_id, body, now=ctx.clock(), manifests=ctx.manifests)


@router.get("/sittings/{sitting_id}/hand-marking", response_model=mp.HandMarkingSheet)
def hand_marking_sheet(sitting_id: str, actor: ActorDep, session: Tx, ctx: Ctx) -> mp.HandMarkingSheet:
    """Every answer of the sitting a person must mark, item by item, with the mark each has now."""
    return hand_marking.sheet(session, actor, sitting_id, now=ctx.clock(), manifests=ctx.manifests)


@router.put("/results/{result_id}/hand-marks/{item_id}", response_model=mp.HandMarkOut)
def give_hand_mark(
    result_id: str, item_id: str, body: mp.HandMarkIn, actor: ActorDep, session: Tx, ctx: Ctx
) -> mp.HandMarkOut:
    """Mark one answer by hand (admin or teacher). `replaces` names the mark the marker saw: a mark given by
    someone else meanwhile is never overwritten unseen (409 `marked_meanwhile`)."""
    return hand_marking.give_mark(session, actor, result_id, item_id, body, now=ctx.clock(), manifests=ctx.manifests)


async def evidence_body(request: Request) -> bytes:
    """The raw upload, read no further than the size limit (a bigger file is refused without storing it)."""
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > sp.MAX_EVIDENCE_BYTES:
        raise evidence.too_large(int(declared))
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > sp.MAX_EVIDENCE_BYTES:
            raise evidence.too_large(len(data))
    return bytes(data)


@router.post(
    "/allocations/{allocation_id}/evidence",
    response_model=sp.EvidenceOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in sp.EVIDENCE_TYPES},
        }
    },
)
def upload_evidence(
    allocation_id: str,
    actor: ActorDep,
    data: Annotated[bytes, Depends(evidence_body)],
    session: Tx,
    ctx: Ctx,
    content_type: Annotated[str | None, Header()] = None,
    x_filename: Annotated[str | None, Header()] = None,
) -> sp.EvidenceOut:
    return evidence.add_evidence(
        session, actor, allocation_id, data, declared_type=content_type, filename=x_filename, now=ctx.clock()
    )


@router.get("/evidence/{evidence_id}")
def get_evidence(evidence_id: str, actor: ActorDep, session: Tx) -> Response:
    stored = evidence.get_evidence(session, actor, evidence_id)
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.filename, safe='')}",
        # Served as uploaded: the browser must not second-guess the type of a file a person sent in.
        "X-Content-Type-Options": "nosniff",
    }
    return Response(content=stored.data, media_type=stored.mime_type, headers=headers)


@router.post("/sittings/{sitting_id}/incidents", response_model=sp.IncidentOut, status_code=201)
def add_incident(sitting_id: str, body: sp.IncidentIn, actor: ActorDep, session: Tx, ctx: Ctx) -> sp.IncidentOut:
    return incidents.add_incident(session, actor, sitting_id, body, now=ctx.clock())


@router.get("/sittings/{sitting_id}/incidents", response_model=list[sp.IncidentOut])
def list_incidents(sitting_id: str, actor: ActorDep, session: Tx) -> list[sp.IncidentOut]:
    return incidents.incidents(session, actor, sitting_id)
