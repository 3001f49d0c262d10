"""The player's entry point: config, logging, journal, client and Qt wired together, then the window."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from player.config import ConfigError, PlayerConfig, default_sources, load_config, resolve_machine_id
from player.ui.controller import ControllerSettings, PlayerController, SittingParts
from player.ui.garbage import GuiThreadGarbageCollector
from player.ui.style import apply_style
from player.ui.tasks import TaskRunner
from player.ui.window import MainWindow

if TYPE_CHECKING:
    # Imported by the functions that build them, after the first paint (see main): requests, pydantic,
    # sqlite-utils and QtMultimedia would otherwise triple the time to the access-code screen.
    import sqlite_utils

    from player.audio.qt import QtAudioPlayer
    from player.credentials import TokenStore
    from player.offline_queue.journal import Journal
    from player.offline_queue.uploader import Uploader
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
    signal.signal(signal.SIGINT, lambda _signum, _frame: window.close())
    wake = QTimer(window)
    wake.timeout.connect(lambda: None)
    wake.start(250)
    return wake


def client_maker(config: PlayerConfig, machine_id: str) -> Callable[[str], InvigilClient]:
    """A client for a server address, set up from the config (timeout, the school's CA bundle)."""
    verify: str | bool = str(config.ca_bundle) if config.ca_bundle is not None else True

    def make(server_url: str) -> InvigilClient:
        from sync.client import InvigilClient

        return InvigilClient(server_url, machine_id=machine_id, timeout=config.request_timeout_seconds, verify=verify)

    return make


def make_uploader(config: PlayerConfig, machine_id: str) -> Uploader:
    """The background sender of the outbox, on its own connection to the journal (opened in its thread).

    Its own heartbeats are off: the controller sends them, with the position only the GUI knows, so there is
    one heartbeat source and one place where instructions are applied."""
    from player.offline_queue.db import journal_path, open_database
    from player.offline_queue.uploader import Uploader

    path = journal_path(config.data_dir)
    return Uploader(
        lambda: open_database(path),
        client_maker(config, machine_id),
        heartbeat_every=None,
        machine_id=machine_id,
    )


def staff_console_opener(
    window: QWidget,
    config: PlayerConfig,
    tasks: TaskRunner,
    *,
    journal: Journal | None = None,
    wake_uploader: Callable[[], None] | None = None,
) -> Callable[[], None] | None:
    """What the access-code screen's "Staff sign in" calls, or None when this build has no staff console.

    The console is imported, and the keyring probed, on first use, not at start-up: a student machine may
    never open it, and importing it costs ~300 ms and ~14 MB. Raises ImportError then if it cannot be loaded."""
    if importlib.util.find_spec("player.ui.console") is None:
        log.warning("This build has no staff console")
        return None
    tokens: list[TokenStore] = []

    def open_staff_console() -> None:
        from player.credentials import TokenStore, choose_backend
        from player.ui import console
        from sync.client import InvigilClient

        open_console = getattr(console, "open_console", None)
        settings_type = getattr(console, "ConsoleSettings", None)
        if open_console is None or settings_type is None:
            raise ImportError("player.ui.console has no open_console/ConsoleSettings")
        if not tokens:
            tokens.append(TokenStore(choose_backend(config.keyring_backend)))
        # "Results waiting on this computer": read on the GUI thread, where this journal connection lives.
        local = None if journal is None else (lambda: console.journal_results(journal))
        send_now = None if journal is None or wake_uploader is None else console.send_now_from(journal, wake_uploader)
        open_console(
            window,
            client_factory=lambda: InvigilClient(config.server_url, timeout=config.request_timeout_seconds),
            credentials=tokens[0],
            tasks=tasks,
            settings=settings_type.from_config(config),
            local_results=local,
            send_now=send_now,
        )

    return open_staff_console


@dataclasses.dataclass
class Started:
    """What the deferred half of start-up built, so main() can close it; empty until then."""

    db: sqlite_utils.Database | None = None
    player: QtAudioPlayer | None = None
    uploader: Uploader | None = None


def build_sitting_parts(window: MainWindow, *, config: PlayerConfig, started: Started) -> SittingParts:
    """The second half of start-up, after the access-code screen is on screen (or at the first access code):
    the journal (opened and migrated), the audio stack and the other screens.

    Raises DatabaseSetupError or OSError when the journal cannot be opened."""
    from player.audio.devices import QtOutputDevices
    from player.audio.qt import QtAudioPlayer
    from player.offline_queue.db import journal_path, open_database
    from player.offline_queue.journal import Journal
    from resources import soundcheck_path
    from sync.mediacache import MediaCache

    started.db = open_database(journal_path(config.data_dir))
    devices = QtOutputDevices()
    started.player = player = QtAudioPlayer(devices)
    window.add_sitting_screens(player=player, devices=devices, soundcheck_clip=soundcheck_path())
    return SittingParts(journal=Journal(started.db), media_cache=MediaCache(config.data_dir / "media"), player=player)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = configure(args)
        machine_id = resolve_machine_id(config)  # also finds a data dir that cannot be written, before any window
    except (ConfigError, OSError) as exc:
        print(f"Invigil cannot start: {exc}", file=sys.stderr)
        return 2

    connect = client_maker(config, machine_id)

    def make_client() -> InvigilClient:
        return connect(config.server_url)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    apply_style(app)
    # The window starts with the access-code screen alone; everything else is built after its first paint.
    window = MainWindow()
    GuiThreadGarbageCollector(window)
    tasks = TaskRunner(parent=window)
    started = Started()
    failure: list[str] = []

    def build_parts() -> SittingParts:
        from player.offline_queue.db import DatabaseSetupError

        try:
            log_path = setup_logging(config)
            log.info(
                "Invigil player starting: server %s, data %s, log %s", config.server_url, config.data_dir, log_path
            )
            parts = build_sitting_parts(window, config=config, started=started)
        except (DatabaseSetupError, OSError) as exc:
            # The window is already up: it closes again, with the message and status of a failed start.
            failure.append(str(exc))
            log.error("Invigil cannot start: %s", exc)
            app.exit(2)
            raise
        uploader = started.uploader = make_uploader(config, machine_id)
        controller.wake_uploader = uploader.wake
        controller.open_staff_console = staff_console_opener(
            window, config, tasks, journal=parts.journal, wake_uploader=uploader.wake
        )
        uploader.start()
        return parts

    controller = PlayerController(
        window=window,
        make_client=make_client,
        tasks=tasks,
        settings=ControllerSettings(
            server_url=config.server_url,
            checkpoint_every=config.checkpoint_interval_seconds,
            typing_commit_every=config.typing_commit_seconds,
            machine_id=machine_id,
        ),
        build_parts=build_parts,
    )

    def finish_start() -> None:
        try:
            controller.start()  # builds the parts, then resumes an open attempt or waits for a code
        except Exception:
            if not failure:
                raise
            # else: build_parts logged it and asked the app to exit with status 2

    window.show()
    window.after_first_paint(finish_start)
    close_on_interrupt(window)
    try:
        status = int(app.exec())
    finally:
        controller.shutdown()
        if started.uploader is not None:
            started.uploader.stop()
        tasks.wait()
        if started.player is not None:
            started.player.close()
        if started.db is not None:
            started.db.close()
        log.info("Invigil player stopped")
    if failure:
        print(f"Invigil cannot start: {failure[0]}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
