"""The player's entry point: the access-code screen first, then config, logging, journal, client and the rest."""

from __future__ import annotations

import argparse
import contextlib
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
    from sync.error_catalogue import Problem

log = logging.getLogger(__name__)

LOG_FILE_NAME = "player.log"
LOG_MAX_BYTES = 2_000_000
LOG_BACKUPS = 5
FAILURE_PREFIX = "Invigil cannot start: "


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The window's options (with no command; player/cli.py has the commands). A usage error exits with 64."""
    from player.usage import COMMANDS, UsageParser, data_dir_argument

    parser = UsageParser(
        prog="invigil",
        description="Invigil test player.",
        usage=f"%(prog)s [--server URL] [--data-dir PATH]\n       %(prog)s {{{','.join(COMMANDS)}}} [options]",
    )
    parser.add_argument("--server", metavar="URL", help="the server's address (overrides the config file)")
    parser.add_argument(
        "--data-dir", metavar="PATH", type=data_dir_argument, help="where the journal, media and logs are kept"
    )
    return parser.parse_args(argv)


def configure(args: argparse.Namespace) -> PlayerConfig:
    """The config files and environment, then the command line over them (checked as the files are). Raises
    ConfigError."""
    from player.config import default_sources, load_config, with_command_line

    return with_command_line(load_config(default_sources()), server_url=args.server, data_dir=args.data_dir)


def setup_logging(config: PlayerConfig) -> Path:
    """One rotating file in the data dir, so an IT admin can read what happened on this machine."""
    return log_to_folder(config.data_dir, level=config.log_level)


def log_to_folder(data_dir: Path, *, level: str) -> Path:
    """The root logger writes to data_dir/logs/player.log (rotating); raises OSError when it cannot."""
    import logging.handlers  # ~12 ms (socket, pickle): main() calls this after the first paint

    folder = data_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE_NAME
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    return path


def log_for_failure(data_dir: Path) -> Path | None:
    """The log a start-up failure is written to when logging was not set up yet: data_dir's (the configured one,
    or the default when the config itself failed), or None when that cannot be written. Never raises: reporting
    why the player cannot start must not be a second crash."""
    try:
        return log_to_folder(data_dir, level="INFO")
    except Exception:  # any reason at all: the message still reaches the screen and stderr
        return None


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
        self.failure: Problem | None = None
        """Why start-up failed after the window appeared (the app then exits with status 2)."""
        self.log_file: Path | None = None
        """The log the failure was written to (None: none could be)."""

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
    app: QApplication,
    window: MainWindow,
    args: argparse.Namespace,
    started: Started,
    early: EarlyInput,
    *,
    wait_for_quit: bool = True,
) -> None:
    """The second half of start-up, after the access-code screen's first paint: config and machine id, logging,
    the controller (player.ui.assembly), then in controller.start() the journal, audio, the other screens and the
    uploader, and the resume check. A failure is reported (report_failure); the app exits with status 2."""
    from player.config import ConfigError, default_data_dir, resolve_machine_id
    from player.offline_queue.db import DatabaseSetupError
    from player.ui.assembly import build_controller

    close_on_interrupt(window)  # before anything can fail: Ctrl+C in a terminal also closes the failure screen
    data_dir: Path | None = None
    try:
        config = configure(args)
        data_dir = config.data_dir
        machine_id = resolve_machine_id(config)  # also finds a data dir that cannot be written
    except (ConfigError, OSError) as exc:
        # With no config, the default data folder's log; with one, its own (if that can be written).
        report_failure(app, window, started, exc, log_in=data_dir or default_data_dir(), wait_for_quit=wait_for_quit)
        return
    try:
        started.log_file = setup_logging(config)
    except OSError as exc:
        report_failure(app, window, started, exc, log_in=None, wait_for_quit=wait_for_quit)
        return
    log.info(
        "Invigil player starting: server %s, data %s, log %s", config.server_url, config.data_dir, started.log_file
    )
    started.assembled = built = build_controller(window, config=config, machine_id=machine_id)
    try:
        built.controller.start()  # builds the parts, then resumes an open attempt or waits for a code
    except (DatabaseSetupError, OSError) as exc:
        report_failure(app, window, started, exc, log_in=None, wait_for_quit=wait_for_quit)
        return
    early.hand_on(built.controller)


def report_failure(
    app: QApplication,
    window: MainWindow,
    started: Started,
    exc: Exception,
    *,
    log_in: Path | None,
    wait_for_quit: bool,
) -> None:
    """ "Invigil cannot start: <reason> (INV-xxxx)", once on stderr (a terminal), in the log (`started.log_file`,
    else a log in the data folder `log_in`, if either can be written) and on a screen in the window with Quit,
    for whoever started it from a desktop entry or at log-in. wait_for_quit False (no screen anyone can see):
    the app exits at once."""
    from player.startup_problems import startup_problem
    from player.ui.screens.cannot_start import CannotStartScreen

    started.failure = problem = startup_problem(exc)  # "... (INV-1002)": the number a support call can quote
    line = f"{FAILURE_PREFIX}{problem}"
    if started.log_file is None and log_in is not None:
        started.log_file = log_for_failure(log_in)
    if started.log_file is not None:
        # Only once a file handler is there: before it, logging's last resort would print the line to stderr too.
        log.error("%s", line)
    if sys.stderr is not None:  # a windowed build on Windows has none
        with contextlib.suppress(OSError, ValueError):  # a closed terminal: the screen and the log still have it
            print(line, file=sys.stderr, flush=True)
    if not wait_for_quit:
        app.exit(2)
        return
    try:
        screen = CannotStartScreen(problem, log_file=started.log_file)
        window.stack.addWidget(screen)
        window.show_header(None)
        window.show_screen(screen)
        screen.quit_button.clicked.connect(window.close)
        screen.quit_button.setFocus()
    except Exception:  # a bug in showing it: the line is on stderr and in the log already; never a second crash
        log.exception("The 'cannot start' screen could not be shown")
        app.exit(2)


def someone_can_see(app: QApplication) -> bool:
    """Whether the window is on a screen a person looks at. Qt's offscreen and minimal platforms (a service, a
    script, `QT_QPA_PLATFORM=offscreen`) show nothing: a failure screen there would wait for a Quit nobody can
    press, so the player exits at once instead."""
    return app.platformName() not in ("offscreen", "minimal")


def main(argv: Sequence[str] | None = None, *, wait_for_quit: bool | None = None) -> int:
    """The window; 2 when it could not start (after the failure screen is closed). wait_for_quit: show that screen
    until Quit (None: when someone can see the window, see someone_can_see)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    apply_style(app)
    # Only the access-code screen is built before its first paint; everything else comes after (start_player).
    window = MainWindow()
    GuiThreadGarbageCollector(window)
    early = EarlyInput(window)
    started = Started()
    wait = someone_can_see(app) if wait_for_quit is None else wait_for_quit
    window.show()
    window.after_first_paint(lambda: start_player(app, window, args, started, early, wait_for_quit=wait))
    try:
        status = int(app.exec())
    finally:
        started.close()
        log.info("Invigil player stopped")
    return 2 if started.failure is not None else status


if __name__ == "__main__":
    sys.exit(main())
