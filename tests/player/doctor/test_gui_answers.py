"""The player's readiness check runs on a worker, but its audio and screen edges need the GUI thread. Asked from a
worker they post to the GUI thread and wait, so closing the app (whose GUI thread waits for its workers) froze for
GUI_THREAD_WAIT_SECONDS. with_gui_answers_now asks them up front, on the GUI thread."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from player.doctor.edges import DoctorEdges, ScreenInfo, with_gui_answers_now
from tests.helpers.waiting import TIMEOUT_MS


def ask_from_a_worker_while_the_gui_thread_waits(qtbot: QtBot, edges: DoctorEdges) -> list[object]:
    """What the worker had by the time the blocked GUI thread gave up waiting for it (then the GUI thread runs
    its events, so a worker still waiting gets its answer and ends)."""
    answers: list[object] = []
    worker = threading.Thread(target=lambda: answers.extend([edges.audio_outputs(), edges.screen()]), daemon=True)
    worker.start()
    worker.join(timeout=3)  # this (the GUI) thread is blocked, as when the app closes and waits for its tasks
    seen = list(answers)
    qtbot.waitUntil(lambda: not worker.is_alive(), timeout=TIMEOUT_MS)
    return seen


def test_answers_taken_on_the_gui_thread_need_it_no_more(qtbot: QtBot) -> None:
    ready = with_gui_answers_now(None)  # the real Qt edges, asked here on the GUI thread

    answers = ask_from_a_worker_while_the_gui_thread_waits(qtbot, ready)

    assert len(answers) == 2, "the worker waited for a GUI thread that was waiting for it"
    outputs, screen = answers
    assert isinstance(outputs, list)
    assert isinstance(screen, ScreenInfo)
    assert screen.platform == QApplication.platformName()


def test_the_real_edges_asked_from_a_worker_do_wait_for_the_gui_thread(qtbot: QtBot) -> None:
    # What the test above guards against: without the answers taken up front, the worker is still waiting.
    assert ask_from_a_worker_while_the_gui_thread_waits(qtbot, DoctorEdges()) == []


def test_an_edge_that_failed_up_front_fails_again_when_asked() -> None:
    def broken_screen() -> ScreenInfo | None:
        raise RuntimeError("no screen")

    ready = with_gui_answers_now(DoctorEdges(audio_outputs=lambda: ["Speakers"], screen=broken_screen))

    assert ready.audio_outputs() == ["Speakers"]
    with pytest.raises(RuntimeError, match="no screen"):
        ready.screen()
