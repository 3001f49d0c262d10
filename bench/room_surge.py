"""Room surge: simulated players heartbeat and checkpoint every few seconds, then all upload results in a window."""

from __future__ import annotations

import heapq
import random
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench.common import Figure, Sizes, percentile
from bench.result_code import DEMO_ANSWERS
from sync.client import ClientError, InvigilClient, client_for
from sync.protocol import AnswerRecord, Checkpoint, Heartbeat, LoginResponse, ResultEnvelope

WORKERS = 48
# After the timetable ends: how long the last requests may take before the rest are counted as failed (a
# server that stops answering must not hang the bench for the queue times the client timeout).
DRAIN_SECONDS = 30.0
LOGIN_WORKERS = 8


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latency_ms: dict[str, list[float]] = field(
        default_factory=lambda: {"heartbeat": [], "checkpoint": [], "result": []}
    )
    errors: list[str] = field(default_factory=list)
    max_lag_ms: float = 0.0

    def record(self, kind: str, ms: float, lag_ms: float) -> None:
        with self.lock:
            self.latency_ms[kind].append(ms)
            self.max_lag_ms = max(self.max_lag_ms, lag_ms)

    def fail(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


class Clients:
    """One InvigilClient per worker thread (a requests session is not shared between threads)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._local = threading.local()
        self._all: list[InvigilClient] = []
        self._lock = threading.Lock()

    def get(self) -> InvigilClient:
        client: InvigilClient | None = getattr(self._local, "client", None)
        if client is None:
            # No client-side retries (the client retries only media downloads, which the surge does not make): the
            # figure counts what the server did with each first try.
            client = client_for(self._url, machine_id=None, timeout=5.0, ca_bundle=None)
            self._local.client = client
            with self._lock:
                self._all.append(client)
        return client

    def close(self) -> None:
        for client in self._all:
            client.close()


def final_envelope(login: LoginResponse) -> ResultEnvelope:
    now = datetime.now(UTC)
    return ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=login.attempt_id,
        section_ids=[s.id for s in login.assessment.sections],
        answers=[AnswerRecord(item_id=item, value=value, answered_at=now) for item, value in DEMO_ANSWERS.items()],
        finished_at=now,
        final=True,
    )


def send(clients: Clients, tally: Tally, login: LoginResponse, kind: str, due: float) -> None:
    client = clients.get()
    started = time.monotonic()
    try:
        if kind == "heartbeat":
            client.heartbeat(login.attempt_id, login.attempt_token, Heartbeat(section_id="mc", item_id="mc-circles"))
        elif kind == "checkpoint":
            beat = Checkpoint(section_id="mc", item_id="mc-circles", remaining_seconds=1200, taken_at=datetime.now(UTC))
            client.put_checkpoint(login.attempt_id, login.attempt_token, beat)
        else:
            client.submit_result(login.attempt_id, login.attempt_token, final_envelope(login))
    except ClientError as exc:
        tally.fail(f"{kind}: {type(exc).__name__}: {exc}")
        return
    tally.record(kind, (time.monotonic() - started) * 1000, (started - due) * 1000)


def log_in_all(url: str, codes: list[str]) -> list[LoginResponse]:
    def one(pair: tuple[int, str]) -> LoginResponse:
        n, code = pair
        with client_for(url, machine_id=f"surge-pc-{n:03d}", timeout=30.0, ca_bundle=None) as client:
            return client.login(code)

    with ThreadPoolExecutor(LOGIN_WORKERS) as pool:
        return list(pool.map(one, enumerate(codes)))


def schedule(count: int, sizes: Sizes, rng: random.Random) -> list[tuple[float, int, str]]:
    """(seconds from start, player, kind): heartbeats+checkpoints every period until that player's upload."""
    events: list[tuple[float, int, str]] = []
    period = sizes.surge_heartbeat_seconds
    for player in range(count):
        upload_at = sizes.surge_warmup_seconds + rng.uniform(0, sizes.surge_upload_window_seconds)
        tick = rng.uniform(0, period)
        while tick < upload_at:
            events += [(tick, player, "heartbeat"), (tick + 0.001, player, "checkpoint")]
            tick += period
        events.append((upload_at, player, "result"))
    heapq.heapify(events)
    return [heapq.heappop(events) for _ in range(len(events))]


def measure(sizes: Sizes, *, server_url: str, codes: list[str]) -> list[Figure]:
    players = sizes.surge_players
    if len(codes) < players:
        raise ValueError(f"the room surge needs {players} access codes, got {len(codes)}")
    logins = log_in_all(server_url, codes[:players])
    tally = Tally()
    clients = Clients(server_url)
    plan = schedule(players, sizes, random.Random(20270301))
    try:
        pool = ThreadPoolExecutor(WORKERS)
        futures: list[Future[None]] = []
        start = time.monotonic()
        for offset, player, kind in plan:
            due = start + offset
            ahead = due - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)  # the load's own timetable, not a wait for a condition
            futures.append(pool.submit(send, clients, tally, logins[player], kind, due))
        _, late = wait(futures, timeout=DRAIN_SECONDS)
        cancelled = sum(1 for f in late if f.cancel())
        if cancelled:
            tally.fail(f"{cancelled} requests never sent: the server stopped answering (queue not drained)")
            tally.errors.extend(["not sent"] * (cancelled - 1))
        pool.shutdown(wait=True)
    finally:
        clients.close()
    everything = [ms for samples in tally.latency_ms.values() for ms in samples]
    if not everything:
        raise RuntimeError(f"room surge: no request succeeded; first errors: {tally.errors[:3]}")
    extra: dict[str, float | int | str] = {
        f"{kind}_p99_ms": round(percentile(samples, 99), 1) for kind, samples in tally.latency_ms.items() if samples
    }
    extra |= {"requests": len(everything) + len(tally.errors), "max_client_lag_ms": round(tally.max_lag_ms, 1)}
    if tally.errors:
        extra["first_error"] = tally.errors[0][:300]
    how = (
        f"{players} players: heartbeat+checkpoint every {sizes.surge_heartbeat_seconds:g} s, results uploaded "
        f"within {sizes.surge_upload_window_seconds:g} s after {sizes.surge_warmup_seconds:g} s"
    )
    return [
        Figure(
            name="room surge p99",
            value=percentile(everything, 99),
            unit="ms",
            budget=200.0,
            compare="<",
            how=how,
            extra=extra,
        ),
        Figure(
            name="room surge errors",
            value=float(len(tally.errors)),
            unit="errors",
            budget=0.0,
            compare="<=",
            how="requests refused or failed during the surge (no client retries)",
        ),
    ]
