"""What every router shares: the request's context and transaction, the sign-in dependencies, the error table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from sync import protocol
from sync.server import accounts
from sync.server.audit import Actor
from sync.server.crypto import Keyring
from sync.server.errors import ServiceError
from sync.server.manifest_cache import ManifestCache
from sync.server.settings import ServerSettings
from sync.server.store import Store

Clock = Callable[[], datetime]


class ServerContext:
    """Everything a request needs, built once per app; holds no per-school state (workers stay stateless)."""

    def __init__(self, *, settings: ServerSettings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.keyring = Keyring(settings.secret_key)
        self.clock = clock
        self.manifests = ManifestCache()


async def context(request: Request) -> ServerContext:
    # async: a plain function dependency would cost a hop to a worker thread and back on every request.
    ctx: ServerContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServerContext, Depends(context)]


def transaction(ctx: Ctx) -> Iterator[Session]:
    with ctx.store.transaction() as session:
        yield session


# scope="function": commit before the response is sent, so a client never sees success for a write that failed
# to commit (the default "request" scope would commit only after the reply had gone out).
Tx = Annotated[Session, Depends(transaction, scope="function")]


async def bearer(authorization: Annotated[str | None, Header()] = None) -> str:
    # async: no thread hop for a header check (see `context`).
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ServiceError(401, "no_token", "This request needs a sign-in token (Authorization: Bearer ...).")
    return token.strip()


Bearer = Annotated[str, Depends(bearer)]


def actor_dep(token: Bearer, session: Tx, ctx: Ctx) -> Actor:
    now = ctx.clock()
    return Actor.of(accounts.staff_for_token(session, token, now=now), now=now)


ActorDep = Annotated[Actor, Depends(actor_dep)]
"""The signed-in staff member (a staff token, checked in the request's transaction)."""

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": protocol.ErrorBody} for code in (401, 403, 404, 409, 422, 423, 429)
}
"""The refusals every route may answer with, as the API description lists them (one `ErrorBody` each)."""
