"""Several result envelopes of one attempt stored in one transaction, each once by key, with a receipt each."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic_core
from fastapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError
from sqlalchemy import column, insert, null, select, table
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from sync import protocol
from sync.server import refusals
from sync.server.errors import ServiceError
from sync.server.manifest_cache import ManifestCache
from sync.server.models import Attempt, Result
from sync.server.result_digest import body_digest
from sync.server.results import NewResult, NewResults, check_own_attempt, check_same_body, idempotency_conflict
from sync.server.store import JSONText

_RESULTS = Result.metadata.tables[Result.__tablename__]
_COLUMNS = (
    "id",
    "attempt_id",
    "idempotency_key",
    "body_sha256",
    "status",
    "error",
    "body",
    "marks",
    "received_at",
    "marked_at",
)
# The table for the batch INSERT, with the columns' own types only where a driver needs them (JSON, so each
# dialect binds it as JSON): every other value is handed over already as the column would store it. The times
# are converted once per batch by the real column's processor (`_stored_time`).
_INSERT = table(
    Result.__tablename__,
    *(column(name, _RESULTS.c[name].type if name in ("body", "marks") else None) for name in _COLUMNS),
)
# On SQLite every value above is already what the driver stores (text, the time in the column's format, JSON
# text), so the rows go straight to the driver: SQLAlchemy's per-row parameter processing was half the cost
# of inserting a batch.
_SQLITE_INSERT = str(insert(_INSERT).compile(dialect=sqlite.dialect()))

ReplyItem = dict[str, Any]
"""One item of the reply: `protocol.BatchItemReceipt` as plain data (it is serialised, never validated again)."""


@dataclass(frozen=True)
class Unreadable:
    """An envelope of a batch that is not a valid envelope: the key it was sent under, and its own refusal."""

    idempotency_key: str
    refusal: ServiceError


Entry = protocol.ResultEnvelope | Unreadable
"""One envelope of a batch as read: valid, or refused on its own."""


class _BatchShape(protocol.WireModel):
    """The batch without its envelopes' contents: what must hold for each envelope to get a reply of its own."""

    envelopes: list[Any] = Field(min_length=1, max_length=protocol.MAX_BATCH_ENVELOPES)


_KEY = re.compile(r"[0-9a-f-]{36}")


def read_batch(raw: bytes) -> list[Entry]:
    """The batch's envelopes from the request's bytes; raises RequestValidationError when the batch as a whole
    cannot be read (not JSON, not `{"envelopes": [...]}`, too many, an envelope whose key cannot be read).

    The common case, every envelope valid, is one pass of pydantic over the bytes: FastAPI would build the JSON as
    Python objects and then validate those, the largest cost of a batch outside the database work. Only when
    that fails is the JSON read again and each envelope validated alone, so that one bad envelope gets its own
    refusal (422, naming the field and the item) and the others are still stored. A lone surrogate ("\\ud800"),
    which pydantic's JSON reader refuses outright, reaches that slow path too.
    """
    containers = raw.count(b"[") + raw.count(b"{")
    if containers > MAX_CONTAINERS:
        raise _whole(
            [
                {
                    "type": "too_many_containers",
                    "loc": ("envelopes",),
                    "msg": f"the batch holds {containers:,} lists and objects, more than the {MAX_CONTAINERS:,} "
                    "a batch may hold; send fewer envelopes at a time",
                    "input": None,
                }
            ]
        )
    try:
        return list(protocol.ResultBatch.model_validate_json(raw).envelopes)
    except ValidationError as exc:
        first = exc.errors(include_url=False)
    if any(e["type"] != "json_invalid" and not _inside_an_envelope(e["loc"]) for e in first):
        raise _whole(first)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past reading
        raise _whole(first) from None
    try:
        shape = _BatchShape.model_validate(data)
    except ValidationError as exc:
        raise _whole(exc.errors(include_url=False)) from None
    return [_read_one(n, body) for n, body in enumerate(shape.envelopes)]


MAX_CONTAINERS = 200_000
"""The most lists and objects (counted as `[` and `{` bytes) a batch may hold. A genuine batch of 200 envelopes of
40 answers has about 16,000. Without a bound, 12.5 MB of `[]` cost pydantic 6 s and 1.6 GB to refuse: a refusal of
a missing field carries the whole envelope as Python objects. Brackets inside text count too, so a genuine batch
of bracket-filled essays may be refused whole; the uploader then sends its envelopes one by one."""


def _inside_an_envelope(loc: Sequence[object]) -> bool:
    return len(loc) >= 2 and loc[0] == "envelopes" and isinstance(loc[1], int)


def _whole(errors: Sequence[Any]) -> RequestValidationError:
    """The whole request refused, as FastAPI refuses a body it validated (422 invalid_request, each field named)."""
    return RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in errors])


def _read_one(n: int, body: Any) -> Entry:
    try:
        return protocol.ResultEnvelope.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    key = body.get("idempotency_key") if isinstance(body, dict) else None
    if not (isinstance(key, str) and _KEY.fullmatch(key)):
        # A reply is matched to its envelope by key: without a readable one, only the whole request can be refused.
        raise _whole([{**error, "loc": ("envelopes", n, *error["loc"])} for error in errors])
    named = [{**error, "loc": _naming_the_item(error["loc"], body)} for error in errors]
    message = (
        f"These results are not valid: {'; '.join(refusals.problems(named))}. Nothing of them was stored; "
        "the rest of the batch was."
    )
    return Unreadable(key, ServiceError(422, "invalid_request", message))


def _naming_the_item(loc: Sequence[object], body: Mapping[str, Any]) -> tuple[object, ...]:
    """`answers.3 (item mc-circles).value`: a problem in an answer also names the item it answers."""
    if len(loc) < 2 or loc[0] != "answers" or not isinstance(loc[1], int):
        return tuple(loc)
    answers = body.get("answers")
    answer = answers[loc[1]] if isinstance(answers, list) and loc[1] < len(answers) else None
    item_id = answer.get("item_id") if isinstance(answer, dict) else None
    if not isinstance(item_id, str) or len(item_id) > protocol.MAX_ID_CHARS:
        return tuple(loc)
    return ("answers", f"{loc[1]} (item {item_id})", *loc[2:])


@dataclass(frozen=True)
class _Held:
    """A result already in the table under a key of this batch."""

    id: str
    attempt_id: str
    status: str
    body: dict[str, Any]


def store_batch(
    session: Session,
    attempt: Attempt,
    envelopes: Sequence[Entry],
    *,
    now: datetime,
    manifests: ManifestCache | None = None,
) -> list[ReplyItem]:
    """Store each envelope as the single-envelope route would, in the caller's one transaction.

    A refused envelope (unreadable, 409 conflict or too late, 422 wrong attempt or not fitting the test) gets
    its own status and error and writes nothing, so it does not sink the others; an envelope repeated (in this
    batch or from before) is a duplicate. The new rows go in with one INSERT (executemany); a key stored
    meanwhile by another request makes it raise IntegrityError, which the route answers by trying the whole
    batch again.
    """
    keys = [e.idempotency_key for e in envelopes if not isinstance(e, Unreadable)]
    # One query for every key instead of one per envelope, and only the columns a receipt and a comparison need.
    found = session.execute(
        select(Result.idempotency_key, Result.id, Result.attempt_id, Result.status, Result.body).where(
            Result.idempotency_key.in_(keys)
        )
    )
    held = {
        key: _Held(id=id_, attempt_id=attempt_id, status=status, body=body)
        for key, id_, attempt_id, status, body in found
    }
    accepting = NewResults(session, attempt, now=now, manifests=manifests)
    stored: dict[str, NewResult] = {}
    items: list[ReplyItem] = []
    attempt_id = attempt.id
    for envelope in envelopes:
        key = envelope.idempotency_key
        if isinstance(envelope, Unreadable):
            items.append(_refused(key, envelope.refusal))
            continue
        try:
            check_own_attempt(attempt_id, envelope)
            made = stored.get(key)
            if made is not None:  # twice in this batch: compared by digest
                if made.body_sha256 != body_digest(envelope):
                    raise idempotency_conflict(envelope)
                items.append(_stored(key, made.id, made.status, duplicate=True))
                continue
            before = held.get(key)
            if before is not None:
                check_same_body(before, envelope)
                items.append(_stored(key, before.id, before.status, duplicate=True))
                continue
            new = accepting.accept(envelope)
        except ServiceError as exc:
            items.append(_refused(key, exc))
            continue
        stored[key] = new
        items.append(_stored(key, new.id, new.status, duplicate=False))
    insert_results(session, list(stored.values()), now=now)
    return items


def insert_results(
    session: Session, rows: Sequence[NewResult], *, now: datetime, through_driver: bool | None = None
) -> None:
    """INSERT the rows in one statement (executemany). `through_driver` (default: on SQLite) hands SQLite's
    driver the values as they are; otherwise SQLAlchemy binds them for the dialect (any other database)."""
    if not rows:
        return
    stored_now = _stored_time(session, now)
    connection = session.connection()
    if through_driver is None:
        through_driver = connection.dialect.name == "sqlite"
    if through_driver:
        connection.exec_driver_sql(
            _SQLITE_INSERT,
            [
                (
                    new.id,
                    new.attempt_id,
                    new.idempotency_key,
                    new.body_sha256,
                    new.status,
                    new.error,
                    new.body_json,
                    new.marks_json,  # None: SQL NULL when marking failed, as before
                    stored_now,
                    None if new.marked_at is None else stored_now,
                )
                for new in rows
            ],
        )
        return
    session.execute(
        insert(_INSERT),
        [
            {
                "id": new.id,
                "attempt_id": new.attempt_id,
                "idempotency_key": new.idempotency_key,
                "body_sha256": new.body_sha256,
                "status": new.status,
                "error": new.error,
                # JSON written by pydantic (once, in `accept`), which the column then stores as it is.
                "body": JSONText(new.body_json),
                # SQL NULL when marking failed, as before (None would be stored as the JSON text 'null').
                "marks": null() if new.marks_json is None else JSONText(new.marks_json),
                "received_at": stored_now,
                "marked_at": None if new.marked_at is None else stored_now,
            }
            for new in rows
        ],
    )


def _stored_time(session: Session, moment: datetime) -> Any:
    """`moment` as `results.received_at` binds it on this connection's dialect (all rows share it)."""
    dialect = session.get_bind().dialect
    process = _RESULTS.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
    return moment if process is None else process(moment)


def reply_json(items: list[ReplyItem]) -> bytes:
    """`protocol.ResultBatchReply(items=...)` as JSON, without building and validating 200 receipts again."""
    return pydantic_core.to_json({"items": items})


def _stored(key: str, result_id: str, status: str, *, duplicate: bool) -> ReplyItem:
    return {
        "idempotency_key": key,
        "status": 200,
        "receipt": {"result_id": result_id, "idempotency_key": key, "status": status, "duplicate": duplicate},
        "error": None,
    }


def _refused(key: str, exc: ServiceError) -> ReplyItem:
    return {
        "idempotency_key": key,
        "status": exc.status,
        "receipt": None,
        "error": exc.body(),
    }
