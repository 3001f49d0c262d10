"""The one runner for slow work: run a callable on a worker thread, then call back on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")

Report = Callable[[int, int], None]


class _Relay(QObject):
    """Lives on the GUI thread and holds everything a job touches: the work, and then its outcome.

    The worker thread must never hold the last reference to anything. Work often captures a view (a
    method, a closure over `self`); had the worker dropped the last reference, the view's QWidget would
    be destroyed on the worker thread, which crashes Qt (seen as a rare segfault in the console tests,
    CI on 2026-12-05). So the worker stores the outcome here, drops its own references, and only then
    emits `done`; the GUI thread takes the outcome and clears both attributes, so whatever they
    captured is freed on the GUI thread."""

    done = Signal()
    progressed = Signal(int, int)  # done, total

    def __init__(self, work: Callable[[], Any], parent: QObject) -> None:
        super().__init__(parent)
        self.work: Callable[[], Any] | None = work
        self.outcome: tuple[bool, Any] | None = None

    def take(self) -> tuple[bool, Any]:
        """On the GUI thread: the outcome, releasing the work and the outcome here rather than on the worker."""
        outcome = self.outcome
        self.work = None
        self.outcome = None
        assert outcome is not None, "done arrives only after the outcome is stored"
        return outcome


class _Job(QRunnable):
    """Runs on a worker thread and keeps nothing but the relay (a QObject owned by the GUI thread)."""

    def __init__(self, relay: _Relay) -> None:
        super().__init__()
        self._relay = relay

    def run(self) -> None:
        relay = self._relay
        assert relay.work is not None, "a relay's work is cleared only after it has run"
        try:
            # No local names the work or its result: the relay holds both, so the GUI thread frees them.
            relay.outcome = (True, relay.work())
        except Exception as exc:  # every failure goes back to the GUI thread, which decides what to say
            relay.outcome = (False, exc)
        # `exc` is gone here (Python deletes it at the end of the except block); only now may the GUI
        # thread take the outcome.
        relay.done.emit()


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
        self._start(self._relay(work, on_done, on_error))

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
        relay = self._relay(lambda: work(relay.progressed.emit), on_done, on_error)
        relay.progressed.connect(on_progress)
        self._start(relay)

    def _relay(
        self, work: Callable[[], T], on_done: Callable[[T], None], on_error: Callable[[Exception], None]
    ) -> _Relay:
        relay = _Relay(work, self)
        self._running.add(relay)

        def finish() -> None:
            succeeded, value = relay.take()
            self._running.discard(relay)
            relay.deleteLater()
            try:
                if succeeded:
                    on_done(value)
                else:
                    on_error(value)
            finally:
                if not self._running:
                    self.idle_changed.emit(True)

        relay.done.connect(finish)
        return relay

    def _start(self, relay: _Relay) -> None:
        if len(self._running) == 1:
            self.idle_changed.emit(False)
        self._pool.start(_Job(relay))

    def is_idle(self) -> bool:
        return not self._running

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until workers are done (shutdown and tests); pending callbacks still need the event loop."""
        return bool(self._pool.waitForDone(msecs))
