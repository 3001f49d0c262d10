"""Outbox drain: queued result envelopes sent by the real Uploader to the real server process on loopback."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.common import Figure, Sizes
from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal
from player.offline_queue.outbox import Outbox
from player.offline_queue.uploader import Uploader
from sync.client import InvigilClient, client_for
from sync.protocol import (
    MAX_BATCH_ENVELOPES,
    AnswerRecord,
    BatchItemReceipt,
    Checkpoint,
    ResultEnvelope,
    ResultReceipt,
)

FLOOR_REQUESTS_MAX = 2000


def envelope_body(attempt_id: str, n: int) -> str:
    now = datetime.now(UTC)
    env = ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=attempt_id,
        section_ids=["mc"],
        answers=[AnswerRecord(item_id="mc-circles", value="abc"[n % 3], answered_at=now)],
        finished_at=now,
        final=False,
    )
    return env.model_dump_json()


def queue_envelopes(db_path: Path, *, attempt_id: str, count: int) -> None:
    """Fill the outbox as finished sections would: pending 'result' rows (bench setup, one transaction)."""
    db = open_database(db_path)
    try:
        outbox, stamp = Outbox(db), datetime.now(UTC)
        with db.atomic():
            for n in range(count):
                body = envelope_body(attempt_id, n)
                outbox.queue_result(attempt_id, json.loads(body)["idempotency_key"], body, stamp)
    finally:
        db.close()


def sent_count(db_path: Path) -> int:
    db = open_database(db_path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'sent'").fetchone()[0])
    finally:
        db.close()


class InstantClient:
    """Accepts everything at once: isolates the outbox's own cost (claim, mark sent) from the network."""

    def submit_result_bodies(
        self, attempt_id: str, token: str, bodies: Sequence[tuple[str, str]]
    ) -> list[BatchItemReceipt]:
        # What the uploader calls (the stored JSON, unparsed).
        return [
            BatchItemReceipt(
                idempotency_key=key,
                status=200,
                receipt=ResultReceipt(result_id="bench", idempotency_key=key, status="received", duplicate=False),
            )
            for key, _ in bodies
        ]

    def put_checkpoint(self, attempt_id: str, token: str, checkpoint: Checkpoint) -> None:
        return None

    def close(self) -> None:
        return None


def drain(db_path: Path, *, server_url: str, instant: bool) -> float:
    """Seconds for Uploader.drain_until_idle over everything pending."""

    def connect(url: str) -> InvigilClient | InstantClient:
        return InstantClient() if instant else client_for(url, machine_id="bench-pc", timeout=10.0, ca_bundle=None)

    uploader = Uploader(lambda: open_database(db_path), connect)
    try:
        started = time.perf_counter()
        uploader.drain_until_idle()
        return time.perf_counter() - started
    finally:
        uploader.close()


def trivial_rate(server_url: str, body: str, count: int) -> float:
    """Requests per second to the same server's cheapest route (an unknown path: routing and a JSON 404, no
    database), over the same kind of keep-alive session the client uses, with an envelope-sized body."""
    url = f"{server_url}/api/v1/bench-floor"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    with requests.Session() as session:
        session.post(url, data=body, headers=headers, timeout=10)
        started = time.perf_counter()
        for _ in range(count):
            session.post(url, data=body, headers=headers, timeout=10).close()
        return count / (time.perf_counter() - started)


def measure(sizes: Sizes, *, server_url: str, code: str, work: Path) -> list[Figure]:
    work.mkdir(parents=True, exist_ok=True)
    # The login is not measured: a fresh `serve --workers 4` on a busy 2-core machine once took more than 10 s to
    # answer its first request (each worker builds its app then), which failed the smoke run rather than a figure.
    with client_for(server_url, machine_id="bench-drain", timeout=60.0, ca_bundle=None) as client:
        login = client.login(code)
    count = sizes.outbox_envelopes

    local = work / "local.sqlite3"
    db = open_database(local)
    Journal(db).start_attempt(login, server_url=server_url)
    db.close()
    queue_envelopes(local, attempt_id=login.attempt_id, count=count)
    local_rate = count / drain(local, server_url=server_url, instant=True)

    real = work / "real.sqlite3"
    db = open_database(real)
    Journal(db).start_attempt(login, server_url=server_url)
    db.close()
    queue_envelopes(real, attempt_id=login.attempt_id, count=count)
    seconds = drain(real, server_url=server_url, instant=False)
    sent = sent_count(real)
    if sent != count:
        raise RuntimeError(f"outbox drain: {sent} of {count} envelopes confirmed by the server")

    floor = trivial_rate(server_url, envelope_body(login.attempt_id, 0), min(count, FLOOR_REQUESTS_MAX))
    return [
        Figure(
            name="outbox drain",
            value=count / seconds,
            unit="env/s",
            floor=floor,
            budget=5000.0,
            compare=">=",
            how=(
                f"{count} queued envelopes, Uploader.drain_until_idle to the server process "
                f"(batches of up to {MAX_BATCH_ENVELOPES} per request)"
            ),
            extra={"outbox_only_env_per_s": round(local_rate), "seconds": round(seconds, 2)},
        )
    ]
