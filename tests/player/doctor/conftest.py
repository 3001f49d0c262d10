"""doctor's test setup: a real config file read as the player reads it, and edges faked only where this machine
truly lacks the thing (a sound card, a keyring service, a real display, a chosen host name)."""

from __future__ import annotations

import dataclasses
import socket
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from player.config import ConfigSources, PlayerConfig, load_config
from player.credentials import ChosenBackend, InMemoryBackend
from player.doctor.edges import DoctorEdges, ScreenInfo
from player.doctor.report import Check, Report


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


def good_edges(**changes: Any) -> DoctorEdges:
    """The real clock, disk, network and SQLite; a speaker, a keyring, a big screen and a chosen host name."""
    tone = FakeTone()
    edges = DoctorEdges(
        audio_outputs=lambda: ["Built-in Audio Analog Stereo"],
        tone_player=lambda: tone,
        keyring=persistent_keyring,
        screen=lambda: ScreenInfo(width=1920, height=1080, platform="xcb", name="HDMI-1"),
        host_name=lambda: "room12-pc03",
    )
    return dataclasses.replace(edges, **changes)


MakeConfig = Callable[..., PlayerConfig]


@pytest.fixture
def config_files(tmp_path: Path) -> ConfigSources:
    folder = tmp_path / "etc"
    folder.mkdir()
    return ConfigSources(machine_file=folder / "config.toml", user_file=tmp_path / "user-config.toml", env={})


@pytest.fixture
def make_config(tmp_path: Path, config_files: ConfigSources) -> MakeConfig:
    """Writes the machine-wide file (server_url, data_dir and `settings`) and reads it as the player does."""

    def make(server_url: str, **settings: str | int | bool) -> PlayerConfig:
        lines = [f'server_url = "{server_url}"', f'data_dir = "{tmp_path / "data"}"']
        for key, value in settings.items():
            shown = ("true" if value else "false") if isinstance(value, bool) else value
            lines.append(f'{key} = "{shown}"' if isinstance(value, str) else f"{key} = {shown}")
        config_files.machine_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return load_config(config_files)

    return make


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
