"""Child process for cold start and memory floors: the real player (via player.app.main) or a bare Qt window.

Prints one line `PAINTED <peak_rss_kb> <cpu_ms>` when the first paint of the target widget happens, then quits:
`python -m bench.qt_child player --data-dir D` (the access-code screen) or `python -m bench.qt_child bare`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

MARKER = "PAINTED"
# Nothing listens here: the access-code screen must appear without any server.
UNREACHABLE_SERVER = "http://127.0.0.1:9"


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status: the memory figures need Linux")


def peak_rss_kb() -> int:
    """VmHWM: the most resident memory this process has had (Linux)."""
    return _status_kb("VmHWM")


def rss_kb() -> int:
    """VmRSS: the resident memory of this process now (Linux)."""
    return _status_kb("VmRSS")


def cpu_ms() -> float:
    """User + system CPU time of this process so far: less disturbed by other load on the machine than wall time."""
    times = os.times()
    return (times.user + times.system) * 1000


class FirstPaint(QObject):
    """Reports the first Paint event of a widget that `matches`, then asks the app to quit."""

    def __init__(self, app: QApplication, matches: Callable[[QObject], bool]) -> None:
        super().__init__()
        self._app = app
        self._matches = matches
        self._done = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self._done and event.type() == QEvent.Type.Paint and self._matches(watched):
            self._done = True
            print(f"{MARKER} {peak_rss_kb()} {cpu_ms():.0f}", flush=True)
            QTimer.singleShot(0, self._app.quit)
        return False


def run_player(data_dir: str) -> int:
    # Imported here so the bare floor does not pay for the player's imports.
    from player.app import main
    from player.ui.screens.access_code import AccessCodeScreen

    app = QApplication(sys.argv[:1])
    watcher = FirstPaint(app, lambda w: isinstance(w, AccessCodeScreen))
    # On the screen itself, not the app: an app-wide Python filter makes PySide wrap every QObject that gets
    # an event (the style-sheet style, QMainWindow's layout animation), loading ~180 more classes and their
    # enums (~70 ms) that a real start never loads, and that the bare window (no central widget) escapes.
    made = AccessCodeScreen.__init__

    def watched_init(screen: AccessCodeScreen, parent: QWidget | None = None) -> None:
        made(screen, parent)
        screen.installEventFilter(watcher)

    AccessCodeScreen.__init__ = watched_init  # type: ignore[method-assign,assignment]
    # player.app.main reuses the QApplication made here (QApplication.instance()), so this is the real start.
    return main(["--server", UNREACHABLE_SERVER, "--data-dir", data_dir])


def run_bare() -> int:
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.resize(1024, 720)
    watcher = FirstPaint(app, lambda w: w is window)
    window.installEventFilter(watcher)
    window.show()
    return int(app.exec())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.qt_child")
    parser.add_argument("what", choices=["player", "bare"])
    parser.add_argument("--data-dir", default="")
    args = parser.parse_args(argv)
    if args.what == "player":
        if not args.data_dir:
            parser.error("player needs --data-dir (a fresh folder for its journal and log)")
        return run_player(args.data_dir)
    return run_bare()


if __name__ == "__main__":
    sys.exit(main())
