"""The uploader against the real server (uvicorn on loopback), directly and through the fault proxy."""

from __future__ import annotations

import dataclasses
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlite_utils

from player.offline_queue.db import open_database
from player.offline_queue.journal import Journal
from player.offline_queue.outbox import Outbox
from player.offline_queue.uploader import Backoff, Uploader
from player.session import SittingSession
from sync.client import InvigilClient
from sync.protocol import (
    AnswerRecord,
    LoginResponse,
    ResultEnvelope,
)
from sync.server.models import Attempt
from sync.server.store import Store
from tests.helpers.clock import START, FakeClock
from tests.helpers.faultproxy import Fault, FaultProxy, LoopbackServer
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import wait_until

FAST = Backoff(base=0.01, factor=2, cap=0.1)


@pytest.fixture
def server(tmp_path: Path, demo_template: DemoTemplate, server_key: bytes) -> Iterator[LoopbackServer]:
    path = tmp_path / "server.db"
    path.write_bytes(demo_template.path.read_bytes())
    running = LoopbackServer(f"sqlite:///{path}", server_key, FakeClock(START))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def login(server: LoopbackServer, demo_template: DemoTemplate) -> LoginResponse:
    with InvigilClient(server.url, machine_id="pc-1") as client:
        return client.login(demo_template.data["students"][0]["access_code"])


@dataclass
class Rig:
    """A student's journal file, the real server (reached directly or through a proxy) and a hand-moved clock."""

    journal: Journal
    db: sqlite_utils.Database
    path: Path
    login: LoginResponse
    server: LoopbackServer
    clock: FakeClock

    @property
    def outbox(self) -> Outbox:
        return Outbox(self.db, now=self.clock.now)

    def sit(self, sections: int, *, via: str | None = None) -> SittingSession:
        """Start the attempt (its results go to `via`, the server by default) and finish `sections` sections."""
        attempt = self.journal.start_attempt(self.login, server_url=via or self.server.url)
        session = SittingSession(journal=self.journal, attempt=attempt, clock=self.clock)
        for _ in range(sections):
            if session.item.type == "single_choice":
                session.set_answer(session.item.options[0].id)
            session.end_section()
        return session

    def queue(self, count: int, *, via: str | None = None, body: Callable[[str], str] | None = None) -> list[str]:
        """Queue `count` result envelopes at once (more than a sitting's sections), starting the attempt first.

        `body` may rewrite each envelope's JSON as it is stored.
        """
        if self.journal.open_attempt_on_this_machine() is None:
            self.journal.start_attempt(self.login, server_url=via or self.server.url)
        keys = [str(uuid.uuid4()) for _ in range(count)]
        with self.db.atomic():
            for key in keys:
                envelope = ResultEnvelope(
                    idempotency_key=key,
                    attempt_id=self.login.attempt_id,
                    section_ids=["mc"],
                    answers=[AnswerRecord(item_id="mc-circles", value="b", answered_at=START)],
                    finished_at=START + timedelta(minutes=1),
                    final=False,
                )
                text = (body or (lambda text: text))(envelope.model_dump_json())
                assert self.outbox.queue_result(self.login.attempt_id, key, text, self.clock.now())
        return keys

    def uploader(self, **kw: object) -> Uploader:
        return Uploader(
            lambda: open_database(self.path),
            lambda url: InvigilClient(url, machine_id="pc-1", timeout=0.3),
            now=self.clock.now,
            rng=random.Random(7),
            backoff=FAST,
            **kw,  # type: ignore[arg-type]
        )

    def drain(self, uploader: Uploader, *, rounds: int = 200) -> None:
        """Drains until every result is confirmed or refused, moving the clock to each retry instead of waiting."""
        outbox = self.outbox
        for _ in range(rounds):
            uploader.drain_until_idle()
            due = outbox.next_due_at()
            if due is None and outbox.depth() == len(outbox.needs_attention()):
                return
            if due is not None and due > self.clock.now():
                self.clock.advance((due - self.clock.now()).total_seconds())
        raise AssertionError(f"outbox not drained after {rounds} rounds: {outbox.entries()}")

    def states(self) -> dict[str, str]:
        return {e.idempotency_key: e.state for e in self.outbox.entries(kind="result")}


@pytest.fixture
def rig(
    journal: Journal,
    journal_db: sqlite_utils.Database,
    tmp_path: Path,
    login: LoginResponse,
    server: LoopbackServer,
    clock: FakeClock,
) -> Rig:
    return Rig(journal, journal_db, tmp_path / "journal.sqlite3", login, server, clock)


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


def test_every_result_reaches_the_server_and_is_kept_here_as_sent(rig: Rig) -> None:
    rig.sit(3)
    committed = {e.idempotency_key for e in rig.outbox.entries(kind="result")}
    assert rig.outbox.depth() == 3
    uploader = rig.uploader()
    uploader.start_up()
    rig.drain(uploader)
    uploader.close()
    assert sorted(rig.server.result_keys(rig.login.attempt_id)) == sorted(committed)
    assert set(rig.states().values()) == {"sent"}
    assert rig.outbox.depth() == 0


def test_a_503_is_retried_after_a_backoff_and_then_sent(rig: Rig) -> None:
    with FaultProxy(("127.0.0.1", rig.server.port), [Fault("busy")]) as proxy:
        rig.sit(1, via=proxy.url)
        outbox, clock = rig.outbox, rig.clock
        uploader = rig.uploader()
        uploader.drain_until_idle()  # the 503 ends this drain: the row waits for its backoff
        [entry] = outbox.entries(kind="result")
        assert [fault for fault, _ in proxy.applied] == ["busy"]
        assert entry.state == "pending"
        assert entry.attempts == 1
        assert entry.next_try_at is not None
        assert clock.now() <= entry.next_try_at <= clock.now() + timedelta(seconds=FAST.base)
        assert "503" in (entry.last_error or ""), "the row says why it is still here (the console shows it)"
        rig.drain(uploader)
        uploader.close()
    assert rig.server.result_keys(rig.login.attempt_id) == [entry.idempotency_key]
    assert outbox.entry(entry.idempotency_key) == dataclasses.replace(
        entry, state="sent", next_try_at=None, last_error=None
    ), "sent, and the old error is gone"


def test_an_unanswering_server_costs_one_timeout_per_round_not_one_per_row(rig: Rig) -> None:
    with FaultProxy(("127.0.0.1", rig.server.port), [Fault("blackhole")]) as proxy:
        rig.sit(3, via=proxy.url)
        uploader = rig.uploader()
        uploader.drain_until_idle()
        # The three results went in one batch request: one timeout for all of them, each counted once.
        [(fault, request)] = proxy.applied
        assert (fault, request.split()[1]) == ("blackhole", f"/api/v1/attempts/{rig.login.attempt_id}/results/batch")
        entries = rig.outbox.entries(kind="result")
        assert [(e.state, e.attempts) for e in entries] == [("pending", 1)] * 3
        assert all("did not answer within 0.3 seconds" in (e.last_error or "") for e in entries)
        rig.drain(uploader)
        uploader.close()
    assert len(rig.server.result_keys(rig.login.attempt_id)) == 3


def test_a_refused_result_is_kept_for_staff_and_the_rest_still_go(rig: Rig) -> None:
    rig.sit(2)
    outbox = rig.outbox
    first, second = outbox.entries(kind="result")
    # Someone already used the first key for different answers: the server answers 409 and will never take it.
    forged = ResultEnvelope.model_validate_json(first.body).model_copy(update={"answers": []})
    with InvigilClient(rig.server.url) as client:
        client.submit_result(rig.login.attempt_id, rig.login.attempt_token, forged)
    uploader = rig.uploader()
    rig.drain(uploader)
    uploader.close()
    [held] = outbox.needs_attention()
    assert held.idempotency_key == first.idempotency_key
    assert held.body == first.body, "the refused envelope is kept exactly as committed"
    assert "already received with different content" in (held.last_error or "")
    assert outbox.entry(second.idempotency_key).state == "sent"  # type: ignore[union-attr]
    assert (outbox.depth(), outbox.needs_attention_count()) == (1, 1)


def test_the_newest_progress_checkpoint_reaches_the_server(rig: Rig) -> None:
    with FaultProxy(("127.0.0.1", rig.server.port)) as proxy:
        session = rig.sit(0, via=proxy.url)
        for _ in range(3):
            rig.clock.advance(5)
            session.checkpoint()
        uploader = rig.uploader()
        uploader.drain_until_idle()
        uploader.close()
        paths = [request.split()[1] for _, request in proxy.applied]
    assert paths == [f"/api/v1/attempts/{rig.login.attempt_id}/checkpoint"], "three in the journal, the newest sent"
    assert [e.state for e in rig.outbox.entries(kind="checkpoint")] == ["sent"]
    held = server_attempt(rig.server, rig.login.attempt_id).checkpoint
    assert held is not None
    assert (held["item_id"], held["remaining_seconds"]) == (session.item.id, 585)


def test_the_thread_drains_at_start_up_sends_new_results_when_woken_and_stops(rig: Rig) -> None:
    session = rig.sit(1)
    uploader = rig.uploader(idle_wait=30.0)
    uploader.start()
    try:
        wait_until(
            lambda: len(rig.server.result_keys(rig.login.attempt_id)) == 1, what="the start-up drain", timeout=20
        )
        session.end_section()
        uploader.wake()  # what the UI does after a section ends; otherwise it would wait idle_wait (30 s)
        wait_until(lambda: len(rig.server.result_keys(rig.login.attempt_id)) == 2, what="wake() to send", timeout=20)
        wait_until(lambda: rig.outbox.depth() == 0, what="an empty outbox", timeout=20)
    finally:
        uploader.stop()
    assert not uploader.is_alive()


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


@pytest.mark.parametrize("sections", [3, 1], ids=["three results", "one result"])
def test_an_attempts_results_go_in_one_batch_request_and_a_single_one_as_a_batch_of_one(
    rig: Rig, sections: int
) -> None:
    with FaultProxy(("127.0.0.1", rig.server.port), []) as proxy:
        rig.sit(sections, via=proxy.url)
        uploader = rig.uploader()
        uploader.drain_until_idle()
        uploader.close()
        paths = [request.split()[1] for _, request in proxy.applied if "/results" in request]
    assert paths == [f"/api/v1/attempts/{rig.login.attempt_id}/results/batch"]
    assert list(rig.states().values()) == ["sent"] * sections
    assert len(rig.server.result_keys(rig.login.attempt_id)) == sections


# ---- draining with the next batch claimed while one is with the server ----------------------------------------


def test_a_long_drain_sends_one_batch_request_per_round_and_every_result_once(rig: Rig) -> None:
    with FaultProxy(("127.0.0.1", rig.server.port)) as proxy:
        keys = rig.queue(11, via=proxy.url)
        uploader = rig.uploader(batch_size=3)
        uploader.drain_until_idle()
        uploader.close()
        paths = [request.split()[1] for _, request in proxy.applied]
    batch = f"/api/v1/attempts/{rig.login.attempt_id}/results/batch"
    assert paths == [batch] * 4, "11 results in rounds of 3, 3, 3 and 2"
    assert sorted(rig.server.result_keys(rig.login.attempt_id)) == sorted(keys)
    assert rig.states() == dict.fromkeys(keys, "sent")
    assert rig.outbox.depth() == 0


def pipeline_fault(rng: random.Random) -> Fault:
    return rng.choice(
        [
            Fault("pass"),
            Fault("reset"),
            Fault("cut", cut_after=rng.randint(0, 300)),
            Fault("busy"),
            Fault("reply_lost"),
            Fault("delay", delay=rng.uniform(0.0, 0.05)),
            Fault("blackhole") if rng.random() < 0.3 else Fault("pass"),
        ]
    )


@pytest.mark.parametrize("seed", range(25))
def test_a_long_drain_delivers_each_result_once_whatever_the_network_does(rig: Rig, seed: int) -> None:
    rng = random.Random(seed)
    schedule = [pipeline_fault(rng) for _ in range(rng.randint(1, 8))]
    with FaultProxy(("127.0.0.1", rig.server.port), schedule) as proxy:
        keys = rig.queue(rng.randint(4, 10), via=proxy.url)
        uploader = rig.uploader(batch_size=rng.randint(2, 4))
        try:
            rig.drain(uploader)
        finally:
            uploader.close()
        context = f"seed {seed}: {[(str(f), r.split()[1]) for f, r in proxy.applied]}"
    held = rig.server.result_keys(rig.login.attempt_id)
    assert sorted(held) == sorted(keys), context
    assert rig.states() == dict.fromkeys(keys, "sent"), context


def test_stopping_while_a_batch_travels_records_its_receipts_and_releases_the_next(rig: Rig) -> None:
    # The second request is held back a little by the proxy; the uploader is told to stop meanwhile.
    schedule = [Fault("pass"), Fault("delay", delay=0.2)]  # (the client waits 0.3 s)
    with FaultProxy(("127.0.0.1", rig.server.port), schedule) as proxy:
        keys = rig.queue(8, via=proxy.url)
        uploader = rig.uploader(batch_size=3)

        def drain_then_close() -> None:  # the uploader's journal connection belongs to the thread that drains
            try:
                uploader.drain_until_idle()
            finally:
                uploader.close()

        draining = threading.Thread(target=drain_then_close)
        draining.start()
        wait_until(lambda: len(proxy.applied) == 2, what="the second batch to leave", timeout=20)
        uploader.stop()
        draining.join()
        assert len(proxy.applied) == 2, "nothing is sent after stop()"
    states = rig.states()
    assert [states[key] for key in keys] == ["sent"] * 6 + ["pending"] * 2
    assert sorted(rig.server.result_keys(rig.login.attempt_id)) == sorted(keys[:6])


def test_a_stored_result_the_server_cannot_read_is_kept_for_staff_and_the_rest_still_go(rig: Rig) -> None:
    # Rows as some other version might have written them: JSON, but not an envelope this server accepts. The
    # server refuses those two in its reply to the batch and stores the rest: one request, no fallback.
    bad = rig.queue(2, body=lambda text: text.replace('"final":false', '"final":false,"extra":1'))
    good = rig.queue(3)
    with FaultProxy(("127.0.0.1", rig.server.port)) as proxy:
        rig.db.execute("UPDATE attempts SET server_url = ?", [proxy.url])
        uploader = rig.uploader()
        rig.drain(uploader)
        uploader.close()
        statuses = [(request.split()[1].rsplit("/", 1)[1], fault) for fault, request in proxy.applied]
    assert statuses == [("batch", "pass")]
    refused = rig.outbox.needs_attention()
    assert sorted(e.idempotency_key for e in refused) == sorted(bad)
    assert all(
        (e.last_error or "").startswith("These results are not valid: extra: is not a field of this request")
        for e in refused
    )
    assert sorted(rig.server.result_keys(rig.login.attempt_id)) == sorted(good)
    assert [rig.states()[key] for key in good] == ["sent"] * 3


def test_a_batch_the_server_cannot_read_at_all_goes_again_as_batches_of_one(rig: Rig) -> None:
    # A row whose JSON is not an envelope at all (some other version's, or a damaged row): the server cannot find
    # its key, so it refuses the whole request with nothing stored. Sent alone, only that row is refused.
    bad = rig.queue(1, body=lambda text: "[]")
    good = rig.queue(2)
    with FaultProxy(("127.0.0.1", rig.server.port)) as proxy:
        rig.db.execute("UPDATE attempts SET server_url = ?", [proxy.url])
        uploader = rig.uploader()
        rig.drain(uploader)
        uploader.close()
        paths = [request.split()[1].rsplit("/", 1)[1] for _, request in proxy.applied]
    assert paths == ["batch"] * 4, "the whole batch, then each of its three alone"
    [refused] = rig.outbox.needs_attention()
    assert refused.idempotency_key == bad[0]
    assert "not valid" in (refused.last_error or "")
    assert sorted(rig.server.result_keys(rig.login.attempt_id)) == sorted(good)


def test_a_batch_too_large_for_the_server_is_sent_as_batches_of_one(rig: Rig) -> None:
    # Five envelopes of 3 MB (spaces inside the JSON: the same envelopes) pass the server's 12.5 MB batch limit
    # together, and fit it one at a time.
    keys = rig.queue(5, body=lambda text: text.replace('"final":false', '"final":' + " " * (3 * 2**20) + "false"))
    with FaultProxy(("127.0.0.1", rig.server.port)) as proxy:
        rig.db.execute("UPDATE attempts SET server_url = ?", [proxy.url])
        uploader = rig.uploader()
        rig.drain(uploader)
        uploader.close()
        statuses = [(request.split()[1].rsplit("/", 1)[1], fault) for fault, request in proxy.applied]
    assert statuses == [("batch", "pass")] * 6
    assert rig.outbox.needs_attention() == []
    assert sorted(rig.server.result_keys(rig.login.attempt_id)) == sorted(keys)
