"""The task runner never lets a worker thread free what the work captured.

Work run in the background is often a method or a closure over a view. If the view is closed while the
work runs, the worker thread used to hold the last reference when it finished, so the view's QWidget was
destroyed there, and Qt crashes when a widget is destroyed off the GUI thread (CI segfaulted this way in
the marking tests on 2026-12-05). These tests drop every other reference while the work is running and
check on which thread the captured objects are freed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.ui.tasks import TaskRunner

GUI_THREAD = threading.get_ident()


class Canary:
    """Records the thread that frees it."""

    def __init__(self, freed_on: list[int]) -> None:
        self._freed_on = freed_on

    def __del__(self) -> None:
        self._freed_on.append(threading.get_ident())


class View(QWidget):
    """A view of our own, as every console view is a QWidget subclass."""


def _gated(gate: threading.Event, then: Callable[[], object]) -> Callable[[], object]:
    def work() -> object:
        assert gate.wait(10), "the test never opened the gate"
        return then()

    return work


def _holding(captured: object, then: Callable[[object], object]) -> Callable[[], object]:
    """Work that captures `captured` (as a method captures its view) and returns then(captured)."""
    return lambda: then(captured)


def _finish(qtbot: QtBot, runner: TaskRunner, seen: list[object]) -> None:
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    assert runner.wait(10_000)


def test_what_the_work_captures_is_freed_on_the_gui_thread(qtbot: QtBot) -> None:
    runner = TaskRunner()
    freed_on: list[int] = []
    gate = threading.Event()
    canary = Canary(freed_on)
    seen: list[object] = []

    runner.run(_gated(gate, _holding(canary, lambda _: 42)), on_done=seen.append, on_error=seen.append)
    del canary  # now only the work holds it, as a closed view is held only by its pending work
    gate.set()
    _finish(qtbot, runner, seen)

    assert seen == [42]
    assert freed_on == [GUI_THREAD], "the worker thread freed what the work captured"


def test_a_failures_traceback_is_freed_on_the_gui_thread(qtbot: QtBot) -> None:
    """A traceback holds the work's frames and so their locals (often `self`, a view)."""
    runner = TaskRunner()
    freed_on: list[int] = []
    gate = threading.Event()
    holder = [Canary(freed_on)]
    seen: list[object] = []

    def fail() -> object:
        local_view = holder.pop()  # lives on only in this frame, which the traceback keeps
        raise ValueError(f"could not reach the server for {type(local_view).__name__}")

    runner.run(_gated(gate, fail), on_done=seen.append, on_error=lambda exc: seen.append(str(exc)))
    gate.set()
    _finish(qtbot, runner, seen)

    assert seen == ["could not reach the server for Canary"]
    assert freed_on == [GUI_THREAD], "the worker thread freed a traceback's locals"


def test_a_widget_closed_while_its_work_runs_is_destroyed_on_the_gui_thread(qtbot: QtBot) -> None:
    runner = TaskRunner()
    destroyed_on: list[int] = []
    gate = threading.Event()
    widget = View()
    widget.destroyed.connect(lambda: destroyed_on.append(threading.get_ident()), Qt.ConnectionType.DirectConnection)
    seen: list[object] = []

    work = _gated(gate, _holding(widget, lambda view: view.objectName() or "done"))  # type: ignore[attr-defined]
    runner.run(work, on_done=seen.append, on_error=seen.append)
    del widget, work
    gate.set()
    _finish(qtbot, runner, seen)

    assert seen == ["done"]
    assert destroyed_on == [GUI_THREAD], "the widget was destroyed on the worker thread"


def test_progress_then_result_still_arrive_in_order(qtbot: QtBot) -> None:
    runner = TaskRunner()
    events: list[object] = []

    def work(report: Callable[[int, int], None]) -> str:
        for done in range(1, 4):
            report(done, 3)
        return "imported"

    runner.run_reporting(
        work,
        on_progress=lambda done, total: events.append((done, total)),
        on_done=events.append,
        on_error=events.append,
    )
    qtbot.waitUntil(lambda: "imported" in events, timeout=10_000)

    assert events == [(1, 3), (2, 3), (3, 3), "imported"]
    assert runner.is_idle()


def test_a_runner_dropped_while_its_work_runs_drops_the_result_and_frees_it_on_the_gui_thread(qtbot: QtBot) -> None:
    """A window closed mid-call: nothing is called back, nothing crashes, and what the work held goes on the GUI
    thread (a runner used to be freed twice here: by its relay's last callback, then as the relay's parent)."""
    runner = TaskRunner()
    freed_on: list[int] = []
    gate = threading.Event()
    canary = Canary(freed_on)
    seen: list[object] = []
    runner.run(_gated(gate, _holding(canary, lambda _: 42)), on_done=seen.append, on_error=seen.append)
    idle = TaskRunner()  # another runner: waiting on the shared pool waits for this job too
    del canary, runner
    gate.set()
    assert idle.wait(10_000)
    qtbot.waitUntil(lambda: bool(freed_on), timeout=10_000)

    assert seen == [], "no callback for a runner that is gone"
    assert freed_on == [GUI_THREAD]


def test_an_interrupt_in_the_work_still_ends_the_task(qtbot: QtBot) -> None:
    """Not turned into an error message (only logged), but the runner is idle again (waiting for idle would hang
    otherwise)."""
    runner = TaskRunner()
    errors: list[object] = []

    def interrupted() -> object:
        raise KeyboardInterrupt

    runner.run(interrupted, on_done=errors.append, on_error=errors.append)
    qtbot.waitUntil(runner.is_idle, timeout=10_000)
    assert errors == []
