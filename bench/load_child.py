"""The big surge's load generator, a process of its own: asyncio and raw HTTP/1.1 keep-alive connections.

`python -m bench.load_child PLAN.json` reads the players (attempt id, token) and the timetable's sizes, runs the
timetable against the server and prints one JSON line: latency samples per request kind and the errors. One
thread and no HTTP library: a request costs the generator ~50-100 us of CPU, so on a 2-core machine nearly all the
CPU is left to the server and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

REQUEST_TIMEOUT_S = 10.0
KINDS = ("heartbeat", "checkpoint", "result")


@dataclass
class Plan:
    url: str
    players: list[tuple[str, str]]
    """(attempt id, token) of each logged-in player."""
    period_s: float
    warmup_s: float
    measured_s: float
    connections: int
    seed: int

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(
            url=data["url"],
            players=[(p[0], p[1]) for p in data["players"]],
            period_s=float(data["period_s"]),
            warmup_s=float(data["warmup_s"]),
            measured_s=float(data["measured_s"]),
            connections=int(data["connections"]),
            seed=int(data["seed"]),
        )


@dataclass
class Tally:
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    lag_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    first_errors: list[str] = field(default_factory=list)
    sent: int = 0
    handled: int = 0
    unfinished: int = 0
    """Requests answered or failed over the whole run, warm-up and tail included (the CPU figures' divisor)."""


class Connection:
    """One keep-alive HTTP/1.1 connection; reopened when the server has closed it."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        try:
            self._writer.write(head + body)
            status_line_and_headers = await self._reader.readuntil(b"\r\n\r\n")
            lines = status_line_and_headers.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value)
                elif lowered == b"connection" and value.strip().lower() == b"close":
                    close = True
            reply = await self._reader.readexactly(length) if length else b""
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, reply

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def request_head(method: str, host: str, path: str, token: str, length: int) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def body_for(kind: str, attempt_id: str) -> bytes:
    now = datetime.now(UTC).isoformat()
    if kind == "heartbeat":
        return b'{"section_id":"mc","item_id":"mc-circles"}'
    if kind == "checkpoint":
        return (f'{{"section_id":"mc","item_id":"mc-circles","remaining_seconds":1200,"taken_at":"{now}"}}').encode()
    # A finished section's result (not final: the player carries on), as the outbox sends it.
    return json.dumps(
        {
            "idempotency_key": str(uuid.uuid4()),
            "attempt_id": attempt_id,
            "section_ids": ["mc"],
            "answers": [{"item_id": "mc-circles", "value": "b", "answered_at": now}],
            "finished_at": now,
            "final": False,
        }
    ).encode()


async def run(plan: Plan) -> Tally:
    split = urlsplit(plan.url)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(plan.connections):
        pool.put_nowait(Connection(host, port))
    tally = Tally()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    measured_from, end = start + plan.warmup_s, start + plan.warmup_s + plan.measured_s
    rng = random.Random(plan.seed)
    pending: set[asyncio.Task[None]] = set()

    async def send(kind: str, attempt_id: str, token: str, due: float) -> None:
        if kind == "heartbeat":
            method, path = "POST", f"/api/v1/attempts/{attempt_id}/heartbeat"
        elif kind == "checkpoint":
            method, path = "PUT", f"/api/v1/attempts/{attempt_id}/checkpoint"
        else:
            method, path = "POST", f"/api/v1/attempts/{attempt_id}/results"
        connection = await pool.get()
        body = body_for(kind, attempt_id)
        started = loop.time()
        counted = due >= measured_from
        try:
            status, reply = await asyncio.wait_for(
                connection.request(request_head(method, host, path, token, len(body)), body), REQUEST_TIMEOUT_S
            )
            problem = None if status < 300 else f"{kind}: HTTP {status}: {reply[:200]!r}"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            connection.close()
            problem = f"{kind}: {type(exc).__name__}: {exc}"
        finally:
            pool.put_nowait(connection)
        tally.handled += 1
        if not counted:
            return
        tally.sent += 1
        if problem is not None:
            tally.errors[kind] += 1
            if len(tally.first_errors) < 5:
                tally.first_errors.append(problem[:300])
            return
        tally.latency_ms[kind].append((loop.time() - started) * 1000)
        tally.lag_ms.append((started - due) * 1000)

    def fire(kind: str, attempt_id: str, token: str, due: float) -> None:
        task = asyncio.create_task(send(kind, attempt_id, token, due), name=f"{kind} {due}")
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def player(attempt_id: str, token: str) -> None:
        tick = start + rng.uniform(0, plan.period_s)
        result_at = measured_from + rng.uniform(0, plan.measured_s)
        while tick < end:
            if result_at <= tick:
                await asyncio.sleep(max(0.0, result_at - loop.time()))
                fire("result", attempt_id, token, result_at)
                result_at = float("inf")
            await asyncio.sleep(max(0.0, tick - loop.time()))
            fire("heartbeat", attempt_id, token, tick)
            fire("checkpoint", attempt_id, token, tick)
            tick += plan.period_s

    await asyncio.gather(*(player(a, t) for a, t in plan.players))
    if pending:
        await asyncio.wait(pending, timeout=REQUEST_TIMEOUT_S * 2)
    # Still queued for a connection, or in flight, long after the timetable ended: a player would have given up.
    for task in list(pending):
        task.cancel()
        kind, due = task.get_name().split(" ")
        if float(due) >= measured_from:
            tally.sent += 1
            tally.errors[kind] += 1
            tally.unfinished += 1
    if tally.unfinished and len(tally.first_errors) < 5:
        tally.first_errors.append(f"{tally.unfinished} requests not answered 20 s after the timetable ended")
    return tally


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as f:
        plan = Plan.from_json(f.read())
    started = time.monotonic()
    tally = asyncio.run(run(plan))
    print(
        json.dumps(
            {
                "latency_ms": tally.latency_ms,
                "lag_ms": tally.lag_ms,
                "errors": tally.errors,
                "first_errors": tally.first_errors,
                "sent": tally.sent,
                "handled": tally.handled,
                "unfinished": tally.unfinished,
                "seconds": time.monotonic() - started,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
