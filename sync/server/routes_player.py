"""Routes the player calls: login, media by hash, checkpoints, heartbeats and results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError

from sync import protocol
from sync.server import attempts, machine_reports, ratelimit, refusals, result_batch
from sync.server.deps import ERRORS, Bearer, Ctx, Tx
from sync.server.errors import ServiceError
from sync.server.login import admit_student, record_failed_login
from sync.server.models import Attempt
from sync.server.results import submit_result
from sync.server.store import retry_on_race

router = APIRouter(tags=["player"])


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login", response_model=protocol.LoginResponse, responses=ERRORS)
def login(body: protocol.LoginRequest, request: Request, ctx: Ctx) -> protocol.LoginResponse:
    address = client_address(request)
    now = ctx.clock()
    limits = ctx.settings.login_limits
    try:
        with ctx.store.transaction(queued=True) as session:
            return admit_student(
                session, ctx.keyring, body, address=address, limits=limits, now=now, manifests=ctx.manifests
            )
    except ratelimit.CountedRefusal as refused:
        # A guess at a code: recorded in its own transaction, because the login's own work was rolled back.
        with ctx.store.transaction(queued=True) as session:
            record_failed_login(session, refused, limits=limits, now=now)
        raise
    except IntegrityError as exc:
        # Two machines raced to start the same attempt; the loser is told it is in use elsewhere.
        raise ServiceError(
            409, "in_use_elsewhere", "This code is in use on another computer. Ask your invigilator."
        ) from exc


def attempt_dep(attempt_id: str, token: Bearer, session: Tx) -> Attempt:
    return attempts.attempt_for_token(session, attempt_id, token)


AttemptDep = Annotated[Attempt, Depends(attempt_dep)]

# The frequent player routes below open their transaction in the route body rather than through `Tx` and
# `AttemptDep`: each sync dependency is a hop to a worker thread and back (four per request), which under a
# room surge cost more than the database work itself.


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
def checkpoint(attempt_id: str, body: protocol.Checkpoint, token: Bearer, ctx: Ctx) -> Response:
    with ctx.store.transaction(queued=True) as session:
        attempt = attempts.attempt_for_token(session, attempt_id, token, load=attempts.FOR_CONTENT)
        attempts.save_checkpoint(session, attempt, body, now=ctx.clock(), manifests=ctx.manifests)
    return Response(status_code=204)


@router.post("/attempts/{attempt_id}/heartbeat", response_model=protocol.HeartbeatReply, responses=ERRORS)
def heartbeat(attempt_id: str, body: protocol.Heartbeat, token: Bearer, ctx: Ctx) -> protocol.HeartbeatReply:
    # Committed before the reply is sent (instructions are marked delivered here), but without waiting for the
    # disk: a heartbeat lost to a power cut is repeated 5 s later, and a re-delivered instruction is applied
    # once by id. Results and checkpoints keep synchronous=FULL.
    with ctx.store.transaction(durable=False, queued=True) as session:
        attempt = attempts.attempt_for_token(session, attempt_id, token, load=attempts.FOR_CONTENT)
        now = ctx.clock()
        reply = attempts.heartbeat(session, attempt, body, now=now, manifests=ctx.manifests)
        machine_reports.keep(session, attempt, body, now=now)
        return reply


@router.post("/attempts/{attempt_id}/results", response_model=protocol.ResultReceipt, responses=ERRORS)
def results(attempt_id: str, body: protocol.ResultEnvelope, token: Bearer, ctx: Ctx) -> protocol.ResultReceipt:
    def store() -> protocol.ResultReceipt:
        with ctx.store.transaction(queued=True) as session:
            attempt = attempts.attempt_for_results(session, attempt_id, token)
            return submit_result(session, attempt, body, now=ctx.clock(), manifests=ctx.manifests)

    # The same key arriving twice at once: the other request stored it, so the second try answers as a repeat.
    return retry_on_race(store, what=f"Results for {attempt_id}")


async def json_body(request: Request) -> bytes | ServiceError:
    """The request's bytes, for a route that validates them itself (async: read on the event loop); or, for a
    body that is not declared as JSON, the 415 the route raises once the sign-in is checked (left unread)."""
    declared = request.headers.get("Content-Type", "")
    if declared.partition(";")[0].strip().lower() != "application/json":
        return ServiceError(
            415,
            "unsupported_media_type",
            f"Results must be sent as JSON (Content-Type: application/json), not as "
            f"{refusals.shown(declared) if declared else 'a body without a Content-Type'}; nothing was stored.",
        )
    return await request.body()


def _batch_body_schema() -> dict[str, object]:
    """The batch's JSON schema for the API description (the route reads the body itself, not FastAPI).

    Its envelopes refer to the components the single-result route already describes.
    """
    schema = protocol.ResultBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


Batch = list[result_batch.Entry] | RequestValidationError | ServiceError
"""The batch as read, or the refusal of the whole request (raised once the sign-in is checked)."""


@router.post(
    "/attempts/{attempt_id}/results/batch",
    response_model=protocol.ResultBatchReply,
    responses=ERRORS | {415: {"model": protocol.ErrorBody}},
    openapi_extra=_batch_body_schema(),
)
def results_batch(
    attempt_id: str, token: Bearer, body: Annotated[bytes | ServiceError, Depends(json_body)], ctx: Ctx
) -> Response:
    """Up to MAX_BATCH_ENVELOPES envelopes of one attempt, one transaction (one disk sync), a receipt each.

    A refusal of the body is raised only after the sign-in and the attempt are checked, as a route with a
    declared body model would not: another school's attempt is a 404 whatever the body holds, and a stranger's
    body is never parsed. The body is
    validated once, before the writer lock is taken, so other machines' writes do not wait on it. An envelope
    that is not valid gets its own 422 in the reply; the others are stored.
    """
    # The sign-in first, read-only and outside the writer lock: an unknown token must not buy the reading of up
    # to 12.5 MB of JSON (it is checked again where the results are stored).
    with ctx.store.transaction() as session:
        attempts.attempt_for_results(session, attempt_id, token)
    batch: Batch
    if isinstance(body, ServiceError):
        batch = body
    else:
        try:
            batch = result_batch.read_batch(body)
        except RequestValidationError as refused:
            batch = refused
    # Another request may store one of these keys between our look-up and our commit; nothing of that try is
    # kept, and the next try finds that key held (a duplicate, or a conflict for that one).
    return retry_on_race(
        lambda: _store_batch(attempt_id, batch, token, ctx), tries=BATCH_TRIES, what=f"Result batch for {attempt_id}"
    )


BATCH_TRIES = 3


def _store_batch(attempt_id: str, batch: Batch, token: str, ctx: Ctx) -> Response:
    with ctx.store.transaction(queued=True) as session:
        attempt = attempts.attempt_for_results(session, attempt_id, token)
        if isinstance(batch, RequestValidationError | ServiceError):
            raise batch
        items = result_batch.store_batch(session, attempt, batch, now=ctx.clock(), manifests=ctx.manifests)
        session.flush()  # inside the transaction: a change to the attempt is written before the commit
    # Serialised as plain data: returned as a model, FastAPI would validate the 200 receipts again.
    return Response(content=result_batch.reply_json(items), media_type="application/json")
