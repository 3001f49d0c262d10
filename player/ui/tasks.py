"""The one runner for slow work: run a callable on a worker thread, then call back on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")

Report = Callable[[int, int], None]


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted from the worker arrive there through Qt's queued connection."""

    succeeded = Signal(object)
    failed = Signal(object)
    progressed = Signal(int, int)  # done, total


class _Job(QRunnable, Generic[T]):
    def __init__(self, work: Callable[[], T], relay: _Relay) -> None:
        super().__init__()
        self._work = work
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._work()
        except Exception as exc:  # every failure goes back to the GUI thread, which decides what to say
            self._relay.failed.emit(exc)
        else:
            self._relay.succeeded.emit(result)


class TaskRunner(QObject):
    """Like Anki's CollectionOp: `run(work, on_done, on_error)`; callbacks always run on the GUI thread."""

    idle_changed = Signal(bool)

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool if pool is not None else QThreadPool(self)
        self._running: set[_Relay] = set()

    def run(
        self,
        work: Callable[[], T],
        *,
        on_done: Callable[[T], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        self._start(work, relay=self._relay(on_done, on_error))

    def run_reporting(
        self,
        work: Callable[[Report], T],
        *,
        on_progress: Report,
        on_done: Callable[[T], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        """Like run(), but `work` gets a `report(done, total)` it may call from the worker; `on_progress`
        receives each report on the GUI thread, always before `on_done`."""
        relay = self._relay(on_done, on_error)
        relay.progressed.connect(on_progress)
        self._start(lambda: work(relay.progressed.emit), relay=relay)

    def _relay(self, on_done: Callable[[T], None], on_error: Callable[[Exception], None]) -> _Relay:
        relay = _Relay(self)
        self._running.add(relay)

        def finish(callback: Callable[[Any], None], value: Any) -> None:
            self._running.discard(relay)
            relay.deleteLater()
            try:
                callback(value)
            finally:
                if not self._running:
                    self.idle_changed.emit(True)

        relay.succeeded.connect(lambda value: finish(on_done, value))
        relay.failed.connect(lambda exc: finish(on_error, exc))
        return relay

    def _start(self, work: Callable[[], T], *, relay: _Relay) -> None:
        if len(self._running) == 1:
            self.idle_changed.emit(False)
        self._pool.start(_Job(work, relay))

    def is_idle(self) -> bool:
        return not self._running

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until workers are done (shutdown and tests); pending callbacks still need the event loop."""
        return bool(self._pool.waitForDone(msecs))
