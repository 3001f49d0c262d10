"""The player's entry point: the access-code screen first, then config, logging, journal, client and the rest."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
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
    from PySide6.QtCore import QTimer

    from player.config import PlayerConfig
    from player.ui.assembly import Assembled
    from player.ui.controller import PlayerController

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
    """The config files and environment, then the command line over them (checked as the files are). Raises
    ConfigError."""
    from player.config import default_sources, load_config, with_command_line

    return with_command_line(load_config(default_sources()), server_url=args.server, data_dir=args.data_dir)


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


class Started:
    """What the deferred half of start-up built, so main() can close it; empty until then."""

    def __init__(self) -> None:
        self.assembled: Assembled | None = None
        self.failure: str | None = None
        """Why start-up failed after the window appeared (the app then exits with status 2)."""

    def close(self) -> None:
        if self.assembled is not None:
            self.assembled.close()


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
    """The second half of start-up, after the access-code screen's first paint: config and machine id, logging,
    the controller (player.ui.assembly), then in controller.start() the journal, audio, the other screens and the
    uploader, and the resume check. A failure closes the window again: the app exits with status 2 and the
    message."""
    from player.config import ConfigError, resolve_machine_id
    from player.offline_queue.db import DatabaseSetupError
    from player.ui.assembly import build_controller

    def fail(exc: Exception) -> None:
        from player.startup_problems import startup_problem

        started.failure = str(startup_problem(exc))  # "... (INV-1002)": the number a support call can quote
        log.error("Invigil cannot start: %s", exc)
        app.exit(2)

    try:
        config = configure(args)
        machine_id = resolve_machine_id(config)  # also finds a data dir that cannot be written
    except (ConfigError, OSError) as exc:
        fail(exc)
        return
    close_on_interrupt(window)
    try:
        log_path = setup_logging(config)
    except OSError as exc:
        fail(exc)
        return
    log.info("Invigil player starting: server %s, data %s, log %s", config.server_url, config.data_dir, log_path)
    started.assembled = built = build_controller(window, config=config, machine_id=machine_id)
    try:
        built.controller.start()  # builds the parts, then resumes an open attempt or waits for a code
    except (DatabaseSetupError, OSError) as exc:
        fail(exc)
        return
    early.hand_on(built.controller)


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
