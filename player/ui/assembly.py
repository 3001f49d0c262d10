"""The one way a player is put together (app.py, the tests, the bench): config in, controller and parts out, with
only the true edges (sound devices, clock, network, uploader pace) replaceable."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from player.ui.controller import PlayerController
from player.ui.parts import ControllerSettings, SittingParts
from player.ui.tasks import TaskRunner

if TYPE_CHECKING:
    # Types only: the audio stack, sqlite-utils, requests and the wire types are imported when the parts are
    # built (controller.start()), after the access-code screen's first paint.
    import sqlite_utils

    from player.audio.interface import OutputDevices
    from player.audio.qt import QtAudioPlayer
    from player.clock import Clock
    from player.config import PlayerConfig
    from player.credentials import TokenStore
    from player.doctor.checks import DoctorEdges
    from player.doctor.report import Report
    from player.offline_queue.journal import Journal
    from player.offline_queue.uploader import Backoff, UploadClient, Uploader
    from player.ui.kiosk import Kiosk
    from player.ui.window import MainWindow
    from sync.client import InvigilClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Uploads:
    """How the outbox is sent: through `connect` (None: the player's own network), at this pace."""

    connect: Callable[[str], UploadClient] | None = None
    backoff: Backoff | None = None
    """None: the uploader's own (seconds to a minute, with jitter)."""
    idle_wait: float = 30.0


@dataclass(frozen=True)
class Edges:
    """Where a school machine meets the world. A test or the bench puts its own here, and only here."""

    devices: OutputDevices | None = None
    """Sound output devices; None: this machine's (QMediaDevices). A machine without a sound card names fixed ones."""
    playback_rate: float = 1.0
    clock: Clock | None = None
    """The section clock; None: the system's."""
    today: Callable[[], datetime] = datetime.now
    connect: Callable[[str], InvigilClient] | None = None
    """A client for a server address; None: client_maker(config, machine_id), as on a school machine."""
    uploads: Uploads | None = field(default_factory=Uploads)
    """None: no uploader (results stay in the outbox: a test of what the finished screen shows then)."""
    staff_console: bool = True
    """False: as a build without the staff console ("Staff sign in" says so)."""
    doctor_edges: DoctorEdges | None = None
    """What the readiness check (player.doctor, run quick once after start for the heartbeats) touches; None: this
    machine's."""


def client_maker(config: PlayerConfig, machine_id: str) -> Callable[[str], InvigilClient]:
    """A client for a server address, set up from the config (timeout, the school's CA bundle) and naming this
    machine: the one way the player, its uploader and the staff console reach a server (sync.client.client_for)."""

    def make(server_url: str) -> InvigilClient:
        from sync.client import client_for

        return client_for(
            server_url, machine_id=machine_id, timeout=config.request_timeout_seconds, ca_bundle=config.ca_bundle
        )

    return make


def controller_settings(config: PlayerConfig, machine_id: str) -> ControllerSettings:
    """The controller's settings from the config."""
    from player.machine_name import resolve_machine_name  # as the config: read once the config is

    return ControllerSettings(
        server_url=config.server_url,
        checkpoint_every=config.checkpoint_interval_seconds,
        typing_commit_every=config.typing_commit_seconds,
        heartbeat_every=config.heartbeat_interval_seconds,
        machine_id=machine_id,
        machine_name=resolve_machine_name(config),
    )


def make_uploader(config: PlayerConfig, connect: Callable[[str], UploadClient], uploads: Uploads) -> Uploader:
    """The background sender of the outbox, on its own connection to the journal (opened in its thread).

    It sends no heartbeats: ui/invigilation.py does, with the position only the GUI knows, so there is one
    heartbeat source and one place where instructions are applied."""
    from player.offline_queue.db import journal_path, open_database
    from player.offline_queue.uploader import Uploader

    path = journal_path(config.data_dir)
    return Uploader(lambda: open_database(path), connect, backoff=uploads.backoff, idle_wait=uploads.idle_wait)


def staff_console_opener(
    window: MainWindow,
    config: PlayerConfig,
    tasks: TaskRunner,
    *,
    connect: Callable[[str], InvigilClient],
    journal: Journal | None = None,
    wake_uploader: Callable[[], None] | None = None,
) -> Callable[[], None] | None:
    """What the access-code screen's "Staff sign in" calls, or None when this build has no staff console.

    The console is imported, and the keyring probed, on first use, not at start-up: a student machine may
    never open it, and importing it costs ~300 ms and ~14 MB. Raises ImportError then if it cannot be loaded."""
    import importlib.util

    if importlib.util.find_spec("player.ui.console") is None:
        log.warning("This build has no staff console")
        return None
    tokens: list[TokenStore] = []

    def open_staff_console() -> None:
        from player.credentials import TokenStore, choose_backend
        from player.ui import console
        from player.unsent_results import send_now_from, unsent_results

        open_console = getattr(console, "open_console", None)
        settings_type = getattr(console, "ConsoleSettings", None)
        if open_console is None or settings_type is None:
            raise ImportError("player.ui.console has no open_console/ConsoleSettings")
        if not tokens:
            tokens.append(TokenStore(choose_backend(config.keyring_backend)))
        # "Results waiting on this computer": read on the GUI thread, where this journal connection lives.
        local = None if journal is None else (lambda: unsent_results(journal))
        send_now = None if journal is None or wake_uploader is None else send_now_from(journal, wake_uploader)
        opened = open_console(
            window,
            client_factory=lambda: connect(config.server_url),
            credentials=tokens[0],
            tasks=tasks,
            settings=settings_type.from_config(config),
            local_results=local,
            send_now=send_now,
        )
        from player.ui.console.readiness import machine_check_for

        # The staff-only Readiness tab: this machine's full checks (the tone too) and its support bundle.
        opened.offer_machine_check(machine_check_for(config))

        from player.ui.console.kiosk_exit import TAB_TITLE, KioskExitView  # kiosk mode's exit codes (docs/kiosk.md)

        opened.add_sitting_tab(TAB_TITLE, KioskExitView)

    return open_staff_console


class Assembled:
    """A player put together by build_controller: the controller now, the parts once controller.start() (or the
    first access code) built them; close() ends what was built, in order."""

    def __init__(self, controller: PlayerController, tasks: TaskRunner) -> None:
        self.controller = controller
        self.tasks = tasks
        self.db: sqlite_utils.Database | None = None
        self.journal: Journal | None = None
        self.player: QtAudioPlayer | None = None
        self.devices: OutputDevices | None = None
        self.uploader: Uploader | None = None
        self.kiosk: Kiosk | None = None
        """Kiosk mode (when the config says so) and the record of departures from the test window."""

    def close(self) -> None:
        """Typing and position committed, the uploader stopped, every task finished, then the files closed."""
        self.controller.shutdown()
        if self.uploader is not None:
            self.uploader.stop()
        self.tasks.wait()
        if self.player is not None:
            self.player.close()
        if self.db is not None:
            self.db.close()


def build_controller(
    window: MainWindow,
    *,
    config: PlayerConfig,
    machine_id: str,
    edges: Edges | None = None,
    settings: ControllerSettings | None = None,
) -> Assembled:
    """The controller for `window`, its sitting parts deferred to controller.start() (or the first access code):
    the journal (opened and migrated), the audio stack, the other screens, the uploader and the staff console.

    `settings`: None reads them from the config (controller_settings); tests pass their own pace. Building the
    parts raises DatabaseSetupError or OSError when the journal cannot be opened."""
    edges = edges if edges is not None else Edges()
    connect = edges.connect if edges.connect is not None else client_maker(config, machine_id)
    tasks = TaskRunner(parent=window)

    def build_parts() -> SittingParts:
        from player.audio.devices import QtOutputDevices
        from player.audio.qt import QtAudioPlayer
        from player.offline_queue.db import journal_path, open_database
        from player.offline_queue.journal import Journal
        from resources import soundcheck_path
        from sync.mediacache import MediaCache

        built.db = open_database(journal_path(config.data_dir))
        built.journal = journal = Journal(built.db)
        if built.kiosk is not None:
            built.kiosk.watch(journal)  # departures from the test window go into this journal
        built.devices = devices = edges.devices if edges.devices is not None else QtOutputDevices()
        built.player = player = QtAudioPlayer(devices, playback_rate=edges.playback_rate)
        window.add_sitting_screens(player=player, devices=devices, soundcheck_clip=soundcheck_path())
        wake: Callable[[], None] | None = None
        if edges.uploads is not None:
            upload_connect = edges.uploads.connect if edges.uploads.connect is not None else connect
            built.uploader = make_uploader(config, upload_connect, edges.uploads)
            wake = controller.wake_uploader = built.uploader.wake
        if edges.staff_console:
            controller.open_staff_console = staff_console_opener(
                window, config, tasks, connect=connect, journal=journal, wake_uploader=wake
            )
        if built.uploader is not None:
            built.uploader.start()
        from player.offline_queue.time_left import TimeLeftRecord, time_left_path

        time_left = TimeLeftRecord(time_left_path(config.data_dir))
        from player.doctor.checks import run_doctor
        from player.doctor.edges import with_gui_answers_now
        from player.ui.invigilation import readiness_in_background

        def prepare_readiness() -> Callable[[], Report]:
            # On the GUI thread: the audio outputs and the screen are read here, so the worker never waits for
            # this thread (closing the app waits for the worker).
            ready_edges = with_gui_answers_now(edges.doctor_edges)
            return lambda: run_doctor(config, edges=ready_edges, quick=True)

        # The quick readiness check (no test tone), off the GUI thread from the first heartbeat on: its summary rides on them.
        readiness = readiness_in_background(tasks, prepare_readiness)
        return SittingParts(
            journal=journal,
            media_cache=MediaCache(config.data_dir / "media"),
            player=player,
            time_left=time_left,
            readiness=readiness,
            # The kiosk's count of departures from the test window (any mode); read on the GUI thread, as beats are.
            left_window_count=lambda: built.kiosk.left_window_count() if built.kiosk is not None else 0,
        )

    controller = PlayerController(
        window=window,
        make_client=lambda: connect(config.server_url),
        tasks=tasks,
        settings=settings if settings is not None else controller_settings(config, machine_id),
        build_parts=build_parts,
        clock=edges.clock,
        today=edges.today,
    )
    built = Assembled(controller, tasks)
    from player.ui.kiosk import Kiosk

    built.kiosk = Kiosk(
        window, enabled=config.kiosk, machine_id=machine_id, connect=lambda: connect(config.server_url), tasks=tasks
    )
    return built
