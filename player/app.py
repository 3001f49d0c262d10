"""The player's entry point: config, logging, journal, client and Qt wired together, then the window."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import logging.handlers
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from player.audio.devices import QtOutputDevices
from player.audio.qt import QtAudioPlayer
from player.config import ConfigError, PlayerConfig, default_sources, load_config, resolve_machine_id
from player.offline_queue.db import DatabaseSetupError, journal_path, open_database
from player.offline_queue.journal import Journal
from player.ui.controller import ControllerSettings, PlayerController
from player.ui.style import apply_style
from player.ui.tasks import TaskRunner
from player.ui.window import MainWindow
from resources import soundcheck_path
from sync.client import InvigilClient
from sync.mediacache import MediaCache

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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = configure(args)
        log_path = setup_logging(config)
        machine_id = resolve_machine_id(config)
        db = open_database(journal_path(config.data_dir))
    except (ConfigError, DatabaseSetupError, OSError) as exc:
        print(f"Invigil cannot start: {exc}", file=sys.stderr)
        return 2
    log.info("Invigil player starting: server %s, data %s, log %s", config.server_url, config.data_dir, log_path)

    def make_client() -> InvigilClient:
        verify: str | bool = str(config.ca_bundle) if config.ca_bundle is not None else True
        return InvigilClient(
            config.server_url, machine_id=machine_id, timeout=config.request_timeout_seconds, verify=verify
        )

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    apply_style(app)
    devices = QtOutputDevices()
    player = QtAudioPlayer(devices)
    window = MainWindow(player=player, devices=devices, soundcheck_clip=soundcheck_path())
    tasks = TaskRunner(parent=window)
    controller = PlayerController(
        window=window,
        journal=Journal(db),
        make_client=make_client,
        media_cache=MediaCache(config.data_dir / "media"),
        player=player,
        tasks=tasks,
        settings=ControllerSettings(
            server_url=config.server_url,
            checkpoint_every=config.checkpoint_interval_seconds,
            typing_commit_every=config.typing_commit_seconds,
        ),
    )
    controller.start()
    window.show()
    close_on_interrupt(window)
    try:
        return int(app.exec())
    finally:
        controller.shutdown()
        tasks.wait()
        player.close()
        db.close()
        log.info("Invigil player stopped")


if __name__ == "__main__":
    sys.exit(main())
