"""The background uploader: drains the outbox to the server through sync.client, retrying until confirmed."""

from __future__ import annotations

import functools
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import pydantic
import sqlite_utils

from player.offline_queue.journal import Journal
from player.offline_queue.outbox import Outbox, OutboxEntry
from sync.client import ClientError, Refused, ServerBusy
from sync.protocol import MAX_BATCH_ENVELOPES, BatchItemReceipt, Checkpoint

log = logging.getLogger(__name__)


class UploadClient(Protocol):
    """The part of sync.client.InvigilClient the uploader uses (tests may hand in a fake at this edge).

    Results go as the outbox holds them, (idempotency key, JSON text) each, without being parsed here.
    """

    def submit_result_bodies(
        self, attempt_id: str, token: str, bodies: Sequence[tuple[str, str]]
    ) -> list[BatchItemReceipt]: ...

    def put_checkpoint(self, attempt_id: str, token: str, checkpoint: Checkpoint) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with a cap; "full" jitter picks uniformly in [0, ceiling] so machines spread out."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 60.0
    jitter: Literal["full", "none"] = "full"

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1 or self.cap < self.base:
            raise ValueError(f"backoff needs base > 0, factor >= 1 and cap >= base, got {self}")

    def ceiling(self, failures: int) -> float:
        """The longest wait after `failures` failures in a row (1 = the first failure)."""
        exponent = max(0, failures - 1)
        # Compared in logarithms: factor ** exponent overflows a float after enough failures (days offline).
        if self.factor > 1 and exponent * math.log(self.factor) >= math.log(self.cap / self.base):
            return self.cap
        return float(min(self.cap, self.base * self.factor**exponent))

    def delay(self, failures: int, rng: random.Random) -> float:
        top = self.ceiling(failures)
        return rng.uniform(0.0, top) if self.jitter == "full" else top


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Unsendable:
    """Why a request was never sent: its attempt is not in the journal, or its stored checkpoint is unreadable."""

    reason: str


Outcome = list[BatchItemReceipt] | None | ClientError | _Unsendable
"""What became of a request: a batch's receipts, a stored checkpoint (None), the error it ended with, or why it
never left."""


@dataclass(frozen=True)
class _Flight:
    """One request on its way from the sender thread: an attempt's batch of results, or one checkpoint."""

    rows: list[OutboxEntry]
    future: Future[list[BatchItemReceipt] | None] | _Unsendable

    def outcome(self) -> Outcome:
        """The reply, or the ClientError the request ended with (waits for it)."""
        if isinstance(self.future, _Unsendable):
            return self.future
        try:
            return self.future.result()
        except ClientError as exc:
            return exc


def _requests(claimed: list[OutboxEntry]) -> list[list[OutboxEntry]]:
    """A round's rows as requests: each attempt's results in batches (a single one is a batch of one), in the
    order claimed, then each checkpoint alone."""
    batches: dict[str, list[list[OutboxEntry]]] = {}
    checkpoints: list[list[OutboxEntry]] = []
    for entry in claimed:
        if entry.kind != "result":
            checkpoints.append([entry])
            continue
        chunks = batches.setdefault(entry.attempt_id, [[]])
        if len(chunks[-1]) == MAX_BATCH_ENVELOPES:
            chunks.append([])
        chunks[-1].append(entry)
    return [chunk for chunks in batches.values() for chunk in chunks] + checkpoints


class Uploader(threading.Thread):
    """Sends outbox rows until the server confirms each one; runs while the app is open.

    One send path. A round claims up to `batch_size` due rows; each attempt's results among them go in one request
    to the batch route (stored in one server transaction, a receipt per envelope; a single result is a batch of
    one), each checkpoint in a request of its own. Requests leave from a helper thread, one in flight at a time,
    while this thread records the last reply and claims the next round. An envelope the server refused alone is
    kept for staff; a batch refused whole as unreadable (422) or too large (413) goes again as batches of one, so
    only the row at fault is kept.

    Transient failures (no connection, timeout, 408, 429, 5xx) put the rows back with a backoff and end the drain,
    so an outage costs one timeout per drain, not one per row. A permanent refusal (any other 4xx) keeps a result
    as 'needs_attention' for staff. The thread owns its own database connection: `open_db` is called inside the
    thread that first drains.
    """

    def __init__(
        self,
        open_db: Callable[[], sqlite_utils.Database],
        connect: Callable[[str], UploadClient],
        *,
        now: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
        backoff: Backoff | None = None,
        batch_size: int = MAX_BATCH_ENVELOPES,
        idle_wait: float = 30.0,
    ) -> None:
        super().__init__(name="invigil-uploader", daemon=True)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._open_db = open_db
        self._connect = connect
        self._now = now
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._backoff = backoff or Backoff()
        self._batch_size = batch_size
        self._idle_wait = idle_wait
        self._db: sqlite_utils.Database | None = None
        self._stores: tuple[Outbox, Journal] | None = None
        """Both over that connection; the journal says where each attempt's rows go and what progress to send."""
        self._clients: dict[str, UploadClient] = {}
        self._sender: ThreadPoolExecutor | None = None
        """Sends the requests, so this thread can do the journal's work meanwhile."""
        self._wake = threading.Event()
        self._stopping = threading.Event()

    # ---- control (any thread) ---------------------------------------------------------------------

    def wake(self) -> None:
        """Something new is in the outbox (or the network is back): drain now instead of after the wait."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Finish the current request (bounded by the client timeout), then end the thread."""
        self._stopping.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)

    # ---- the loop -----------------------------------------------------------------------------------

    def run(self) -> None:
        started = False
        try:
            while not self._stopping.is_set():
                wait = self._idle_wait
                try:
                    if not started:
                        self.start_up()
                        started = True
                    self.drain_until_idle()
                    wait = self._seconds_to_wait()
                except Exception:
                    # The loop must outlive any one bad round (a locked file, a bug in one row): log and go on.
                    log.exception("Uploader round failed; trying again later")
                    self._recover_after_failed_round()
                self._wake.wait(wait)
                self._wake.clear()
        finally:
            self.close()

    def start_up(self) -> None:
        """Interrupted sends go back to pending and everything pending is due: the start-up drain."""
        self._ensure_outbox().reset_sending_to_pending()

    def drain_until_idle(self) -> None:
        """Rounds until nothing is due now, or a transient failure (or `stop`) ends the drain: the thread's loop.

        The next round is claimed while a request is with the server, and once its reply is in, the next request
        leaves before this one's outcome is written: the journal's share (the claim and the "sent" marks, each a
        synced commit) overlaps the server's instead of adding to it.
        """
        outbox = self._ensure_outbox()
        waiting = _requests(self._claim(outbox))
        flight: _Flight | None = None
        try:
            while True:
                if flight is None:
                    if self._stopping.is_set() or not waiting:
                        return
                    flight = self._launch(outbox, waiting.pop(0))
                if not waiting and not self._stopping.is_set():
                    waiting = _requests(self._claim(outbox))
                landed, outcome, flight = flight, flight.outcome(), None
                if isinstance(outcome, list) and waiting and not self._stopping.is_set():
                    # Receipts: the next request leaves at once, and these are written while it travels.
                    flight = self._launch(outbox, waiting.pop(0))
                if not self._land(outbox, landed, outcome, waiting):
                    return
        finally:
            if flight is not None:
                # Stopping, or a failure here, with a request on its way: its outcome is recorded, so no row the
                # server answered for is left 'sending'.
                self._land(outbox, flight, flight.outcome(), waiting)
            # Rows claimed but never sent (the drain stopped early): back to pending, due now, no attempt counted.
            outbox.release_many([entry.idempotency_key for rows in waiting for entry in rows])

    def _claim(self, outbox: Outbox) -> list[OutboxEntry]:
        outbox.refresh_checkpoints(self._ensure_stores()[1])
        return outbox.claim_due(self._batch_size, self._now())

    def _launch(self, outbox: Outbox, rows: list[OutboxEntry]) -> _Flight:
        """Start sending one request's rows on the sender thread."""
        head = rows[0]
        target = self._ensure_stores()[1].delivery_target(head.attempt_id)
        if target is None:
            return _Flight(rows, _Unsendable(f"attempt {head.attempt_id} is not in the journal"))
        server_url, token = target
        client = self._client(server_url)
        send: Callable[[], list[BatchItemReceipt] | None]
        if head.kind == "result":
            # The stored JSON goes as it is: `Journal.finish_section` committed it from a validated envelope, and
            # the server validates it again (an invalid one is refused alone in its reply).
            bodies = [(entry.idempotency_key, entry.body) for entry in rows]
            send = functools.partial(client.submit_result_bodies, head.attempt_id, token, bodies)
        else:
            try:
                checkpoint = Checkpoint.model_validate_json(head.body)
            except pydantic.ValidationError as exc:
                reason = f"this version cannot read the stored checkpoint: {exc.error_count()} problems"
                return _Flight(rows, _Unsendable(reason))
            send = functools.partial(client.put_checkpoint, head.attempt_id, token, checkpoint)
        if self._sender is None:
            self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="invigil-uploader-send")
        future = self._sender.submit(send)
        # Let the sender thread take the interpreter now: otherwise it may wait for this thread's next pause
        # (up to the 5 ms switch interval) before the request leaves.
        time.sleep(0)
        return _Flight(rows, future)

    def _land(self, outbox: Outbox, flight: _Flight, outcome: Outcome, waiting: list[list[OutboxEntry]]) -> bool:
        """Record what became of a request; False means stop draining (it failed and will be retried later)."""
        rows = flight.rows
        if isinstance(outcome, Refused) and len(rows) > 1 and outcome.error in ("invalid_request", "body_too_large"):
            # Nothing was stored: each goes again as a batch of one, so only an unreadable (or too large)
            # envelope is kept for staff and the rest go.
            log.warning("Server could not read a batch of %d results (%s); sending them one by one", len(rows), outcome)
            waiting[:0] = [[entry] for entry in rows]
            return True
        if isinstance(outcome, _Unsendable | Refused):
            for entry in rows:  # e.g. the sign-in is no longer valid
                self._refused(outbox, entry, outcome.reason if isinstance(outcome, _Unsendable) else str(outcome))
            return True
        if isinstance(outcome, ClientError):
            # Transient, or a reply that could not be read (often a captive portal or a proxy page on school
            # Wi-Fi): the server may or may not have stored them, so each is tried again at the backoff's pace
            # (its key makes a repeat harmless); the error stays on each row for the console to show.
            for entry in rows:
                self._retry(outbox, entry, outcome)
            return False
        if outcome is None:  # a checkpoint, stored
            outbox.mark_sent(rows[0].idempotency_key, body=rows[0].body)
            return True
        confirmed: list[str] = []
        for entry, item in zip(rows, outcome, strict=True):
            if item.receipt is not None:
                confirmed.append(entry.idempotency_key)  # stored now, or already (a repeat): sent either way
            else:
                self._refused(outbox, entry, item.error.message if item.error else f"refused (HTTP {item.status})")
        outbox.mark_sent_many(confirmed)
        return True

    def _recover_after_failed_round(self) -> None:
        # Only this thread claims rows, so any row still 'sending' was stranded by the failed round.
        try:
            self._ensure_outbox().reset_sending_to_pending()
        except Exception:
            log.exception("Uploader could not reset its claimed rows; they will be retried at the next start")

    def close(self) -> None:
        if self._sender is not None:
            self._sender.shutdown(wait=True)
            self._sender = None
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        if self._db is not None:
            self._db.close()
            self._db = None
            self._stores = None

    # ---- one row -----------------------------------------------------------------------------------

    def _retry(self, outbox: Outbox, entry: OutboxEntry, exc: ClientError) -> None:
        wait = self._backoff.delay(entry.attempts + 1, self._rng)
        if isinstance(exc, ServerBusy) and exc.retry_after is not None:
            wait = max(wait, min(float(exc.retry_after), self._backoff.cap))
        outbox.mark_retry(entry.idempotency_key, str(exc), self._now() + timedelta(seconds=wait))
        log.info("Outbox %s %s: %s; next try in %.1f s", entry.kind, entry.idempotency_key, type(exc).__name__, wait)

    def _refused(self, outbox: Outbox, entry: OutboxEntry, error: str) -> None:
        if entry.kind == "checkpoint":
            # A checkpoint only speeds up resuming elsewhere (e.g. refused because the attempt finished).
            log.warning("Checkpoint of %s refused, not sent again: %s", entry.attempt_id, error)
            outbox.settle_refused_checkpoint(entry.idempotency_key, error)
            return
        outbox.mark_needs_attention(entry.idempotency_key, error)

    # ---- helpers ---------------------------------------------------------------------------------------

    def _client(self, server_url: str) -> UploadClient:
        client = self._clients.get(server_url)
        if client is None:
            client = self._clients[server_url] = self._connect(server_url)
        return client

    def _ensure_outbox(self) -> Outbox:
        return self._ensure_stores()[0]

    def _ensure_stores(self) -> tuple[Outbox, Journal]:
        if self._stores is None:
            if self._db is None:
                self._db = self._open_db()
            self._stores = (Outbox(self._db, now=self._now), Journal(self._db, now=self._now))
        return self._stores

    def _seconds_to_wait(self) -> float:
        due = self._ensure_outbox().next_due_at()
        wait = self._idle_wait if due is None else (due - self._now()).total_seconds()
        return min(max(wait, 0.0), self._idle_wait)
