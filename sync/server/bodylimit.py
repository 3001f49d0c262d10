"""Request body limits: an over-limit body is refused with 413 before it is read (pure ASGI, nothing buffered)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.protocol import API_PREFIX, MAX_BATCH_ENVELOPES, ErrorBody
from sync.resultcode import MAX_TEXT_LENGTH
from sync.server.errors import ServiceError
from sync.staff_protocol import MAX_EVIDENCE_BYTES

KB = 1024
MB = 1024 * KB

ESSAY_BYTES = 100_000 * 4
"""The longest text answer the content format allows (`max_length` <= 100,000 characters, sync/server/content/manifest.py),
every character 4 bytes in UTF-8."""

RESULT_BYTES = 4 * MB
"""One result envelope: ten such essays (4,000,000 bytes) plus the record around them. A 40-question
single-choice section's envelope is about 3 KB."""

BATCH_ENVELOPE_BYTES = 64 * KB
"""A generous envelope for a batch: twenty times a 40-question section's, or three essays at the default
`max_length` (5,000 characters) of 4-byte characters. A batch holds at most MAX_BATCH_ENVELOPES (200) of them:
12.5 MB. A group of envelopes larger than that is refused whole with 413, and the uploader then sends them one by
one (each under RESULT_BYTES)."""


RESULT_CODE_BYTES = MAX_TEXT_LENGTH + 64 * KB
"""A result code as pasted: the longest text the codec reads (its symbols and separators are ASCII), plus the JSON
around it. Longer text is no genuine code; the codec would refuse it too, with its own message."""


@dataclass(frozen=True)
class BodyLimits:
    """The largest request body, in bytes, each kind of route accepts (`serve --max-body ROUTE=SIZE`).

    The player's own bodies are far smaller (measured): a login is about 80 bytes (at most ~800: the code is at
    most 64 characters and the machine id 128), a heartbeat about 250 (at most ~2.5 KB: ids of 64 characters, a
    title of 200), a checkpoint about 150 plus ~80 bytes per audio item played.
    """

    login: int = 8 * KB
    heartbeat: int = 16 * KB
    checkpoint: int = 64 * KB
    results: int = RESULT_BYTES
    results_batch: int = MAX_BATCH_ENVELOPES * BATCH_ENVELOPE_BYTES
    result_codes: int = RESULT_CODE_BYTES
    """A result code handed in by staff (`POST /staff/result-codes`): ~1.5 MB, see RESULT_CODE_BYTES."""
    content: int = 50 * MB
    """A content package uploaded by an admin (`POST /staff/assessments`, with `serve --content-uploads`). Far
    below what a package may hold (200 MiB, PackageLimits): a bigger package is loaded on the server with
    `invigil-server load-assessment`, or the limit raised with `--max-body content=SIZE`."""
    staff: int = 1 * MB
    """Other staff JSON: a sitting for 2,000 students is ~100 KB of ids."""
    default: int = 64 * KB
    """Every other route (the GETs take no body)."""

    def overridden(self, overrides: Sequence[tuple[str, int]]) -> BodyLimits:
        return replace(self, **dict(overrides))


ROUTE_NAMES = tuple(f.name.replace("_", "-") for f in fields(BodyLimits))
EVIDENCE_NOTE = f"evidence uploads follow MAX_EVIDENCE_BYTES ({MAX_EVIDENCE_BYTES // MB} MB) and cannot be changed"
MIN_LIMIT = 1 * KB
MAX_LIMIT = 1024 * MB
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?", re.IGNORECASE)
_UNITS = {"b": 1, "kb": KB, "mb": MB, "gb": 1024 * MB}


def parse_override(text: str) -> tuple[str, int]:
    """`ROUTE=SIZE` (e.g. `results=8MB`, `login=4KB`, `staff=2000000`) -> (BodyLimits field, bytes)."""
    name, sep, size = text.partition("=")
    route = name.strip().lower().replace("_", "-")
    if route == "evidence":
        raise ValueError(EVIDENCE_NOTE)
    if not sep or route not in ROUTE_NAMES:
        raise ValueError(f"{text!r} is not ROUTE=SIZE with ROUTE one of {', '.join(ROUTE_NAMES)} (e.g. results=8MB)")
    match = _SIZE.fullmatch(size.strip())
    if match is None:
        raise ValueError(f"{size.strip()!r} is not a size like 64KB, 8MB or 1000000 (bytes)")
    limit = int(float(match[1]) * _UNITS[(match[2] or "b").lower()])
    if not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise ValueError(f"a body limit must be between 1 KB and 1 GB, not {size.strip()}")
    return route.replace("-", "_"), limit


def show_size(size: int) -> str:
    """1024-based, as the evidence message counts: 8 KB, 12.5 MB, 52,428,800 bytes for odd sizes."""
    for unit, name in ((MB, "MB"), (KB, "KB")):
        if size >= unit and (size * 10) % unit == 0:
            return f"{size / unit:g} {name}"
    return f"{size:,} bytes"


Refusal = Callable[[int], ServiceError]
"""Builds a route's refusal from the bytes sent (as declared, or counted so far)."""


@dataclass(frozen=True)
class RouteLimit:
    name: str
    """The `--max-body` name (or "evidence")."""
    pattern: re.Pattern[str]
    limit: int
    refusal: Refusal | None = None
    """The route's own 413 (evidence already had one, so users see one message); None: body_too_large."""

    def refuse(self, size: int, *, declared: bool) -> ServiceError:
        if self.refusal is not None:
            return self.refusal(size)
        sent = f"is {show_size(size)}" if declared else f"is more than {show_size(self.limit)}"
        what_to_do = (
            "Send a smaller body. If the request is genuine, the server's administrator can raise the limit with "
            f"`invigil-server serve --max-body {self.name}=SIZE`."
        )
        return ServiceError(
            413,
            "body_too_large",
            f"The request body {sent}; this route accepts at most {show_size(self.limit)}. {what_to_do}",
        )


def route_limits(limits: BodyLimits, *, evidence_refusal: Refusal | None = None) -> list[RouteLimit]:
    """The one table of which path gets which limit, most specific first; the last entry matches every path."""

    def at(path: str) -> re.Pattern[str]:
        # {x} in the path: one segment, as the router reads it (and as the OpenAPI description writes it).
        return re.compile(re.escape(API_PREFIX) + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)), re.DOTALL)

    return [
        RouteLimit("login", at("/login"), limits.login),
        RouteLimit("heartbeat", at("/attempts/{id}/heartbeat"), limits.heartbeat),
        RouteLimit("checkpoint", at("/attempts/{id}/checkpoint"), limits.checkpoint),
        RouteLimit("results", at("/attempts/{id}/results"), limits.results),
        RouteLimit("results-batch", at("/attempts/{id}/results/batch"), limits.results_batch),
        RouteLimit("evidence", at("/staff/allocations/{id}/evidence"), MAX_EVIDENCE_BYTES, evidence_refusal),
        RouteLimit("result-codes", at("/staff/result-codes"), limits.result_codes),
        RouteLimit("content", at("/staff/assessments"), limits.content),
        RouteLimit("staff", re.compile(re.escape(f"{API_PREFIX}/staff/") + ".*", re.DOTALL), limits.staff),
        RouteLimit("default", re.compile(".*", re.DOTALL), limits.default),
    ]


def limit_for(table: Sequence[RouteLimit], path: str) -> RouteLimit:
    """The first entry whose pattern matches the whole path. Patterns match any character, a decoded line break
    in a path segment included (`/students/%0A`): a path no entry matched would end the request with a 500."""
    return next(route for route in table if route.pattern.fullmatch(path))


class _Refused(Exception):
    """Raised into the app when the streamed body passes the limit, so it stops reading at once."""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimitMiddleware:
    """Refuses a body over its route's limit: by Content-Length before any byte is read, else while it streams.

    Pure ASGI (not BaseHTTPMiddleware, which would buffer every request and slow each one). Counting never
    trusts Content-Length: a body longer than declared is cut off at the limit all the same.
    """

    def __init__(self, app: ASGIApp, *, table: Sequence[RouteLimit]) -> None:
        self.app = app
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = limit_for(self.table, scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > route.limit:
            await _send_refusal(send, route.refuse(declared, declared=True))
            return
        received = 0
        refused = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > route.limit:
                    refused = True
                    raise _Refused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the app's own answer to the aborted read (a 400, a 500) is replaced by the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise
        if refused and not started:
            await _send_refusal(send, route.refuse(received, declared=False))


async def _send_refusal(send: Send, exc: ServiceError) -> None:
    # The rest of the body is never read into memory: after this reply uvicorn reads and discards it, so the
    # client (which sends its whole body before it reads) still gets the 413 rather than a reset connection.
    body = ErrorBody.model_validate(exc.body()).model_dump_json().encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def declare_in_openapi(schema: dict[str, Any], table: Sequence[RouteLimit]) -> None:
    """Every operation that takes a body declares the 413 and its limit, so a generated client knows."""
    for path, operations in schema.get("paths", {}).items():
        route = limit_for(table, path)
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            operation.setdefault("responses", {})["413"] = {
                "description": f"The body is larger than this route accepts: at most {show_size(route.limit)} "
                f"({route.limit} bytes); refused before it is read.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            }
