"""The player's entry point: the access-code screen first, then config, logging, journal, client and the rest."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QWidget

from player.ui.garbage import GuiThreadGarbageCollector
from player.ui.style import apply_style
from player.ui.window import MainWindow

if TYPE_CHECKING:
    # Imported by the functions that use them, after the access-code screen's first paint (see main): before
    # it, only the window and that screen are loaded. The config reader, the controller and the session cost
    # ~45 ms of CPU, the Qt enum namespace ~30 ms, and requests, pydantic, sqlite-utils and QtMultimedia most
    # of a second.
    import sqlite_utils
    from PySide6.QtCore import QTimer

    from player.audio.qt import QtAudioPlayer
    from player.config import PlayerConfig
    from player.credentials import TokenStore
    from player.offline_queue.journal import Journal
    from player.offline_queue.uploader import Uploader
    from player.ui.controller import ControllerSettings, PlayerController, SittingParts
    from player.ui.tasks import TaskRunner
    from sync.client import InvigilClient

log = logging.getLogger(__name__)

LOG_FILE_NAME = "player.log"
LOG_MAX_BYTES = 2_000_000
LOG_BACKUPS = 5


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="invigil", description="Invigil test player.")
    parser.add_argument("--server", metavar="URL", help="the server's address (overrides the config file)")
    parser.add_argument("--data-dir", metavar="PATH", type=Path, help="where the journal, media and logs are kept")
    return parser.parse_args(argv)


def configure(args: argparse.Namespace) -> PlayerConfig:
    """The config files and environment, then the command line over them. Raises ConfigError."""
    import dataclasses

    from player.config import default_sources, load_config

    config = load_config(default_sources())
    if args.server:
        config = dataclasses.replace(config, server_url=args.server.strip().rstrip("/"))
    if args.data_dir:
        config = dataclasses.replace(config, data_dir=args.data_dir.expanduser().resolve())
    return config


def setup_logging(config: PlayerConfig) -> Path:
    """One rotating file in the data dir, so an IT admin can read what happened on this machine."""
    import logging.handlers  # ~12 ms (socket, pickle): main() calls this after the first paint

    folder = config.data_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE_NAME
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(config.log_level)
    return path


def close_on_interrupt(window: QWidget) -> QTimer:
    """Ctrl+C in a terminal (the demo, a developer) closes the window the normal way, so typing is saved.

    Python runs signal handlers only when it gets control, which Qt's event loop never gives it; the
    returned timer (kept alive by its parent, the window) hands it control a few times a second."""
    import signal

    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda _signum, _frame: window.close())
    wake = QTimer(window)
    wake.timeout.connect(lambda: None)
    wake.start(250)
    return wake


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
    from player.ui.controller import ControllerSettings

    return ControllerSettings(
        server_url=config.server_url,
        checkpoint_every=config.checkpoint_interval_seconds,
        typing_commit_every=config.typing_commit_seconds,
        heartbeat_every=config.heartbeat_interval_seconds,
        machine_id=machine_id,
    )


def make_uploader(config: PlayerConfig, machine_id: str) -> Uploader:
    """The background sender of the outbox, on its own connection to the journal (opened in its thread).

    It sends no heartbeats: the controller does, with the position only the GUI knows, so there is one
    heartbeat source and one place where instructions are applied."""
    from player.offline_queue.db import journal_path, open_database
    from player.offline_queue.uploader import Uploader

    path = journal_path(config.data_dir)
    return Uploader(
        lambda: open_database(path),
        client_maker(config, machine_id),
    )


def staff_console_opener(
    window: QWidget,
    config: PlayerConfig,
    tasks: TaskRunner,
    *,
    machine_id: str,
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
    connect = client_maker(config, machine_id)

    def open_staff_console() -> None:
        from player.credentials import TokenStore, choose_backend
        from player.ui import console

        open_console = getattr(console, "open_console", None)
        settings_type = getattr(console, "ConsoleSettings", None)
        if open_console is None or settings_type is None:
            raise ImportError("player.ui.console has no open_console/ConsoleSettings")
        if not tokens:
            tokens.append(TokenStore(choose_backend(config.keyring_backend)))
        # "Results waiting on this computer": read on the GUI thread, where this journal connection lives.
        local = None if journal is None else (lambda: console.unsent_results(journal))
        send_now = None if journal is None or wake_uploader is None else console.send_now_from(journal, wake_uploader)
        open_console(
            window,
            client_factory=lambda: connect(config.server_url),
            credentials=tokens[0],
            tasks=tasks,
            settings=settings_type.from_config(config),
            local_results=local,
            send_now=send_now,
        )

    return open_staff_console


class Started:
    """What the deferred half of start-up built, so main() can close it; empty until then."""

    def __init__(self) -> None:
        self.db: sqlite_utils.Database | None = None
        self.player: QtAudioPlayer | None = None
        self.uploader: Uploader | None = None
        self.tasks: TaskRunner | None = None
        self.controller: PlayerController | None = None
        self.failure: str | None = None
        """Why start-up failed after the window appeared (the app then exits with status 2)."""

    def close(self) -> None:
        if self.controller is not None:
            self.controller.shutdown()
        if self.uploader is not None:
            self.uploader.stop()
        if self.tasks is not None:
            self.tasks.wait()
        if self.player is not None:
            self.player.close()
        if self.db is not None:
            self.db.close()


def build_sitting_parts(window: MainWindow, *, config: PlayerConfig, started: Started) -> SittingParts:
    """The second half of start-up, after the access-code screen is on screen (or at the first access code):
    the journal (opened and migrated), the audio stack and the other screens.

    Raises DatabaseSetupError or OSError when the journal cannot be opened."""
    from player.audio.devices import QtOutputDevices
    from player.audio.qt import QtAudioPlayer
    from player.offline_queue.db import journal_path, open_database
    from player.offline_queue.journal import Journal
    from player.ui.controller import SittingParts
    from resources import soundcheck_path
    from sync.mediacache import MediaCache

    started.db = open_database(journal_path(config.data_dir))
    devices = QtOutputDevices()
    started.player = player = QtAudioPlayer(devices)
    window.add_sitting_screens(player=player, devices=devices, soundcheck_clip=soundcheck_path())
    return SittingParts(journal=Journal(started.db), media_cache=MediaCache(config.data_dir / "media"), player=player)


class EarlyInput:
    """A code submitted (or "Staff sign in" chosen) in the moment between the first paint and the controller's
    creation, which nothing listens to yet: kept, and handed on once the controller is listening."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self._code: str | None = None
        self._typed = ""
        self._staff = False
        window.access_code.submitted.connect(self._keep_code)
        window.access_code.staff_requested.connect(self._keep_staff)

    def _keep_code(self, code: str) -> None:
        self._code = code
        self._typed = self._window.access_code.code_edit.text()

    def _keep_staff(self) -> None:
        self._staff = True

    def hand_on(self, controller: PlayerController) -> None:
        """Emit what was kept again, now that `controller` listens; a code only while the access-code screen is
        still waiting for one (start-up may have resumed a sitting instead)."""
        screen = self._window.access_code
        screen.submitted.disconnect(self._keep_code)
        screen.staff_requested.disconnect(self._keep_staff)
        code, self._code = self._code, None
        if code is not None and self._window.current_screen() is screen and controller.session is None:
            # controller.start() cleared the box: put the code back, so a refusal shows beside what was typed.
            screen.code_edit.setText(self._typed or code)
            screen.submitted.emit(code)
        if self._staff:
            self._staff = False
            screen.staff_requested.emit()


def start_player(
    app: QApplication, window: MainWindow, args: argparse.Namespace, started: Started, early: EarlyInput
) -> None:
    """The second half of start-up, after the access-code screen's first paint: config and machine id, the
    controller, then (in controller.start()) logging, journal, audio, the other screens and the uploader, and the
    resume check. A failure closes the window again: the app exits with status 2 and the message."""
    from player.config import ConfigError, resolve_machine_id
    from player.offline_queue.db import DatabaseSetupError
    from player.ui.controller import PlayerController
    from player.ui.tasks import TaskRunner

    def fail(exc: Exception) -> None:
        started.failure = str(exc)
        log.error("Invigil cannot start: %s", exc)
        app.exit(2)

    try:
        config = configure(args)
        machine_id = resolve_machine_id(config)  # also finds a data dir that cannot be written
    except (ConfigError, OSError) as exc:
        fail(exc)
        return
    close_on_interrupt(window)
    connect = client_maker(config, machine_id)
    tasks = started.tasks = TaskRunner(parent=window)

    def build_parts() -> SittingParts:
        try:
            log_path = setup_logging(config)
            log.info(
                "Invigil player starting: server %s, data %s, log %s", config.server_url, config.data_dir, log_path
            )
            parts = build_sitting_parts(window, config=config, started=started)
        except (DatabaseSetupError, OSError) as exc:
            fail(exc)
            raise
        uploader = started.uploader = make_uploader(config, machine_id)
        controller.wake_uploader = uploader.wake
        controller.open_staff_console = staff_console_opener(
            window, config, tasks, machine_id=machine_id, journal=parts.journal, wake_uploader=uploader.wake
        )
        uploader.start()
        return parts

    controller = started.controller = PlayerController(
        window=window,
        make_client=lambda: connect(config.server_url),
        tasks=tasks,
        settings=controller_settings(config, machine_id),
        build_parts=build_parts,
    )
    try:
        controller.start()  # builds the parts, then resumes an open attempt or waits for a code
    except Exception:
        if started.failure is None:
            raise
        return  # build_parts logged it and asked the app to exit with status 2
    early.hand_on(controller)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    apply_style(app)
    # Only the access-code screen is built before its first paint; everything else comes after (start_player).
    window = MainWindow()
    GuiThreadGarbageCollector(window)
    early = EarlyInput(window)
    started = Started()
    window.show()
    window.after_first_paint(lambda: start_player(app, window, args, started, early))
    try:
        status = int(app.exec())
    finally:
        started.close()
        log.info("Invigil player stopped")
    if started.failure is not None:
        print(f"Invigil cannot start: {started.failure}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
