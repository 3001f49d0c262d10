"""Routes the player calls: login, media by hash, checkpoints, heartbeats and results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy.exc import IntegrityError

from sync import protocol
from sync.server import attempts
from sync.server.app import Ctx, Tx
from sync.server.errors import ServiceError
from sync.server.models import Attempt

router = APIRouter(tags=["player"])


def bearer(authorization: Annotated[str | None, Header()] = None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ServiceError(401, "no_token", "This request needs a sign-in token (Authorization: Bearer ...).")
    return token.strip()


Bearer = Annotated[str, Depends(bearer)]
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": protocol.ErrorBody} for code in (401, 403, 404, 409, 422, 423, 429)
}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login", response_model=protocol.LoginResponse, responses=ERRORS)
def login(body: protocol.LoginRequest, request: Request, ctx: Ctx) -> protocol.LoginResponse:
    address = client_address(request)
    now = ctx.clock()
    limits = ctx.settings.login_limits
    try:
        with ctx.store.transaction() as session:
            return attempts.login(session, ctx.keyring, body, address=address, limits=limits, now=now)
    except ServiceError as exc:
        if exc.error in attempts.COUNTED_FAILURES:
            # Recorded in its own transaction: the login's own work was rolled back.
            with ctx.store.transaction() as session:
                attempts.record_failed_login(
                    session, machine_id=body.machine_id, address=address, limits=limits, now=now
                )
        raise
    except IntegrityError as exc:
        # Two machines raced to start the same attempt; the loser is told it is in use elsewhere.
        raise ServiceError(
            409, "in_use_elsewhere", "This code is in use on another computer. Ask your invigilator."
        ) from exc


def attempt_dep(attempt_id: str, token: Bearer, session: Tx) -> Attempt:
    return attempts.attempt_for_token(session, attempt_id, token)


AttemptDep = Annotated[Attempt, Depends(attempt_dep)]


@router.get("/attempts/{attempt_id}/media/{sha256}", responses=ERRORS)
def media(
    sha256: str,
    attempt: AttemptDep,
    session: Tx,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    found = attempts.media_for_attempt(session, attempt, sha256)
    headers = {"ETag": f'"{found.sha256}"', "Cache-Control": "private, max-age=31536000, immutable"}
    if if_none_match is not None and found.sha256 in if_none_match:
        return Response(status_code=304, headers=headers)
    return Response(content=found.data, media_type=found.mime_type, headers=headers)


@router.put("/attempts/{attempt_id}/checkpoint", status_code=204, responses=ERRORS)
def checkpoint(body: protocol.Checkpoint, attempt: AttemptDep, ctx: Ctx) -> Response:
    attempts.save_checkpoint(attempt, body, now=ctx.clock())
    return Response(status_code=204)


@router.post("/attempts/{attempt_id}/heartbeat", response_model=protocol.HeartbeatReply, responses=ERRORS)
def heartbeat(body: protocol.Heartbeat, attempt: AttemptDep, session: Tx, ctx: Ctx) -> protocol.HeartbeatReply:
    # The instructions are marked delivered in this same transaction, committed before the reply is sent.
    return attempts.heartbeat(session, attempt, body, now=ctx.clock())


@router.post("/attempts/{attempt_id}/results", response_model=protocol.ResultReceipt, responses=ERRORS)
def results(attempt_id: str, body: protocol.ResultEnvelope, token: Bearer, ctx: Ctx) -> protocol.ResultReceipt:
    try:
        with ctx.store.transaction() as session:
            attempt = attempts.attempt_for_token(session, attempt_id, token)
            return attempts.submit_result(session, attempt, body, now=ctx.clock())
    except IntegrityError:
        # The same key arrived twice at once; the other request stored it, so answer as for a repeat.
        with ctx.store.transaction() as session:
            held = attempts.existing_result(session, body)
            if held is None:
                raise
            return held
