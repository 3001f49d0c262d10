"""The uploader against the real server (uvicorn on loopback), directly and through the fault proxy."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlite_utils

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal
from player.offline_queue.outbox import Outbox
from player.offline_queue.uploader import Backoff, Uploader, UploadStatus
from player.session import SittingSession
from sync.client import InvigilClient
from sync.protocol import Checkpoint, Heartbeat, HeartbeatReply, LoginResponse, ResultEnvelope, ResultReceipt
from sync.server.models import Attempt
from sync.server.store import Store
from tests.faultproxy import Fault, FaultProxy, LoopbackServer
from tests.player.conftest import ManualClock
from tests.sync.server.conftest import (  # noqa: F401 - session fixtures the server below is built from
    START,
    DemoTemplate,
    FakeClock,
    demo_template,
    migrated_template,
    server_key,
)

FAST = Backoff(base=0.01, factor=2, cap=0.1)


@pytest.fixture
def server(tmp_path: Path, demo_template: DemoTemplate, server_key: bytes) -> Iterator[LoopbackServer]:  # noqa: F811
    path = tmp_path / "server.db"
    path.write_bytes(demo_template.path.read_bytes())
    running = LoopbackServer(f"sqlite:///{path}", server_key, FakeClock(START))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def login(server: LoopbackServer, demo_template: DemoTemplate) -> LoginResponse:  # noqa: F811
    with InvigilClient(server.url, machine_id="pc-1") as client:
        return client.login(demo_template.data["students"][0]["access_code"])


def sit(
    journal: Journal, login: LoginResponse, clock: ManualClock, *, server_url: str, sections: int
) -> SittingSession:
    session = SittingSession(journal=journal, attempt=journal.start_attempt(login, server_url=server_url), clock=clock)
    for _ in range(sections):
        if session.item.type == "single_choice":
            session.set_answer(session.item.options[0].id)
        session.end_section()
    return session


def make_uploader(path: Path, clock: ManualClock, **kw: object) -> Uploader:
    return Uploader(
        lambda: open_database(path),
        lambda url: InvigilClient(url, machine_id="pc-1", timeout=0.3),
        now=clock.now,
        rng=random.Random(7),
        backoff=FAST,
        **kw,  # type: ignore[arg-type]
    )


def drain(uploader: Uploader, outbox: Outbox, clock: ManualClock, *, rounds: int = 200) -> None:
    """Rounds until every result is confirmed, moving the hand clock to each retry instead of waiting."""
    for _ in range(rounds):
        uploader.drain_once()
        due = outbox.next_due_at()
        if due is None and outbox.depth() == len(outbox.needs_attention()):
            return
        if due is not None and due > clock.now():
            clock.advance((due - clock.now()).total_seconds())
    raise AssertionError(f"outbox not drained after {rounds} rounds: {outbox.entries()}")


def server_attempt(server: LoopbackServer, attempt_id: str) -> Attempt:
    store = Store.open(server.database_url, migrate=False)
    try:
        with store.transaction() as db:
            held = db.get(Attempt, attempt_id)
            assert held is not None
            db.expunge(held)
            return held
    finally:
        store.close()


@pytest.fixture
def journal_file(journal_db: sqlite_utils.Database, tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


def test_every_result_reaches_the_server_and_is_kept_here_as_sent(
    journal: Journal,
    journal_db: sqlite_utils.Database,
    journal_file: Path,
    login: LoginResponse,
    server: LoopbackServer,
    clock: ManualClock,
) -> None:
    sit(journal, login, clock, server_url=server.url, sections=3)
    outbox = Outbox(journal_db, now=clock.now)
    committed = {e.idempotency_key for e in outbox.entries(kind="result")}
    statuses: list[UploadStatus] = []
    uploader = make_uploader(journal_file, clock, on_status=statuses.append)
    uploader.start_up()
    drain(uploader, outbox, clock)
    uploader.close()
    assert sorted(server.result_keys(login.attempt_id)) == sorted(committed)
    assert {e.state for e in outbox.entries(kind="result")} == {"sent"}
    assert statuses[-1].depth == 0
    assert statuses[0].depth == 3


def test_a_503_is_retried_after_a_backoff_and_then_sent(
    journal: Journal,
    journal_db: sqlite_utils.Database,
    journal_file: Path,
    login: LoginResponse,
    server: LoopbackServer,
    clock: ManualClock,
) -> None:
    with FaultProxy(("127.0.0.1", server.port), [Fault("busy")]) as proxy:
        sit(journal, login, clock, server_url=proxy.url, sections=1)
        outbox = Outbox(journal_db, now=clock.now)
        uploader = make_uploader(journal_file, clock)
        report = uploader.drain_once()
        [entry] = outbox.entries(kind="result")
        assert report.retried == [entry.idempotency_key]
        assert entry.state == "pending"
        assert entry.attempts == 1
        assert entry.next_try_at is not None
        assert clock.now() <= entry.next_try_at <= clock.now() + timedelta(seconds=FAST.base)
        assert "503" in (uploader.status().last_error or "")
        drain(uploader, outbox, clock)
        uploader.close()
    assert server.result_keys(login.attempt_id) == [entry.idempotency_key]
    assert uploader.status().last_error is None


def test_an_unanswering_server_costs_one_timeout_per_round_not_one_per_row(
    journal: Journal,
    journal_db: sqlite_utils.Database,
    journal_file: Path,
    login: LoginResponse,
    server: LoopbackServer,
    clock: ManualClock,
) -> None:
    with FaultProxy(("127.0.0.1", server.port), [Fault("blackhole")]) as proxy:
        sit(journal, login, clock, server_url=proxy.url, sections=3)
        outbox = Outbox(journal_db, now=clock.now)
        uploader = make_uploader(journal_file, clock)
        report = uploader.drain_once()
        # The three results went in one batch request: one timeout for all of them, each counted once.
        [(fault, request)] = proxy.applied
        assert (fault, request.split()[1]) == ("blackhole", f"/api/v1/attempts/{login.attempt_id}/results/batch")
        assert len(report.retried) == 3
        assert report.released == []
        assert sorted(e.attempts for e in outbox.entries(kind="result")) == [1, 1, 1]
        assert "did not answer within 0.3 seconds" in (uploader.status().last_error or "")
        drain(uploader, outbox, clock)
        uploader.close()
    assert len(server.result_keys(login.attempt_id)) == 3


def test_a_refused_result_is_kept_for_staff_and_the_rest_still_go(
    journal: Journal,
    journal_db: sqlite_utils.Database,
    journal_file: Path,
    login: LoginResponse,
    server: LoopbackServer,
    clock: ManualClock,
) -> None:
    sit(journal, login, clock, server_url=server.url, sections=2)
    outbox = Outbox(journal_db, now=clock.now)
    first, second = outbox.entries(kind="result")
    # Someone already used the first key for different answers: the server answers 409 and will never take it.
    forged = ResultEnvelope.model_validate_json(first.body).model_copy(update={"answers": []})
    with InvigilClient(server.url) as client:
        client.submit_result(login.attempt_id, login.attempt_token, forged)
    uploader = make_uploader(journal_file, clock)
    drain(uploader, outbox, clock)
    uploader.close()
    [held] = outbox.needs_attention()
    assert held.idempotency_key == first.idempotency_key
    assert held.body == first.body, "the refused envelope is kept exactly as committed"
    assert "already received with different content" in (held.last_error or "")
    assert outbox.entry(second.idempotency_key).state == "sent"  # type: ignore[union-attr]
    assert uploader.status().depth == 1
    assert uploader.status().needs_attention == 1


def test_the_newest_progress_checkpoint_reaches_the_server(
    journal: Journal,
    journal_file: Path,
    login: LoginResponse,
    server: LoopbackServer,
    clock: ManualClock,
) -> None:
    session = sit(journal, login, clock, server_url=server.url, sections=0)
    for _ in range(3):
        clock.advance(5)
        session.checkpoint()
    uploader = make_uploader(journal_file, clock)
    report = uploader.drain_once()
    uploader.close()
    assert len(report.sent) == 1, "three checkpoints in the journal, one (the newest) on the wire"
    held = server_attempt(server, login.attempt_id).checkpoint
    assert held is not None
    assert (held["item_id"], held["remaining_seconds"]) == (session.item.id, 585)


def wait_until(condition: Callable[[], bool], *, within: float = 20.0) -> bool:
    """Poll a condition until it holds (a wait for a condition, not a fixed sleep)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.02)
    return True


def test_the_thread_drains_at_start_up_sends_new_results_when_woken_and_stops(
    journal: Journal,
    journal_file: Path,
    login: LoginResponse,
    server: LoopbackServer,
    clock: ManualClock,
) -> None:
    session = sit(journal, login, clock, server_url=server.url, sections=1)
    uploader = make_uploader(journal_file, clock, idle_wait=30.0)
    uploader.start()
    try:
        assert wait_until(lambda: len(server.result_keys(login.attempt_id)) == 1), "no start-up drain"
        session.end_section()
        uploader.wake()  # what the UI does after a section ends; otherwise it would wait idle_wait (30 s)
        assert wait_until(lambda: len(server.result_keys(login.attempt_id)) == 2), "wake() did not send"
        assert wait_until(lambda: uploader.status().depth == 0)
    finally:
        uploader.stop()
    assert not uploader.is_alive()


def test_the_server_sees_the_outbox_depth_in_heartbeats(
    journal: Journal,
    journal_db: sqlite_utils.Database,
    journal_file: Path,
    login: LoginResponse,
    server: LoopbackServer,
    clock: ManualClock,
) -> None:
    with FaultProxy(("127.0.0.1", server.port)) as proxy:
        sit(journal, login, clock, server_url=proxy.url, sections=2)
        uploader = make_uploader(journal_file, clock, heartbeat_every=5.0)
        uploader.heartbeat_if_due()
        uploader.close()
    assert server_attempt(server, login.attempt_id).outbox_depth == 2


def test_backoff_grows_to_its_cap_with_full_jitter_below_the_ceiling() -> None:
    policy = Backoff(base=0.5, factor=2, cap=60)
    assert [policy.ceiling(n) for n in (1, 2, 3, 8, 9, 100_000)] == [0.5, 1.0, 2.0, 60.0, 60.0, 60.0]
    rng = random.Random(3)
    delays = [policy.delay(4, rng) for _ in range(200)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert max(delays) - min(delays) > 2.0, "full jitter spreads machines over the whole range"
    assert Backoff(jitter="none").delay(3, rng) == 2.0


def test_a_backoff_that_cannot_work_is_refused_with_its_values() -> None:
    with pytest.raises(ValueError, match=r"cap >= base.*cap=0\.1"):
        Backoff(base=1.0, cap=0.1)


class OneByOneClient:
    """The real client without the batch method, as a build from before the batch route would have it."""

    def __init__(self, url: str) -> None:
        self._real = InvigilClient(url, machine_id="pc-1", timeout=0.3)

    def submit_result(self, attempt_id: str, token: str, envelope: ResultEnvelope) -> ResultReceipt:
        return self._real.submit_result(attempt_id, token, envelope)

    def put_checkpoint(self, attempt_id: str, token: str, checkpoint: Checkpoint) -> None:
        self._real.put_checkpoint(attempt_id, token, checkpoint)

    def heartbeat(self, attempt_id: str, token: str, beat: Heartbeat) -> HeartbeatReply:
        return self._real.heartbeat(attempt_id, token, beat)

    def close(self) -> None:
        self._real.close()


@pytest.mark.parametrize("batched", [True, False], ids=["batch route", "one by one"])
def test_results_go_in_one_request_per_attempt_or_one_each_without_the_batch_method(
    journal: Journal,
    journal_db: sqlite_utils.Database,
    journal_file: Path,
    login: LoginResponse,
    server: LoopbackServer,
    clock: ManualClock,
    batched: bool,
) -> None:
    with FaultProxy(("127.0.0.1", server.port), []) as proxy:
        sit(journal, login, clock, server_url=proxy.url, sections=3)
        outbox = Outbox(journal_db, now=clock.now)
        connect = (lambda url: InvigilClient(url, timeout=0.3)) if batched else OneByOneClient
        uploader = Uploader(lambda: open_database(journal_file), connect, now=clock.now, backoff=FAST)
        report = uploader.drain_once()
        uploader.close()
        paths = [request.split()[1] for _, request in proxy.applied]
    results = f"/api/v1/attempts/{login.attempt_id}/results"
    assert paths == ([f"{results}/batch"] if batched else [results] * 3)
    assert len(report.sent) == 3
    assert [e.state for e in outbox.entries(kind="result")] == ["sent"] * 3
    assert len(server.result_keys(login.attempt_id)) == 3
