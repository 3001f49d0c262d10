"""Results survive any schedule of network faults: afterwards the server holds each committed envelope once.

Each schedule runs against the server in-process on SQLite, and against two real server processes on one
PostgreSQL database with requests spread over both (so a repeat often reaches the other process than the first
send did), where a restart is a SIGKILL of one of them.

INVIGIL_FAULT_SCHEDULES sets how many random schedules run (default 200, CI); INVIGIL_FAULT_SEED the first seed.
A failure names its seed: rerun just that one with INVIGIL_FAULT_SEED=<seed> INVIGIL_FAULT_SCHEDULES=1.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal
from player.offline_queue.outbox import Outbox
from player.offline_queue.uploader import Backoff, Uploader
from player.session import SittingSession
from sync.client import InvigilClient
from sync.protocol import MAX_BATCH_ENVELOPES, LoginResponse
from tests.helpers.clock import START, FakeClock
from tests.helpers.faultproxy import Fault, FaultProxy, LoopbackServer
from tests.helpers.postgres import Cluster
from tests.helpers.server import DemoTemplate
from tests.helpers.server_processes import ServerProcesses, seed_demo

SCHEDULES = int(os.environ.get("INVIGIL_FAULT_SCHEDULES", "200"))
FIRST_SEED = int(os.environ.get("INVIGIL_FAULT_SEED", "0"))
TIMEOUT = 0.3
"""Client timeout: short, so a black hole costs little wall time."""
TINY = Backoff(base=0.01, factor=2, cap=0.05)


class FaultTarget(Protocol):
    """What the schedules need of the server side: where it listens, how to stop and restart it, what it holds."""

    upstreams: list[tuple[str, int]]
    codes: list[str]
    sitting_clock: datetime | None
    """A moment inside the demo sitting's window by the server's clock: the players' answers are timed from it."""
    starts: int

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def restart(self) -> None: ...
    def result_keys(self, attempt_id: str | None = None) -> list[str]: ...


@pytest.fixture(scope="module", params=["sqlite", "postgresql-2-processes"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultTarget]:
    """The real server: in-process on an SQLite file, or two `invigil-server serve` processes on one PostgreSQL
    database with the proxy sending requests to each in turn (a restart kills one of them with SIGKILL)."""
    folder = tmp_path_factory.mktemp("fault-server")
    running: FaultTarget
    if request.param == "sqlite":
        template: DemoTemplate = request.getfixturevalue("sqlite_demo_template")
        path = folder / "server.db"
        path.write_bytes(template.path.read_bytes())
        codes = [student["access_code"] for student in template.data["students"]]
        running = LoopbackServer(
            f"sqlite:///{path}", request.getfixturevalue("server_key"), FakeClock(START), codes=codes
        )
        running.sitting_clock = START
    else:
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        url = cluster.url(cluster.new_database("faults"))
        data = seed_demo(url, folder / "server.secret")
        running = ServerProcesses(url, folder / "server.secret", count=2)
        running.codes = [student["access_code"] for student in data["students"]]
        running.sitting_clock = datetime.now(UTC)  # these processes keep the real clock, and were seeded by it
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def logins(server: FaultTarget) -> list[LoginResponse]:
    """One attempt per demo student; schedules reuse them, each with a fresh journal and fresh envelope keys."""
    host, port = server.upstreams[0]
    with InvigilClient(f"http://{host}:{port}", machine_id="fault-pc") as client:
        return [client.login(code) for code in server.codes]


def commit_sections(
    journal_path: Path, login: LoginResponse, *, server_url: str, sections: int, start: datetime | None
) -> list[str]:
    """A student finishes `sections` sections on a fresh journal; returns the outbox keys that committed."""
    assert start is not None, "the server fixture says when its sitting is open"
    clock = FakeClock(start)
    db = open_database(journal_path)
    try:
        journal = Journal(db, now=clock.now)
        session = SittingSession(
            journal=journal, attempt=journal.start_attempt(login, server_url=server_url), clock=clock
        )
        for _ in range(sections):
            if session.item.type == "single_choice":
                session.set_answer(session.item.options[0].id)
            clock.advance(30)
            session.end_section()
        return [e.idempotency_key for e in Outbox(db).entries(kind="result")]
    finally:
        db.close()


def hand_clock_uploader(
    journal_path: Path, clock: FakeClock, *, rng: random.Random, batch_size: int = MAX_BATCH_ENVELOPES
) -> Uploader:
    """The real uploader on `journal_path`, its retries timed by `clock` (moved by hand) with tiny backoffs."""
    return Uploader(
        lambda: open_database(journal_path),
        lambda url: InvigilClient(url, machine_id="fault-pc", timeout=TIMEOUT),
        now=clock.now,
        rng=rng,
        backoff=TINY,
        batch_size=batch_size,
    )


def drain_through(journal_path: Path, *, rng: random.Random, batch_size: int, rounds: int = 400) -> Outbox:
    """Drain with the uploader, moving a hand clock to each retry instead of waiting; returns an outbox to read."""
    clock = FakeClock()
    uploader = hand_clock_uploader(journal_path, clock, rng=rng, batch_size=batch_size)
    outbox = Outbox(open_database(journal_path), now=clock.now)
    try:
        uploader.start_up()
        for _ in range(rounds):
            uploader.drain_until_idle()
            due = outbox.next_due_at()
            if due is None:
                return outbox
            if due > clock.now():
                clock.advance((due - clock.now()).total_seconds())
        raise AssertionError(
            f"not drained after {rounds} rounds: {[(e.state, e.last_error) for e in outbox.entries()]}"
        )
    finally:
        uploader.close()


def assert_delivered_once(server: FaultTarget, outbox: Outbox, committed: list[str], *, context: str) -> None:
    held = server.result_keys()
    for key in committed:
        assert held.count(key) == 1, f"{context}: key {key} is on the server {held.count(key)} times"
    leftovers = [(e.kind, e.state, e.last_error) for e in outbox.entries() if e.state != "sent"]
    assert leftovers == [], f"{context}: the outbox still holds {leftovers}"
    assert sorted(e.idempotency_key for e in outbox.entries(kind="result")) == sorted(committed), context


def random_fault(rng: random.Random, server: FaultTarget) -> list[Fault]:
    roll = rng.random()
    if roll < 0.18:
        return [Fault("pass")]
    if roll < 0.32:
        return [Fault("reset")]
    if roll < 0.46:
        return [Fault("cut", cut_after=rng.randint(0, 400))]
    if roll < 0.50:
        return [Fault("blackhole")]
    if roll < 0.64:
        # Mostly a slow answer the client still waits for; sometimes one that arrives after it gave up.
        return [Fault("delay", delay=rng.uniform(0.0, 0.1) if rng.random() < 0.8 else TIMEOUT * 1.2)]
    if roll < 0.78:
        return [Fault("busy")]
    if roll < 0.96:
        return [Fault("reply_lost")]
    if roll < 0.98:
        return [Fault("pass", before=server.restart)]
    # Down for a while: refused connections until the next request brings it back.
    return [Fault("reset", before=server.stop), Fault("pass", before=server.start)]


def test_random_fault_schedules_deliver_every_envelope_exactly_once(
    server: FaultTarget, logins: list[LoginResponse], tmp_path: Path
) -> None:
    everything: list[str] = []
    for seed in range(FIRST_SEED, FIRST_SEED + SCHEDULES):
        rng = random.Random(seed)
        before = len(server.result_keys())
        faults = [f for _ in range(rng.randint(0, 8)) for f in random_fault(rng, server)]
        with FaultProxy(server.upstreams, faults) as proxy:
            journal_path = tmp_path / f"schedule-{seed}.sqlite3"
            committed = commit_sections(
                journal_path,
                rng.choice(logins),
                start=server.sitting_clock,
                server_url=proxy.url,
                sections=rng.randint(1, 3),
            )
            outbox = drain_through(journal_path, rng=rng, batch_size=rng.randint(1, 4))
            context = f"seed {seed} (faults applied: {proxy.applied})"
            assert_delivered_once(server, outbox, committed, context=context)
            added = len(server.result_keys()) - before
            assert added == len(committed), f"{context}: {added} results stored for {len(committed)} envelopes"
        everything.extend(committed)
    held = server.result_keys()
    assert sorted(k for k in held if k in set(everything)) == sorted(everything)


def test_reply_lost_after_server_committed_stores_once(
    server: FaultTarget, logins: list[LoginResponse], tmp_path: Path
) -> None:
    journal_path = tmp_path / "journal.sqlite3"
    with FaultProxy(server.upstreams, [Fault("reply_lost")]) as proxy:
        [key] = commit_sections(journal_path, logins[0], start=server.sitting_clock, server_url=proxy.url, sections=1)
        clock = FakeClock()
        uploader = hand_clock_uploader(journal_path, clock, rng=random.Random(1))
        outbox = Outbox(open_database(journal_path))
        uploader.drain_until_idle()
        assert server.result_keys().count(key) == 1, "the server committed before the reply was lost"
        [entry] = outbox.entries(kind="result")
        assert (entry.state, entry.attempts) == ("pending", 1), "without a reply the player must send again"
        clock.advance(TINY.cap)
        uploader.drain_until_idle()
        uploader.close()
        assert [fault for fault, request in proxy.applied if "/results" in request] == ["reply_lost", "pass"]
    assert server.result_keys().count(key) == 1, "the server recognised the repeat by its idempotency key"
    assert [e.state for e in outbox.entries(kind="result")] == ["sent"], "and its receipt counts as sent"


def test_batch_reply_lost_after_server_committed_stores_each_once(
    server: FaultTarget, logins: list[LoginResponse], tmp_path: Path
) -> None:
    journal_path = tmp_path / "journal.sqlite3"
    with FaultProxy(server.upstreams, [Fault("reply_lost")]) as proxy:
        keys = commit_sections(journal_path, logins[2], start=server.sitting_clock, server_url=proxy.url, sections=3)
        clock = FakeClock()
        uploader = hand_clock_uploader(journal_path, clock, rng=random.Random(1))
        outbox = Outbox(open_database(journal_path))
        uploader.drain_until_idle()
        held = server.result_keys()
        assert [held.count(k) for k in keys] == [1, 1, 1], "the server committed the whole batch"
        assert [(e.state, e.attempts) for e in outbox.entries(kind="result")] == [("pending", 1)] * 3, (
            "without a reply every envelope of the batch is sent again"
        )
        clock.advance(TINY.cap)
        uploader.drain_until_idle()
        uploader.close()
        batch = f"/api/v1/attempts/{logins[2].attempt_id}/results/batch"
        assert [(fault, request.split()[1]) for fault, request in proxy.applied] == [
            ("reply_lost", batch),
            ("pass", batch),
        ], "one request per drain: the three envelopes travel together"
    held = server.result_keys()
    assert [held.count(k) for k in keys] == [1, 1, 1], "each repeat recognised by its idempotency key"
    assert [e.state for e in outbox.entries(kind="result")] == ["sent"] * 3


@pytest.mark.parametrize("outage", ["restart between requests", "down mid-batch", "restart after commit"])
def test_server_restart_mid_batch_loses_and_repeats_nothing(
    server: FaultTarget, logins: list[LoginResponse], tmp_path: Path, outage: str
) -> None:
    schedule = {
        "restart between requests": [Fault("pass"), Fault("pass", before=server.restart)],
        "down mid-batch": [
            Fault("pass"),
            Fault("reset", before=server.stop),
            Fault("busy"),
            Fault("pass", before=server.start),
        ],
        "restart after commit": [Fault("pass"), Fault("reply_lost"), Fault("pass", before=server.restart)],
    }[outage]
    starts = server.starts
    journal_path = tmp_path / "journal.sqlite3"
    with FaultProxy(server.upstreams, schedule) as proxy:
        committed = commit_sections(
            journal_path, logins[1], start=server.sitting_clock, server_url=proxy.url, sections=3
        )
        # One envelope per request, so the outage falls between the three uploads as the schedule says.
        outbox = drain_through(journal_path, rng=random.Random(5), batch_size=1)
        assert proxy.remaining() == 0, "every fault of the schedule was used"
    assert server.starts > starts, "the server really restarted"
    assert_delivered_once(server, outbox, committed, context=outage)
