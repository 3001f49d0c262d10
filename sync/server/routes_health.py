"""/api/v1/health and /api/v1/ready for a load balancer or a monitor: no sign-in, and cheap enough to poll."""

from __future__ import annotations

import functools
import logging
from typing import Literal

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from sync.protocol import ErrorBody
from sync.server.db_failures import describe_failure
from sync.server.deps import Ctx
from sync.server.errors import ServiceError
from sync.server.store import MIGRATIONS, alembic_config
from sync.version import VERSION

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The server process answers."""

    status: Literal["ok"]


class Ready(BaseModel):
    """The server can serve: its database answers, at the schema revision this server needs."""

    status: Literal["ready"]
    schema_revision: str
    """The database's migration revision: this server's newest."""


NOT_READY: dict[int | str, dict[str, object]] = {
    503: {
        "model": ErrorBody,
        "description": "Not ready: `database_unreachable` (the reason is in the server's log) or "
        "`schema_not_current` (the database's revision and the one this server needs)",
    }
}


VERSION_HEADER = "X-Invigil-Version"
"""The server's version on /health, for the player's `invigil doctor` (its API version check). A header rather than
a body field: a monitor or load balancer that compares the body to {"status": "ok"} keeps working."""

HEALTH_HEADERS: dict[int | str, dict[str, object]] = {
    200: {
        "headers": {VERSION_HEADER: {"description": "This server's version, e.g. 0.1.0", "schema": {"type": "string"}}}
    }
}


@router.get("/health", response_model=Health, responses=HEALTH_HEADERS)
async def health(response: Response) -> Health:
    """Liveness: 200 while the server process runs. The database is not touched, so a database outage does not
    make a load balancer or supervisor restart servers that are fine. The X-Invigil-Version header names this
    server's version."""
    # async: not even a worker thread, so it answers while every thread waits on a slow database.
    response.headers[VERSION_HEADER] = VERSION
    return Health(status="ok")


@router.get("/ready", response_model=Ready, responses=NOT_READY)
def ready(ctx: Ctx) -> Ready:
    """Readiness: 200 when the database answers and its schema is the one this server needs, else 503 saying
    which (`database_unreachable` or `schema_not_current`). What a load balancer should poll."""
    # A plain function, so FastAPI runs it on a worker thread: a database that does not answer would otherwise
    # stall every request of this worker. One pooled connection and one small read (the migration revision).
    engine = ctx.store.engine
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        # The reason names hosts and users: for the server's log, not for whoever can reach this route.
        log.warning("Not ready: %s", describe_failure(engine.url, exc, given_as="the server's --db"))
        raise ServiceError(
            503,
            "database_unreachable",
            "This server cannot reach its database, so it cannot serve requests now. The reason is in the "
            "server's log; send requests to another server until this one is ready again.",
        ) from exc
    head, known = schema_revisions()
    if current != head:
        raise ServiceError(503, "schema_not_current", schema_message(current, head=head, known=known))
    return Ready(status="ready", schema_revision=current)


def schema_message(current: str | None, *, head: str, known: frozenset[str]) -> str:
    if current is None:
        return (
            f"The database is not set up (it has no schema revision; this server needs {head}). "
            "Run `invigil-server init` on it."
        )
    if current not in known:
        return (
            f"The database schema is at revision {current}, which this server does not know (it needs {head}): "
            "a newer server has upgraded it. Run that newer version of the server."
        )
    return (
        f"The database schema is at revision {current}, this server needs {head}. Run `invigil-server init` to "
        "upgrade it (back the database up first)."
    )


@functools.cache
def schema_revisions() -> tuple[str, frozenset[str]]:
    """This server's newest migration and every one it knows: read from the migration files once per process."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = scripts.get_current_head()
    if head is None:
        raise RuntimeError(f"The server's migrations in {MIGRATIONS} have no head revision.")
    return head, frozenset(rev.revision for rev in scripts.walk_revisions())
