"""Supervision without Qt, on a real journal: when a heartbeat is due, what it tells the room (the results waiting
among it), one at a time, instructions taken once across restarts, and what a failed heartbeat means."""

from __future__ import annotations

import math
from types import TracebackType

import pytest

from player.offline_queue.journal import Journal
from player.session import SittingSession
from player.supervision import Supervision, added_time_text, heartbeat_for, one_line
from sync.client import InvigilClient, Refused, Unreachable
from sync.protocol import Heartbeat, HeartbeatReply, Instruction
from sync.version import VERSION
from tests.helpers.clock import FakeClock
from tests.helpers.player import make_login


class RoomLink:
    """The network at its edge: a client that keeps each heartbeat it is given and answers with no instructions."""

    def __init__(self) -> None:
        self.beats: list[tuple[str, str, Heartbeat]] = []

    def __enter__(self) -> RoomLink:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        return None

    def heartbeat(self, attempt_id: str, token: str, beat: Heartbeat) -> HeartbeatReply:
        self.beats.append((attempt_id, token, beat))
        return HeartbeatReply(instructions=[])


def open_sitting(journal: Journal, clock: FakeClock, delivery: object) -> SittingSession:
    attempt = journal.start_attempt(make_login(delivery), server_url="http://server")
    return SittingSession(journal=journal, attempt=attempt, clock=clock)


def supervision(journal: Journal, clock: FakeClock, link: RoomLink, *, every: float | None = 5.0) -> Supervision:
    def make_client() -> InvigilClient:
        return link  # type: ignore[return-value]  # the calls a heartbeat makes, nothing else

    return Supervision(journal, make_client=make_client, clock=clock, every=every, machine_id="room1-pc01")


def test_the_heartbeat_says_where_the_sitting_is_and_how_many_results_wait(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = open_sitting(journal, clock, demo_delivery)
    session.go_next()
    clock.advance(10.4)
    beat = heartbeat_for(session, outbox_depth=0, paused=True, machine_id="room1-pc01")
    assert (beat.section_id, beat.item_index, beat.item_count) == (session.section.id, 2, len(session.section.items))
    assert beat.remaining_seconds == math.ceil(session.remaining_seconds())
    assert beat.paused
    assert not beat.finished

    link = RoomLink()
    watch = supervision(journal, clock, link)
    session.end_section()  # its result envelope waits in the outbox
    work = watch.beat(session, paused=False)
    assert work is not None
    work()
    [(attempt_id, token, sent)] = link.beats
    assert (attempt_id, token) == (session.attempt_id, "token-secret")
    assert sent.outbox_depth == 1
    assert sent.machine_id == "room1-pc01"


def test_a_finished_sitting_reports_only_that_and_its_waiting_results(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = open_sitting(journal, clock, demo_delivery)
    while not session.end_section().finished:
        pass
    beat = heartbeat_for(session, outbox_depth=3, paused=False, machine_id=None)
    assert beat.finished
    assert beat.outbox_depth == 3
    assert beat.section_id is None


def test_heartbeats_are_due_every_interval_and_never_two_at_once(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = open_sitting(journal, clock, demo_delivery)
    watch = supervision(journal, clock, RoomLink(), every=5.0)
    watch.begin(session.attempt_id)
    clock.advance(4.75)
    assert not watch.is_due()
    clock.advance(0.25)
    assert watch.is_due()
    assert watch.beat(session, paused=False) is not None
    assert not watch.is_due()  # the interval starts again when one is sent
    assert watch.beat(session, paused=False) is None  # the last one is still on its way
    watch.replied()
    assert watch.beat(session, paused=False) is not None

    never = supervision(journal, clock, RoomLink(), every=None)
    never.begin(session.attempt_id)
    clock.advance(3600)
    assert not never.is_due()


def test_an_instruction_is_taken_once_even_after_a_restart(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = open_sitting(journal, clock, demo_delivery)
    pause = Instruction(id="instr-1", kind="pause")
    watch = supervision(journal, clock, RoomLink())
    watch.begin(session.attempt_id)
    assert watch.take(session.attempt_id, pause)
    assert not watch.take(session.attempt_id, pause)
    assert journal.paused_by_invigilator(session.attempt_id)

    after_restart = supervision(journal, clock, RoomLink())
    after_restart.begin(session.attempt_id)
    assert not after_restart.take(session.attempt_id, pause)
    assert after_restart.take(session.attempt_id, Instruction(id="instr-2", kind="resume"))
    assert not journal.paused_by_invigilator(session.attempt_id)


def test_a_refused_token_means_the_code_moved_and_anything_else_is_not_delivered(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = open_sitting(journal, clock, demo_delivery)
    watch = supervision(journal, clock, RoomLink())
    moved = Refused("This sign-in was moved.", status=401, error="attempt_token_invalid")
    assert watch.beat(session, paused=False) is not None
    assert watch.failed(session.attempt_id, moved) == "moved"
    assert watch.beat(session, paused=False) is not None  # a failure ends the one in flight
    offline = Unreachable("http://server", "connection refused")
    assert watch.failed(session.attempt_id, offline) == "not_delivered"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (120, "Your invigilator added 2 minutes."),
        (61, "Your invigilator added 1 minute 1 second."),
        (30, "Your invigilator added 30 seconds."),
        (0, "Your invigilator added 0 seconds."),
    ],
)
def test_added_time_is_said_in_minutes_and_seconds(seconds: int, text: str) -> None:
    assert added_time_text(seconds) == text


class MachineState:
    """What the machine knows of itself between heartbeats: its readiness check (None until it has run) and the
    kiosk's count of times the test window was left."""

    def __init__(self) -> None:
        self.readiness: str | None = None
        self.left = 0
        self.broken = False

    def summary(self) -> str | None:
        if self.broken:
            raise RuntimeError("the readiness check's result is unreadable")
        return self.readiness

    def left_window_count(self) -> int:
        if self.broken:
            raise RuntimeError("the kiosk's counter is gone")
        return self.left


def reporting(journal: Journal, clock: FakeClock, link: RoomLink, machine: MachineState) -> Supervision:
    return Supervision(
        journal,
        make_client=lambda: link,  # type: ignore[arg-type,return-value]  # the calls a heartbeat makes
        clock=clock,
        every=5.0,
        machine_id="room1-pc01",
        readiness=machine.summary,
        left_window_count=machine.left_window_count,
    )


def sent_as_json(link: RoomLink) -> dict[str, object]:
    """The newest heartbeat as the server receives it (and validated as it does)."""
    wire = link.beats[-1][2].model_dump_json()
    parsed: dict[str, object] = Heartbeat.model_validate_json(wire).model_dump(exclude_unset=True)
    return {key: value for key, value in parsed.items() if key in ("app_version", "readiness", "left_window_count")}


def test_each_heartbeat_says_the_version_the_readiness_and_the_times_the_window_was_left(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = open_sitting(journal, clock, demo_delivery)
    link, machine = RoomLink(), MachineState()
    watch = reporting(journal, clock, link, machine)
    watch.begin(session.attempt_id)

    def beat() -> dict[str, object]:
        work = watch.beat(session, paused=False)
        assert work is not None
        work()
        watch.replied()
        return sent_as_json(link)

    # Before the check has run and before the student has left: only the version (as players before these sent).
    assert beat() == {"app_version": VERSION}
    machine.readiness = "Ready"
    machine.left = 2
    assert beat() == {"app_version": VERSION, "readiness": "Ready", "left_window_count": 2}
    # A summary with a line break, an escape and more than fits: one line the server takes, cut with "...".
    machine.readiness = "Clock against the server:\n  75 s behind\x1b[2J; " + "Free disk space: 50 MB; " * 20
    sent = beat()
    readiness = sent["readiness"]
    assert isinstance(readiness, str)
    assert readiness.startswith("Clock against the server: 75 s behind [2J; Free disk space: 50 MB;")
    assert (len(readiness), readiness[-3:]) == (200, "...")


def test_a_report_that_cannot_be_read_costs_its_field_never_the_heartbeat(
    journal: Journal, clock: FakeClock, demo_delivery: object
) -> None:
    session = open_sitting(journal, clock, demo_delivery)
    link, machine = RoomLink(), MachineState()
    watch = reporting(journal, clock, link, machine)
    watch.begin(session.attempt_id)
    machine.readiness, machine.left = "Ready", 4
    for broken in (False, True):
        machine.broken = broken
        work = watch.beat(session, paused=False)
        assert work is not None
        work()
        watch.replied()
    assert len(link.beats) == 2
    assert sent_as_json(link) == {"app_version": VERSION, "left_window_count": 4}, "the last count known is kept"


@pytest.mark.parametrize(
    ("text", "line"),
    [(None, None), ("Ready", "Ready"), ("  two\r\nlines\t ", "two lines"), ("x" * 45, "x" * 37 + "...")],
)
def test_a_report_is_one_line_that_fits(text: str | None, line: str | None) -> None:
    assert one_line(text, 40) == line
