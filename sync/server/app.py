"""The FastAPI application: error handling, the body limits and the versioned routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync.protocol import API_PREFIX, ErrorBody
from sync.server import (
    evidence,
    refusals,
    routes_console,
    routes_health,
    routes_kiosk,
    routes_player,
    routes_sitting_log,
    routes_staff,
)
from sync.server.bodylimit import BodyLimitMiddleware, declare_in_openapi, route_limits
from sync.server.deps import Clock, ServerContext
from sync.server.errors import ServiceError
from sync.server.models import utcnow
from sync.server.settings import ServerSettings
from sync.server.store import Store


def error_response(exc: ServiceError) -> JSONResponse:
    """Every refusal's reply: ErrorBody, numbered from the error catalogue (ServiceError.body)."""
    headers = {"Retry-After": str(exc.retry_after_seconds)} if exc.retry_after_seconds is not None else None
    body = ErrorBody.model_validate(exc.body())
    return JSONResponse(body.model_dump(), status_code=exc.status, headers=headers)


def http_refusal(exc: StarletteHTTPException) -> ServiceError:
    """Starlette's own refusals (an unknown path, a wrong method, a body it cannot decode) in our words.

    Each code is written out as a literal: tests/test_error_catalogue.py finds every code the server can send by
    reading the source, and fails for a code it cannot see."""
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot decode (not UTF-8, nested past Python's limit, a number of
        # thousands of digits): a refused body, as invalid JSON is, saying which.
        return ServiceError(422, "invalid_request", refusals.unreadable_body(exc.__cause__))
    if exc.status_code == 404:
        message = f"There is no such API route. The API is under {API_PREFIX}/ (see {API_PREFIX}/openapi.json)."
        return ServiceError(404, "no_such_route", message)
    if exc.status_code == 405:
        message = f"This route does not accept that method; see the API description at {API_PREFIX}/openapi.json."
        return ServiceError(405, "method_not_allowed", message)
    return ServiceError(exc.status_code, "http_error", str(exc.detail))


def create_app(settings: ServerSettings, *, store: Store | None = None, clock: Clock = utcnow) -> FastAPI:
    """The app over `store`; without one it opens the settings' database itself, and closes it when the server
    shuts down (a `serve --workers` worker: its connections end cleanly instead of with the process)."""
    owned = store is None
    opened = store or Store.open(settings.database_url, migrate=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                opened.close()

    app = FastAPI(
        title="Invigil server",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ServerContext(settings=settings, store=opened, clock=clock)

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(ServiceError(422, "invalid_request", refusals.describe(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Unknown paths and wrong methods get the same numbered ErrorBody as every other refusal.
        response = error_response(http_refusal(exc))
        if exc.status_code == 400:
            return response
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    app.include_router(routes_player.router, prefix=API_PREFIX)
    app.include_router(routes_staff.router, prefix=API_PREFIX)
    app.include_router(routes_console.router, prefix=API_PREFIX)
    app.include_router(routes_sitting_log.router, prefix=API_PREFIX)
    app.include_router(routes_health.router, prefix=API_PREFIX)
    app.include_router(routes_kiosk.router, prefix=API_PREFIX)

    # Outermost of our layers: an oversized body is refused before routing, sign-in checks or parsing read it.
    # Evidence keeps the route's own refusal (same limit, same words), so a user sees one message.
    limits = route_limits(settings.body_limits, evidence_refusal=evidence.too_large)
    app.add_middleware(BodyLimitMiddleware, table=limits)
    describe = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = describe()  # FastAPI keeps this dict as app.openapi_schema: completed once, served ever after
        declare_in_openapi(schema, limits)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
