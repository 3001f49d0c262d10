"""The idle lock: no key or mouse input in any of the app's windows for a while -> the console locks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QWindow

log = logging.getLogger(__name__)

_INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TabletPress,
    }
)


class IdleLock(QObject):
    """Emits `locked` once when `timeout_seconds` pass without key or mouse input anywhere in the app.

    Input is watched with an event filter on every top-level QWindow of the application (re-scanned on each
    check, so dialogs opened later count too): every key and mouse event reaches its window's QWindow before
    any widget, so this sees all input. It is not a filter on QApplication itself because a Python filter
    there is called for every event of every object, and PySide6 crashed (segfault) converting events of
    objects being torn down. `clock` is monotonic seconds; tests inject one they move by hand.
    """

    locked = Signal()

    def __init__(
        self,
        *,
        timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        check_interval_ms: int = 1000,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.timeout_seconds = timeout_seconds
        self._clock = clock
        self._deadline = clock() + timeout_seconds
        self._armed = False
        self._watched: list[QWindow] = []
        self._timer = QTimer(self)
        self._timer.setInterval(check_interval_ms)
        self._timer.timeout.connect(self.check)

    def start(self) -> None:
        self._armed = True
        self.touch()
        self._watch_windows()
        self._timer.start()

    def stop(self) -> None:
        self._armed = False
        self._timer.stop()
        for window in self._watched:
            window.removeEventFilter(self)
        self._watched.clear()

    def _watch_windows(self) -> None:
        app = QGuiApplication.instance()
        if not isinstance(app, QGuiApplication):
            return
        current = QGuiApplication.topLevelWindows()
        self._watched = [w for w in self._watched if w in current]
        for window in current:
            if window not in self._watched:
                window.installEventFilter(self)
                self._watched.append(window)

    def touch(self) -> None:
        """Input happened: the lock moves to `timeout_seconds` from now."""
        self._deadline = self._clock() + self.timeout_seconds

    def seconds_left(self) -> float:
        return max(0.0, self._deadline - self._clock())

    def check(self) -> None:
        if not self._armed:
            return
        if self._clock() >= self._deadline:
            log.info("Staff console locked after %.0f s without input", self.timeout_seconds)
            self.stop()
            self.locked.emit()
            return
        self._watch_windows()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT_EVENTS:
            self.touch()
        return False  # only watching: every event still goes where it was going
