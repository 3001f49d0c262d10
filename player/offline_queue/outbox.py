"""The outbox: result envelopes and progress checkpoints waiting for the server, with their delivery state."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import sqlite_utils

from sync.protocol import Checkpoint

log = logging.getLogger(__name__)

EntryKind = Literal["result", "checkpoint"]
EntryState = Literal["pending", "sending", "sent", "needs_attention"]

CHECKPOINT_KEY_PREFIX = "checkpoint:"
"""Checkpoint rows are keyed by attempt (one row each, overwritten); the server never sees this key."""


def checkpoint_key(attempt_id: str) -> str:
    return f"{CHECKPOINT_KEY_PREFIX}{attempt_id}"


# Checkpoint rows are written only by `queue_checkpoint`, always under `checkpoint_key`, so they all lie in the
# primary-key range 'checkpoint:' <= key < 'checkpoint;' (';' follows ':'): queries that want them read the few
# keys there instead of every pending row. A result's key is a UUID, which never starts with "checkpoint:"; the
# `kind` test stays in each query anyway. `+state` keeps SQLite on the key range rather than the state index.
#
# The claim: results first, then checkpoints; within each, rows due now (never tried, or reset at start-up) in
# the order they were queued, then retries in the order they fell due. The results half reads
# `outbox_due (state, next_try_at)` in its own order (rowid breaks ties), so a claim costs the rows it takes,
# not a sort of every pending row (which made a 10,000-row drain quadratic).
_CLAIM = """
UPDATE outbox SET state = 'sending' WHERE rowid IN (
    SELECT rowid FROM (
        SELECT * FROM (
            SELECT rowid, 0 AS checkpoint, next_try_at FROM outbox
            WHERE state = 'pending' AND kind = 'result'
            AND (next_try_at IS NULL OR next_try_at <= :now OR next_try_at > :horizon)
            ORDER BY next_try_at, rowid LIMIT :limit
        )
        UNION ALL
        SELECT * FROM (
            SELECT rowid, 1 AS checkpoint, next_try_at FROM outbox
            WHERE idempotency_key >= 'checkpoint:' AND idempotency_key < 'checkpoint;' AND kind = 'checkpoint'
            AND +state = 'pending' AND (next_try_at IS NULL OR next_try_at <= :now OR next_try_at > :horizon)
            ORDER BY next_try_at, rowid LIMIT :limit
        )
    )
    ORDER BY checkpoint, next_try_at, rowid LIMIT :limit
)
RETURNING rowid, idempotency_key, attempt_id, kind, body, state, attempts, next_try_at, last_error, created_at
"""


@dataclass(frozen=True)
class OutboxEntry:
    idempotency_key: str
    attempt_id: str
    kind: EntryKind
    body: str
    """The JSON text exactly as committed: a result is re-sent byte for byte, so the server's digest matches."""
    state: EntryState
    attempts: int
    """Failed sends so far (drives the backoff)."""
    next_try_at: datetime | None
    last_error: str | None
    created_at: datetime

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    # A fixed width keeps text order equal to time order, so "due" is a plain string comparison in SQL.
    if moment.tzinfo is None:
        raise ValueError(f"outbox times must carry a time zone, got naive {moment.isoformat()}")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class JournalProgress(Protocol):
    """What the outbox asks the journal (`Journal`) about progress; it never reads the journal's tables itself."""

    def latest_checkpoints(self) -> Mapping[str, Checkpoint]: ...

    def finished_attempt_ids(self) -> Collection[str]: ...


class Outbox:
    """Delivery state of the outbox rows. Each thread needs its own Outbox over its own connection.

    States: pending -> (claim_due) sending -> sent | pending (retry later) | needs_attention (refused).
    A row never leaves the table until the server confirmed it: 'sent' rows stay (the finished screen and
    staff read them) until `purge_sent` removes old ones.

    Checkpoints are coalesced: one row per attempt (key `checkpoint:<attempt_id>`), overwritten with the newest
    body; `refresh_checkpoints` copies each open attempt's latest checkpoint, as the journal reports it, into it,
    so the journal stays the single place where progress is written and only the newest checkpoint ever travels.
    The journal hands result envelopes over through `queue_result`: this class is the only writer of the table.
    """

    def __init__(self, db: sqlite_utils.Database, *, now: Callable[[], datetime] = _utc_now) -> None:
        self._db = db
        self._now = now

    # ---- start-up and claiming --------------------------------------------------------------------

    def reset_sending_to_pending(self) -> int:
        """At start: rows caught mid-send by a crash go back to pending, and every pending row is due now."""
        with self._write_transaction():
            reset = self._db.execute(
                "UPDATE outbox SET state = 'pending', next_try_at = NULL WHERE state = 'sending'"
            ).rowcount
            # Backoff deadlines from a previous run are stale (and the wall clock may have moved): drain now.
            self._db.execute("UPDATE outbox SET next_try_at = NULL WHERE state = 'pending'")
        if reset:
            log.info("Outbox: %d send(s) interrupted by the last shutdown will be tried again", reset)
        return int(reset)

    def claim_due(
        self, limit: int, now: datetime | None = None, *, horizon_seconds: float = 3600.0
    ) -> list[OutboxEntry]:
        """Move up to `limit` due pending rows to 'sending' and return them: results before checkpoints, rows due
        now in the order they were queued, then retries by the time they fell due.

        One statement (UPDATE ... RETURNING). A row whose next_try_at lies more than `horizon_seconds` ahead
        counts as due: the backoff never schedules that far, so the wall clock must have been set back.
        """
        if limit <= 0:
            return []
        moment = now or self._now()
        horizon = datetime.fromtimestamp(moment.timestamp() + horizon_seconds, UTC)
        with self._write_transaction():
            cursor = self._db.execute(_CLAIM, {"now": _stamp(moment), "horizon": _stamp(horizon), "limit": int(limit)})
            columns = [d[0] for d in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        # RETURNING gives rows in no promised order: put them back in the order they were chosen in.
        rows.sort(key=lambda r: (r["kind"] != "result", r["next_try_at"] or "", r["rowid"]))
        return [_entry(row) for row in rows]

    def next_due_at(self) -> datetime | None:
        """When the earliest pending row falls due (now, if one already is); None when nothing is pending."""
        row = self._db.execute(
            "SELECT COUNT(*), MIN(COALESCE(next_try_at, '')) FROM outbox WHERE state = 'pending'"
        ).fetchone()
        if not row[0]:
            return None
        return self._now() if row[1] == "" else datetime.fromisoformat(row[1])

    # ---- outcomes ---------------------------------------------------------------------------------

    def mark_sent(self, key: str, *, body: str | None = None) -> bool:
        """The server confirmed the row. With `body`: only if the row still holds that body (a checkpoint
        overwritten while it was in flight goes back to pending so the newer one is sent too)."""
        with self._write_transaction():
            if body is None:
                changed = self._db.execute(
                    "UPDATE outbox SET state = 'sent', next_try_at = NULL, last_error = NULL "
                    "WHERE idempotency_key = ? AND state = 'sending'",
                    [key],
                ).rowcount
            else:
                changed = self._db.execute(
                    "UPDATE outbox SET state = CASE WHEN body = ? THEN 'sent' ELSE 'pending' END, "
                    "next_try_at = NULL, last_error = NULL WHERE idempotency_key = ? AND state = 'sending'",
                    [body, key],
                ).rowcount
        return bool(changed)

    def mark_sent_many(self, keys: list[str]) -> int:
        """The server confirmed these result rows (a batch reply): all marked sent in one transaction, so a
        batch costs one disk sync here, not one per row. Returns how many rows changed."""
        if not keys:
            return 0
        with self._write_transaction():
            changed = self._db.execute(
                "UPDATE outbox SET state = 'sent', next_try_at = NULL, last_error = NULL "
                "WHERE state = 'sending' AND idempotency_key IN (SELECT value FROM json_each(?))",
                [json.dumps(keys)],
            ).rowcount
        return int(changed)

    def mark_retry(self, key: str, error: str, next_try_at: datetime) -> bool:
        """A transient failure: back to pending, not before next_try_at; counts towards the backoff."""
        with self._write_transaction():
            changed = self._db.execute(
                "UPDATE outbox SET state = 'pending', attempts = attempts + 1, last_error = ?, next_try_at = ? "
                "WHERE idempotency_key = ? AND state = 'sending'",
                [error, _stamp(next_try_at), key],
            ).rowcount
        return bool(changed)

    def release_many(self, keys: list[str]) -> int:
        """Rows not tried after all (the round stopped early; up to a batch): back to pending, due now, no attempt
        counted, in one statement."""
        if not keys:
            return 0
        with self._write_transaction():
            changed = self._db.execute(
                "UPDATE outbox SET state = 'pending' "
                "WHERE state = 'sending' AND idempotency_key IN (SELECT value FROM json_each(?))",
                [json.dumps(keys)],
            ).rowcount
        return int(changed)

    def mark_needs_attention(self, key: str, error: str) -> bool:
        """The server refused it for good: kept, never retried by itself, listed for staff."""
        with self._write_transaction():
            changed = self._db.execute(
                "UPDATE outbox SET state = 'needs_attention', attempts = attempts + 1, last_error = ?, "
                "next_try_at = NULL WHERE idempotency_key = ? AND state = 'sending'",
                [error, key],
            ).rowcount
        if changed:
            log.warning("Outbox: %s was refused by the server and needs attention: %s", key, error)
        return bool(changed)

    def retry_needs_attention(self, key: str | None = None) -> int:
        """Staff asked to try again (one row, or all): refused rows go back to pending, due now."""
        with self._write_transaction():
            if key is None:
                changed = self._db.execute(
                    "UPDATE outbox SET state = 'pending', next_try_at = NULL WHERE state = 'needs_attention'"
                ).rowcount
            else:
                changed = self._db.execute(
                    "UPDATE outbox SET state = 'pending', next_try_at = NULL "
                    "WHERE idempotency_key = ? AND state = 'needs_attention'",
                    [key],
                ).rowcount
        return int(changed)

    def settle_refused_checkpoint(self, key: str, error: str) -> bool:
        """A checkpoint the server refused (e.g. the attempt finished there): kept as done, with its body and the
        reason, so the same checkpoint is not queued and sent again at once (a deleted row was re-queued by the
        next `refresh_checkpoints` and refused again, round after round); a newer one still goes. Results are
        never settled this way."""
        with self._write_transaction():
            changed = self._db.execute(
                "UPDATE outbox SET state = 'sent', next_try_at = NULL, last_error = ? "
                "WHERE idempotency_key = ? AND kind = 'checkpoint'",
                [error, key],
            ).rowcount
        return bool(changed)

    def purge_sent(self, older_than: datetime) -> int:
        """Delete rows the server confirmed that were created before `older_than` (housekeeping)."""
        with self._write_transaction():
            return int(
                self._db.execute(
                    "DELETE FROM outbox WHERE state = 'sent' AND created_at < ?", [_stamp(older_than)]
                ).rowcount
            )

    # ---- queueing ---------------------------------------------------------------------------------

    def queue_result(self, attempt_id: str, key: str, body: str, created_at: datetime) -> bool:
        """Queue a result envelope's JSON text as pending; False (nothing written) if `key` is already held.

        `Journal.finish_section` calls this inside its own transaction (a savepoint here), so the envelope and
        the section's end are committed together: both or neither."""
        with self._write_transaction():
            added = self._db.execute(
                "INSERT INTO outbox (idempotency_key, attempt_id, kind, body, state, attempts, created_at) "
                "VALUES (?, ?, 'result', ?, 'pending', 0, ?) ON CONFLICT (idempotency_key) DO NOTHING",
                [key, attempt_id, body, _stamp(created_at)],
            ).rowcount
        return bool(added)

    # ---- checkpoints ------------------------------------------------------------------------------

    def queue_checkpoint(self, attempt_id: str, checkpoint: Checkpoint) -> bool:
        """Make `checkpoint` the one queued for its attempt, unless the same or a newer one is already there."""
        body = checkpoint.model_dump_json()
        key = checkpoint_key(attempt_id)
        with self._write_transaction():
            rows = list(self._db.query("SELECT body FROM outbox WHERE idempotency_key = ?", [key]))
            if rows:
                held = Checkpoint.model_validate_json(rows[0]["body"])
                if rows[0]["body"] == body or held.taken_at > checkpoint.taken_at:
                    return False
            # A row being sent keeps 'sending'; mark_sent(body=old) then sees the new body and re-queues it.
            self._db.execute(
                "INSERT INTO outbox (idempotency_key, attempt_id, kind, body, state, attempts, created_at) "
                "VALUES (?, ?, 'checkpoint', ?, 'pending', 0, ?) "
                "ON CONFLICT (idempotency_key) DO UPDATE SET body = excluded.body, attempts = 0, "
                "last_error = NULL, next_try_at = NULL, created_at = excluded.created_at, "
                "state = CASE WHEN state = 'sending' THEN 'sending' ELSE 'pending' END",
                [key, attempt_id, body, _stamp(self._now())],
            )
        return True

    def refresh_checkpoints(self, journal: JournalProgress) -> int:
        """Queue each open attempt's newest checkpoint, as the journal reports it; drop unsent ones of attempts
        the journal says are finished (the server refuses their progress, and their results carry everything)."""
        queued = sum(self.queue_checkpoint(attempt_id, cp) for attempt_id, cp in journal.latest_checkpoints().items())
        finished = journal.finished_attempt_ids()
        if finished:
            with self._write_transaction():
                self._db.execute(
                    "DELETE FROM outbox WHERE idempotency_key >= 'checkpoint:' AND idempotency_key < 'checkpoint;' "
                    "AND kind = 'checkpoint' AND +state IN ('pending', 'needs_attention') "
                    "AND attempt_id IN (SELECT value FROM json_each(?))",
                    [json.dumps(sorted(finished))],
                )
        return queued

    # ---- reading ----------------------------------------------------------------------------------

    def depth(self) -> int:
        """Result envelopes on this machine the server has not confirmed (what heartbeats and staff see)."""
        # Every unsent row, counted in the state index alone, less the checkpoints among them (a few keys): the
        # uploader asks after every round, and looking up each pending row's kind made that cost a scan.
        count: int = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending', 'needs_attention')) - "
            "(SELECT COUNT(*) FROM outbox WHERE idempotency_key >= 'checkpoint:' AND idempotency_key < 'checkpoint;' "
            "AND kind = 'checkpoint' AND +state IN ('pending', 'sending', 'needs_attention'))"
        ).fetchone()[0]
        return count

    def needs_attention_count(self) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'needs_attention'").fetchone()[0]
        return count

    def unsent_results(self, attempt_id: str) -> int:
        count: int = self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'result' AND state != 'sent' AND attempt_id = ?", [attempt_id]
        ).fetchone()[0]
        return count

    def needs_attention(self) -> list[OutboxEntry]:
        return self.entries(state="needs_attention")

    def entries(
        self, *, state: EntryState | None = None, kind: EntryKind | None = None, attempt_id: str | None = None
    ) -> list[OutboxEntry]:
        rows = self._db.query(
            "SELECT * FROM outbox WHERE (? IS NULL OR state = ?) AND (? IS NULL OR kind = ?) "
            "AND (? IS NULL OR attempt_id = ?) ORDER BY created_at, rowid",
            [state, state, kind, kind, attempt_id, attempt_id],
        )
        return [_entry(row) for row in rows]

    def entry(self, key: str) -> OutboxEntry | None:
        rows = list(self._db.query("SELECT * FROM outbox WHERE idempotency_key = ?", [key]))
        return _entry(rows[0]) if rows else None

    # ---- helpers ----------------------------------------------------------------------------------

    @contextmanager
    def _write_transaction(self) -> Iterator[None]:
        with self._db.atomic():
            # As in the journal: take the write lock before any read, so a concurrent writer on another
            # connection makes this wait (busy_timeout) instead of failing with "database is locked".
            self._db.execute("UPDATE _migrations SET name = name WHERE 0")
            yield


def _entry(row: Mapping[str, Any]) -> OutboxEntry:
    return OutboxEntry(
        idempotency_key=row["idempotency_key"],
        attempt_id=row["attempt_id"],
        kind=row["kind"],
        body=row["body"],
        state=row["state"],
        attempts=row["attempts"],
        next_try_at=datetime.fromisoformat(row["next_try_at"]) if row["next_try_at"] else None,
        last_error=row["last_error"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )
