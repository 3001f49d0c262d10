"""doctor's test helpers: edges faked only where this machine truly lacks the thing (a sound card, a keyring service,
a real display, a chosen host name), an address where nothing listens, and a report's checks by key."""

from __future__ import annotations

import dataclasses
import socket
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from player.config import PlayerConfig
from player.credentials import ChosenBackend, InMemoryBackend
from player.doctor.edges import DoctorEdges, ScreenInfo
from player.doctor.report import Check, Report
from player.offline_queue.journal import Journal
from sync.protocol import AnswerRecord, ResultEnvelope
from tests.helpers.player import make_login


@dataclass
class FakeTone:
    """Plays nothing (no sound card here): keeps what it was given and answers `problem`."""

    problem: str | None = None
    heard: list[tuple[int, float]] = field(default_factory=list)
    """(frames, seconds) of each WAV it was asked to play."""

    def play_tone(self, path: Path, *, timeout_seconds: float) -> str | None:
        with wave.open(str(path), "rb") as tone:
            self.heard.append((tone.getnframes(), tone.getnframes() / tone.getframerate()))
        return self.problem


def persistent_keyring(setting: str) -> ChosenBackend:
    return ChosenBackend(InMemoryBackend(), "Test keyring", True, "tokens kept in the Test keyring")


STUDENT_UID = 1000
"""An ordinary account's user id (not root's 0)."""


def good_edges(**changes: Any) -> DoctorEdges:
    """The real clock, disk, network and SQLite; a speaker, a keyring, a big screen, a chosen host name and an
    ordinary user (not root)."""
    tone = FakeTone()
    edges = DoctorEdges(
        audio_outputs=lambda: ["Built-in Audio Analog Stereo"],
        tone_player=lambda: tone,
        keyring=persistent_keyring,
        screen=lambda: ScreenInfo(width=1920, height=1080, platform="xcb", name="HDMI-1"),
        host_name=lambda: "room12-pc03",
        effective_uid=lambda: STUDENT_UID,  # not root, whoever runs the tests (root in some containers)
    )
    return dataclasses.replace(edges, **changes)


MakeConfig = Callable[..., PlayerConfig]
"""The make_config fixture (tests/player/doctor/conftest.py): server_url and settings -> the config as read."""


def closed_port_url() -> str:
    """An address where nothing listens: a port the kernel gave out and that was closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def check_of(report: Report, key: str) -> Check:
    (found,) = [c for c in report.checks if c.key == key]
    return found


def statuses(report: Report) -> dict[str, str]:
    return {c.key: str(c.status) for c in report.checks}


def write_unsent_result(db: sqlite_utils.Database, delivery: object, server_url: str) -> None:
    """One finished section's result in the outbox, as the player journals it."""
    journal = Journal(db)
    login = make_login(delivery)
    journal.start_attempt(login, server_url=server_url)
    answered = datetime(2027, 3, 1, 9, 5, tzinfo=UTC)
    envelope = ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=login.attempt_id,
        section_ids=["mc"],
        answers=[AnswerRecord(item_id="mc-circles", value="b", answered_at=answered)],
        finished_at=answered,
    )
    journal.finish_section(login.attempt_id, "mc", envelope=envelope.model_dump(mode="json"))
