"""The machine's edges doctor's checks touch (clock, disk, audio, keyring, display, host name, network): real by
default, replaced by hand-written fakes in tests where this machine truly lacks the thing (a sound card, a small
disk, a keyring service, a real display)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from player.credentials import ChosenBackend, choose_backend
from player.doctor.edge_types import DiskSpace, ScreenInfo, TonePlayer
from player.doctor.probe import HealthReply, probe_health

__all__ = ["DiskSpace", "DoctorEdges", "ScreenInfo", "TonePlayer", "with_gui_answers_now"]

_T = TypeVar("_T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _disk_space(path: Path) -> DiskSpace:
    usage = shutil.disk_usage(path)  # statvfs on POSIX (f_bavail), GetDiskFreeSpaceEx on Windows
    return DiskSpace(total_bytes=usage.total, free_bytes=usage.free)


def _effective_uid() -> int | None:
    """This process's effective user id on POSIX (0: root, e.g. under sudo); None on Windows, which has none."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid() if geteuid is not None else None


def _qt_audio_outputs() -> list[str]:
    # Imported here: QtMultimedia costs a noticeable moment, and a check run without audio never needs it.
    from player.doctor.qt_edges import audio_outputs

    return audio_outputs()


def _qt_tone_player() -> TonePlayer:
    from player.doctor.qt_edges import QtTonePlayer

    return QtTonePlayer()


def _qt_primary_screen() -> ScreenInfo | None:
    from player.doctor.qt_edges import primary_screen

    return primary_screen()


@dataclass(frozen=True)
class DoctorEdges:
    """Each edge a plain callable, so a test replaces one with a lambda or a small class."""

    now: Callable[[], datetime] = _utc_now
    """This machine's clock (UTC), compared with the server's Date header."""
    disk_space: Callable[[Path], DiskSpace] = _disk_space
    """statvfs of a folder that exists (the data folder or its nearest existing parent)."""
    audio_outputs: Callable[[], list[str]] = _qt_audio_outputs
    """Descriptions of the audio outputs (QMediaDevices.audioOutputs()); needs a Qt application."""
    tone_player: Callable[[], TonePlayer] = _qt_tone_player
    """Makes what plays the test tone (player/audio/qt.py's QtAudioPlayer); needs a Qt application."""
    keyring: Callable[[str], ChosenBackend] = field(default=choose_backend)
    """The keyring_backend setting -> the store staff tokens would go to (player/credentials.py)."""
    screen: Callable[[], ScreenInfo | None] = _qt_primary_screen
    """The primary screen (None: no screen at all); needs a QGuiApplication."""
    host_name: Callable[[], str] = socket.gethostname
    effective_uid: Callable[[], int | None] = _effective_uid
    """os.geteuid() (None on Windows): 0 means doctor runs as root and checks root's config and data folder."""
    probe_health: Callable[[str, Path | None, float], HealthReply] = field(
        default=lambda url, ca_bundle, timeout: probe_health(url, ca_bundle=ca_bundle, timeout=timeout)
    )
    """GET {server_url}/api/v1/health with the CA bundle and timeout (probe.py, through sync.client)."""


def _answer_now(edge: Callable[[], _T]) -> Callable[[], _T]:
    """`edge` called now; the callable returned gives its answer again, or raises what it raised."""
    try:
        answer = edge()
    except Exception as exc:  # raised again when the check asks, so the check reports it as before
        failure = exc

        def fail() -> _T:
            raise failure

        return fail
    return lambda: answer


def with_gui_answers_now(edges: DoctorEdges | None) -> DoctorEdges:
    """`edges` with the two that need the GUI thread (audio outputs, screen) asked now, on the GUI thread, and
    replaced by their answers (None: the real edges). For checks then run on a worker inside the app: such a worker would otherwise post
    to the GUI thread and wait, and the GUI thread may by then be waiting for the worker (the app closing waits
    for its tasks), which froze the close for GUI_THREAD_WAIT_SECONDS. The test tone is not covered: the quick
    run that uses this leaves it out."""
    edges = edges if edges is not None else DoctorEdges()
    return dataclasses.replace(edges, audio_outputs=_answer_now(edges.audio_outputs), screen=_answer_now(edges.screen))
