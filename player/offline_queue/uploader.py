"""The background uploader: drains the outbox to the server through sync.client, retrying until confirmed."""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol, runtime_checkable

import pydantic
import sqlite_utils

from player.offline_queue.outbox import Outbox, OutboxEntry
from sync.client import ClientError, Refused, ServerBusy, is_transient
from sync.protocol import (
    MAX_BATCH_ENVELOPES,
    BatchItemReceipt,
    Checkpoint,
    Heartbeat,
    HeartbeatReply,
    ResultEnvelope,
    ResultReceipt,
)

log = logging.getLogger(__name__)


class UploadClient(Protocol):
    """The part of sync.client.InvigilClient the uploader uses (tests may hand in a fake at this edge)."""

    def submit_result(self, attempt_id: str, token: str, envelope: ResultEnvelope) -> ResultReceipt: ...

    def put_checkpoint(self, attempt_id: str, token: str, checkpoint: Checkpoint) -> None: ...

    def heartbeat(self, attempt_id: str, token: str, beat: Heartbeat) -> HeartbeatReply: ...

    def close(self) -> None: ...


@runtime_checkable
class BatchUploadClient(UploadClient, Protocol):
    """A client that can also send several results of one attempt in one request (sync.client does).

    The envelopes go as the outbox holds them, (idempotency key, JSON text) each, without being parsed here.
    """

    def submit_result_bodies(
        self, attempt_id: str, token: str, bodies: Sequence[tuple[str, str]]
    ) -> list[BatchItemReceipt]: ...


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


@dataclass(frozen=True)
class UploadStatus:
    """What the UI shows: results still on this machine, those needing staff, and the last problem."""

    depth: int = 0
    needs_attention: int = 0
    last_error: str | None = None
    last_sent_at: datetime | None = None


@dataclass
class RoundReport:
    """What one drain round did (tests and logs)."""

    sent: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Flight:
    """One attempt's batch of results on its way (sent from the sender thread)."""

    group: list[OutboxEntry]
    server_url: str
    future: Future[list[BatchItemReceipt]]

    def outcome(self) -> list[BatchItemReceipt] | ClientError:
        """The receipts, or the ClientError the request ended with (waits for it)."""
        try:
            return self.future.result()
        except ClientError as exc:
            return exc


class Uploader(threading.Thread):
    """Sends outbox rows until the server confirms each one; runs while the app is open.

    A round claims up to `batch_size` due rows. The results among them go to the server grouped by attempt,
    one request per group (the batch route: stored in one server transaction, a receipt per envelope) and are
    marked sent here in one journal transaction; checkpoints, and results for a client or server without the
    batch route, go one request each. An envelope the server refused alone is kept for staff; the rest count.
    `drain_until_idle` (the thread's loop) sends each batch from a helper thread while this one claims the
    next round and records the last one's receipts; one request is in flight at a time.

    Transient failures (no connection, timeout, 408, 429, 5xx) put the row back with a backoff and end the
    round, so an outage costs one timeout per round, not one per row. A permanent refusal (any other 4xx, or a
    reply the client cannot read) keeps the row as 'needs_attention' for staff. The thread owns its own
    database connection: `open_db` is called inside the thread that first drains.
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
        heartbeat_every: float | None = None,
        machine_id: str | None = None,
        on_status: Callable[[UploadStatus], None] | None = None,
        on_heartbeat_reply: Callable[[str, HeartbeatReply], None] | None = None,
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
        self._heartbeat_every = heartbeat_every
        self._machine_id = machine_id
        self._on_status = on_status
        self._on_heartbeat_reply = on_heartbeat_reply
        self._db: sqlite_utils.Database | None = None
        self._outbox: Outbox | None = None
        self._clients: dict[str, UploadClient] = {}
        self._sender: ThreadPoolExecutor | None = None
        """Runs batch requests, so this thread can do the journal's work meanwhile (`drain_until_idle`)."""
        self._no_batch_route: set[str] = set()
        """Servers that answered the batch route with "no such route" (older servers): sent one by one."""
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._status = UploadStatus()
        self._last_heartbeat_at: datetime | None = None

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

    def status(self) -> UploadStatus:
        with self._lock:
            return self._status

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
                    self.heartbeat_if_due()
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
        outbox = self._ensure_outbox()
        outbox.reset_sending_to_pending()
        self._publish(outbox)

    def drain_until_idle(self) -> None:
        """Rounds until nothing is due now (or a transient failure makes a round stop early).

        While one attempt's batch of results is with the server, the next round is claimed, and once its reply
        is in, the next batch leaves before this one's outcome is written: the journal's share of a round (the
        claim and the "sent" marks, each a synced commit) overlaps the server's instead of adding to it. One
        request is in flight at a time, so a failure still ends the drain after one timeout; rows claimed for
        the next round are then released untried.
        """
        outbox = self._ensure_outbox()
        claimed = self._claim(outbox)
        flight: _Flight | None = None
        try:
            while True:
                launched: _Flight | None = None
                if flight is not None:
                    outcome = flight.outcome()
                    if isinstance(outcome, list) and not self._stopping.is_set():
                        # Receipts: the next batch leaves at once, and these are written while it travels.
                        launched = self._launch(outbox, claimed)
                    landed, flight = flight, launched
                    if not self._land(outbox, landed, outcome):
                        self._release(outbox, [] if launched else claimed, RoundReport())
                        return
                if self._stopping.is_set() or not claimed:
                    self._release(outbox, [] if launched else claimed, RoundReport())
                    return
                if flight is None:
                    flight = self._launch(outbox, claimed)
                if flight is None:
                    # Not one attempt's results for the batch route (checkpoints, several attempts, a single
                    # envelope, an older server): a plain round, then on as before.
                    report = RoundReport()
                    self._send_claimed(outbox, claimed, report)
                    self._publish(outbox)
                    if report.retried or report.released:
                        return
                claimed = self._claim(outbox)
        finally:
            if flight is not None:
                # Stopping, or a failure here, with a batch still on its way: its outcome is recorded, so no
                # row the server answered for is left 'sending'.
                self._land(outbox, flight, flight.outcome())

    def _land(self, outbox: Outbox, flight: _Flight, outcome: list[BatchItemReceipt] | ClientError) -> bool:
        """Record a batch's outcome; False means stop draining (it failed and will be retried later)."""
        report = RoundReport()
        untried: list[OutboxEntry] = []
        go_on = self._settle_results(outbox, flight.group, flight.server_url, outcome, untried, report)
        self._release(outbox, untried, report)
        self._publish(outbox)
        return go_on and not report.retried and not report.released

    def drain_once(self) -> RoundReport:
        """One round: claim up to batch_size due rows and send each; what tests drive directly."""
        outbox = self._ensure_outbox()
        report = RoundReport()
        self._send_claimed(outbox, self._claim(outbox), report)
        self._publish(outbox)
        return report

    def _claim(self, outbox: Outbox) -> list[OutboxEntry]:
        outbox.refresh_checkpoints()
        return outbox.claim_due(self._batch_size, self._now())

    def _send_claimed(self, outbox: Outbox, claimed: list[OutboxEntry], report: RoundReport) -> None:
        """Send a round's rows: each attempt's results in one request, checkpoints one each; stop at a failure."""
        unsent = list(claimed)
        while unsent and not self._stopping.is_set():
            head = unsent[0]
            if head.kind == "result":
                group: list[OutboxEntry] = []
                rest: list[OutboxEntry] = []
                for entry in unsent:
                    same = entry.kind == "result" and entry.attempt_id == head.attempt_id
                    (group if same and len(group) < MAX_BATCH_ENVELOPES else rest).append(entry)
                unsent = rest
                if not self._send_results(outbox, group, unsent, report):
                    break
            elif not self._send(outbox, unsent.pop(0), report):
                break
        self._release(outbox, unsent, report)

    def _release(self, outbox: Outbox, untried: list[OutboxEntry], report: RoundReport) -> None:
        outbox.release_many([entry.idempotency_key for entry in untried])
        report.released.extend(entry.idempotency_key for entry in untried)

    def _launch(self, outbox: Outbox, claimed: list[OutboxEntry]) -> _Flight | None:
        """Start sending `claimed` on the sender thread if it is one attempt's results for the batch route."""
        if len(claimed) < 2 or any(e.kind != "result" or e.attempt_id != claimed[0].attempt_id for e in claimed):
            return None
        target = self._batch_target(outbox, claimed)
        if target is None:
            return None
        client, server_url, token = target
        if self._sender is None:
            self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="invigil-uploader-send")
        bodies = [(entry.idempotency_key, entry.body) for entry in claimed]
        future = self._sender.submit(client.submit_result_bodies, claimed[0].attempt_id, token, bodies)
        # Let the sender thread take the interpreter now: otherwise it may wait for this thread's next pause
        # (up to the 5 ms switch interval) before the request leaves.
        time.sleep(0)
        return _Flight(group=claimed, server_url=server_url, future=future)

    def heartbeat_if_due(self) -> None:
        if self._heartbeat_every is None:
            return
        now = self._now()
        if (
            self._last_heartbeat_at is not None
            and (now - self._last_heartbeat_at).total_seconds() < self._heartbeat_every
        ):
            return
        self._last_heartbeat_at = now
        self.heartbeat_once()

    def heartbeat_once(self) -> None:
        """Tell the server, for each attempt open here or holding unsent results, where it is and the depth."""
        outbox = self._ensure_outbox()
        db = self._ensure_db()
        depth = outbox.depth()
        rows = list(
            db.query(
                "SELECT attempt_id, server_url, attempt_token, current_section_id, current_item_id, remaining_seconds "
                "FROM attempts WHERE state = 'open' OR attempt_id IN "
                "(SELECT attempt_id FROM outbox WHERE kind = 'result' AND state != 'sent')"
            )
        )
        for row in rows:
            beat = Heartbeat(
                section_id=row["current_section_id"],
                item_id=row["current_item_id"],
                remaining_seconds=row["remaining_seconds"],
                outbox_depth=depth,
                machine_id=self._machine_id,
            )
            try:
                reply = self._client(row["server_url"]).heartbeat(row["attempt_id"], row["attempt_token"], beat)
            except ClientError as exc:
                log.info("Heartbeat for %s not delivered: %s", row["attempt_id"], type(exc).__name__)
                continue
            if self._on_heartbeat_reply is not None:
                self._on_heartbeat_reply(row["attempt_id"], reply)

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
            self._outbox = None

    # ---- one row -----------------------------------------------------------------------------------

    def _send(self, outbox: Outbox, entry: OutboxEntry, report: RoundReport) -> bool:
        """Send one row and record the outcome; False means stop the round (the server is not answering)."""
        target = outbox.attempt_token(entry.attempt_id)
        if target is None:
            outbox.mark_needs_attention(entry.idempotency_key, f"attempt {entry.attempt_id} is not in the journal")
            report.refused.append(entry.idempotency_key)
            return True
        server_url, token = target
        try:
            if entry.kind == "result":
                envelope = ResultEnvelope.model_validate_json(entry.body)
                receipt = self._client(server_url).submit_result(entry.attempt_id, token, envelope)
                (report.duplicates if receipt.duplicate else report.sent).append(entry.idempotency_key)
                outbox.mark_sent(entry.idempotency_key)
            else:
                checkpoint = Checkpoint.model_validate_json(entry.body)
                self._client(server_url).put_checkpoint(entry.attempt_id, token, checkpoint)
                outbox.mark_sent(entry.idempotency_key, body=entry.body)
                report.sent.append(entry.idempotency_key)
        except pydantic.ValidationError as exc:
            self._refused(
                outbox, entry, f"this version cannot read the stored {entry.kind}: {exc.error_count()} problems"
            )
            report.refused.append(entry.idempotency_key)
            return True
        except ClientError as exc:
            if is_transient(exc):
                return self._retry(outbox, entry, report, exc)
            if isinstance(exc, Refused):
                self._refused(outbox, entry, str(exc))
                report.refused.append(entry.idempotency_key)
                return True
            # BadReply and the rest: often a captive portal or a proxy page on school Wi-Fi, which passes.
            # Retried at the backoff's pace (never dropped), and shown as the last error meanwhile.
            return self._retry(outbox, entry, report, exc)
        return self._sent()

    def _send_results(
        self, outbox: Outbox, group: list[OutboxEntry], unsent: list[OutboxEntry], report: RoundReport
    ) -> bool:
        """Send one attempt's claimed results in one request; False means stop the round.

        Rows not tried (the server stopped answering part-way through a one-by-one fallback) go back into
        `unsent`, which the round releases.
        """
        target = outbox.attempt_token(group[0].attempt_id)
        if target is None:
            return all(self._send(outbox, entry, report) for entry in group)
        batch = self._batch_target(outbox, group, target) if len(group) > 1 else None
        if batch is None:
            return self._send_one_by_one(outbox, group, unsent, report)
        client, server_url, token = batch
        outcome: list[BatchItemReceipt] | ClientError
        try:
            outcome = client.submit_result_bodies(
                group[0].attempt_id, token, [(entry.idempotency_key, entry.body) for entry in group]
            )
        except ClientError as exc:
            outcome = exc
        return self._settle_results(outbox, group, server_url, outcome, unsent, report)

    def _batch_target(
        self, outbox: Outbox, group: list[OutboxEntry], target: tuple[str, str] | None = None
    ) -> tuple[BatchUploadClient, str, str] | None:
        """(client, server address, token) for sending `group` through the batch route, or None if it cannot.

        `target` is the attempt's (server address, token) when the caller has already read it."""
        target = target or outbox.attempt_token(group[0].attempt_id)
        if target is None:
            return None
        server_url, token = target
        client = self._client(server_url)
        if server_url in self._no_batch_route or not isinstance(client, BatchUploadClient):
            return None
        return client, server_url, token

    def _settle_results(
        self,
        outbox: Outbox,
        group: list[OutboxEntry],
        server_url: str,
        outcome: list[BatchItemReceipt] | ClientError,
        unsent: list[OutboxEntry],
        report: RoundReport,
    ) -> bool:
        """Record what became of a batch request; False means stop the round.

        The stored JSON went as it is: `Journal.finish_section` committed it from a validated envelope, and the
        server validates it again. Should one not be a valid envelope (a journal written by some other
        version), the server refuses it alone; only if its key cannot be read does it refuse the whole request,
        and the fallback below finds which.
        """
        if isinstance(outcome, Refused):
            if outcome.error in ("no_such_route", "method_not_allowed"):
                log.info("Server %s has no batch route; sending results one by one", server_url)
                self._no_batch_route.add(server_url)
                return self._send_one_by_one(outbox, group, unsent, report)
            if outcome.error in ("invalid_request", "body_too_large"):
                # Nothing was stored. One by one, each envelope is read here first and sent alone (under the
                # single result's own, smaller body limit), so an unreadable one is kept for staff and the rest go.
                log.warning(
                    "Server %s could not read a batch of results (%s); sending them one by one", server_url, outcome
                )
                return self._send_one_by_one(outbox, group, unsent, report)
            for entry in group:  # the whole request was refused (e.g. the sign-in is no longer valid)
                self._refused(outbox, entry, str(outcome))
                report.refused.append(entry.idempotency_key)
            return True
        if isinstance(outcome, ClientError):
            # Transient, or a reply that could not be read: the server may or may not have stored them, so
            # every one is tried again (its key makes a repeat harmless).
            for entry in group:
                self._retry(outbox, entry, report, outcome)
            return False
        confirmed: list[str] = []
        for entry, item in zip(group, outcome, strict=True):
            if item.receipt is not None:
                (report.duplicates if item.receipt.duplicate else report.sent).append(entry.idempotency_key)
                confirmed.append(entry.idempotency_key)
            else:
                error = item.error.message if item.error else f"refused by the server (HTTP {item.status})"
                self._refused(outbox, entry, error)
                report.refused.append(entry.idempotency_key)
        outbox.mark_sent_many(confirmed)
        if confirmed:
            self._sent()
        return True

    def _send_one_by_one(
        self, outbox: Outbox, group: list[OutboxEntry], unsent: list[OutboxEntry], report: RoundReport
    ) -> bool:
        for n, entry in enumerate(group):
            if self._stopping.is_set():
                unsent[:0] = group[n:]
                return False
            if not self._send(outbox, entry, report):
                unsent[:0] = group[n + 1 :]
                return False
        return True

    def _retry(self, outbox: Outbox, entry: OutboxEntry, report: RoundReport, exc: ClientError) -> bool:
        wait = self._backoff.delay(entry.attempts + 1, self._rng)
        if isinstance(exc, ServerBusy) and exc.retry_after is not None:
            wait = max(wait, min(float(exc.retry_after), self._backoff.cap))
        outbox.mark_retry(entry.idempotency_key, str(exc), self._now() + timedelta(seconds=wait))
        report.retried.append(entry.idempotency_key)
        self._note_error(str(exc))
        log.info("Outbox %s %s: %s; next try in %.1f s", entry.kind, entry.idempotency_key, type(exc).__name__, wait)
        return False

    def _sent(self) -> bool:
        with self._lock:
            self._status = UploadStatus(
                depth=self._status.depth,
                needs_attention=self._status.needs_attention,
                last_error=None,
                last_sent_at=self._now(),
            )
        return True

    def _refused(self, outbox: Outbox, entry: OutboxEntry, error: str) -> None:
        if entry.kind == "checkpoint":
            # A checkpoint only speeds up resuming elsewhere (e.g. refused because the attempt finished).
            log.warning("Checkpoint of %s refused, not sent again: %s", entry.attempt_id, error)
            outbox.settle_refused_checkpoint(entry.idempotency_key, error)
            return
        outbox.mark_needs_attention(entry.idempotency_key, error)
        self._note_error(error)

    # ---- helpers ---------------------------------------------------------------------------------------

    def _client(self, server_url: str) -> UploadClient:
        client = self._clients.get(server_url)
        if client is None:
            client = self._clients[server_url] = self._connect(server_url)
        return client

    def _ensure_db(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = self._open_db()
        return self._db

    def _ensure_outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self._ensure_db(), now=self._now)
        return self._outbox

    def _seconds_to_wait(self) -> float:
        due = self._ensure_outbox().next_due_at()
        wait = self._idle_wait if due is None else (due - self._now()).total_seconds()
        if self._heartbeat_every is not None:
            wait = min(wait, self._heartbeat_every)
        return min(max(wait, 0.0), self._idle_wait)

    def _note_error(self, error: str) -> None:
        with self._lock:
            self._status = UploadStatus(
                depth=self._status.depth,
                needs_attention=self._status.needs_attention,
                last_error=error,
                last_sent_at=self._status.last_sent_at,
            )

    def _publish(self, outbox: Outbox) -> None:
        with self._lock:
            self._status = UploadStatus(
                depth=outbox.depth(),
                needs_attention=outbox.needs_attention_count(),
                last_error=self._status.last_error,
                last_sent_at=self._status.last_sent_at,
            )
            status = self._status
        if self._on_status is not None:
            self._on_status(status)
