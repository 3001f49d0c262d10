"""The one runner for slow work: run a callable on a worker thread, then call back on the GUI thread.

The worker thread must never hold the last reference to anything that owns a Qt object. Work often captures
a view (a method, a closure over `self`); had the worker dropped the last reference, the view's QWidget would
be destroyed on the worker thread, which crashes Qt (CI's segfault in the marking tests on 2026-12-05: core
dump with QWidget::~QWidget under a QThreadPool thread). So:

- A job's work, outcome and callbacks sit in a `_Job` state (a plain object, no Qt), cleared on the GUI thread.
- The worker stores the outcome there, drops its own references, and only then tells the GUI thread, through
  `_Hub`: one QObject made on the GUI thread and never deleted while the app runs, so the worker never emits
  on an object the GUI thread may be deleting (PySide releases the GIL inside emit).
- The GUI thread takes everything out of the state and only then runs the callbacks, which it skips when the
  runner is gone (a closed window). A state holds its runner by weak reference, so pending work never keeps a
  runner alive, nor frees one from inside a callback.
- Jobs run on one pool for the whole app, made with the hub: a pool owned by a runner would make the runner's
  deletion wait for its workers, which need the GIL its deleting thread holds.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThread, QThreadPool, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")

Report = Callable[[int, int], None]


class _State:
    """What one job touches; only the GUI thread clears it (see the module's docstring)."""

    __slots__ = ("on_done", "on_error", "on_progress", "outcome", "runner", "work")

    def __init__(
        self,
        runner: TaskRunner,
        work: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        self.runner: weakref.ref[TaskRunner] = weakref.ref(runner)
        self.work: Callable[[], Any] | None = work
        self.on_done: Callable[[Any], None] | None = on_done
        self.on_error: Callable[[Exception], None] | None = on_error
        self.on_progress: Report | None = None
        self.outcome: tuple[bool, Any] | None = None


class _Hub(QObject):
    """Carries jobs' news to the GUI thread; queued, because it lives there and workers emit."""

    finished = Signal(object)  # a _State
    progressed = Signal(object, int, int)  # a _State, done, total


MIN_WORKERS = 4
"""The console's calls and the player's downloads share the pool; on a 2-core machine each used to have 2."""

_hub: _Hub | None = None
_pool: QThreadPool | None = None


def _shared() -> tuple[_Hub, QThreadPool]:
    """The hub and the pool, made on first use (on the GUI thread, where runners are made), living as long as
    the application."""
    global _hub, _pool
    if _hub is None or _pool is None or not shiboken6.isValid(_hub) or not shiboken6.isValid(_pool):
        app = QCoreApplication.instance()
        _hub = _Hub(app)
        _hub.finished.connect(_finished)
        _hub.progressed.connect(_progressed)
        _pool = QThreadPool(app)
        _pool.setMaxThreadCount(max(MIN_WORKERS, QThread.idealThreadCount()))
    return _hub, _pool


def _progressed(state: _State, done: int, total: int) -> None:
    if state.on_progress is not None:
        state.on_progress(done, total)


def _finished(state: _State) -> None:
    """On the GUI thread: empty the state here, then call back if the runner is still there."""
    outcome, on_done, on_error, runner = state.outcome, state.on_done, state.on_error, state.runner()
    state.work = state.outcome = state.on_done = state.on_error = state.on_progress = None
    assert outcome is not None, "a job reports only after storing its outcome"
    if runner is None or not shiboken6.isValid(runner):
        log.info("A background task finished after its window closed; its result is dropped")
        return
    runner._finish(state, outcome, on_done, on_error)


class _Job(QRunnable):
    """Runs on a worker thread, keeping nothing but the state and the hub."""

    def __init__(self, state: _State, hub: _Hub) -> None:
        super().__init__()
        self._state = state
        self._hub = hub

    def run(self) -> None:
        state = self._state
        assert state.work is not None, "a job's work is cleared only after it has run"
        try:
            # No local names the work or its result: the state holds both, so the GUI thread frees them.
            state.outcome = (True, state.work())
        except BaseException as exc:  # every failure goes back to the GUI thread, which decides what to say
            state.outcome = (False, exc)
        # `exc` is gone here (Python deletes it at the end of the except block); only now may the GUI thread
        # take the outcome.
        self._hub.finished.emit(state)


class TaskRunner(QObject):
    """Like Anki's CollectionOp: `run(work, on_done, on_error)`; callbacks always run on the GUI thread."""

    idle_changed = Signal(bool)

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._hub, shared_pool = _shared()
        self._pool = pool if pool is not None else shared_pool
        self._running: set[_State] = set()

    def run(
        self,
        work: Callable[[], T],
        *,
        on_done: Callable[[T], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        self._start(_State(self, work, on_done, on_error))

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
        hub = self._hub
        state = _State(
            self, lambda: work(lambda done, total: hub.progressed.emit(state, done, total)), on_done, on_error
        )
        state.on_progress = on_progress
        self._start(state)

    def _start(self, state: _State) -> None:
        self._running.add(state)
        if len(self._running) == 1:
            self.idle_changed.emit(False)
        self._pool.start(_Job(state, self._hub))

    def _finish(
        self,
        state: _State,
        outcome: tuple[bool, Any],
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[Exception], None] | None,
    ) -> None:
        """On the GUI thread, once `state` is emptied: the callback, then idle if nothing else runs."""
        self._running.discard(state)
        succeeded, value = outcome
        try:
            if not succeeded and not isinstance(value, Exception):
                # KeyboardInterrupt, SystemExit on a worker: not a failure to put in words; the task just ends.
                log.warning("A background task was interrupted (%s)", type(value).__name__)
                return
            callback = on_done if succeeded else on_error
            if callback is not None:
                callback(value)
        finally:
            if not self._running:
                self.idle_changed.emit(True)

    def is_idle(self) -> bool:
        return not self._running

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the pool's workers are done, this runner's and any other's (shutdown and tests); pending
        callbacks still need the event loop."""
        return bool(self._pool.waitForDone(msecs))
