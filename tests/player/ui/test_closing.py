"""Closing the window (Alt+F4, the window's X): during a sitting it asks first and says the answers are safe;
with no sitting open it just closes, and so does a close the program makes itself (Ctrl+C in a terminal)."""

from __future__ import annotations

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QRadioButton, QWidget
from pytestqt.qtbot import QtBot

from tests.helpers.player_ui import Player, PlayerFactory, log_in, start_items, wait_for_screen
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS


class CloseAnswers:
    """Stands in for the message box (which cannot be answered offscreen): answers `close` and keeps each
    question it was asked."""

    def __init__(self, *, close: bool) -> None:
        self.close = close
        self.questions: list[str] = []

    def __call__(self, parent: QWidget, question: str) -> bool:
        assert isinstance(parent, QWidget)
        assert parent.isVisible()  # the question is asked over the window, still on screen
        self.questions.append(question)
        return self.close


def close_as_the_window_system(window: QWidget) -> bool:
    """What Alt+F4 or the window's X does: the window system sends a close event to the native window (as
    QGuiApplication does for it), and the widget gets a spontaneous QCloseEvent; True when the window closed."""
    handle = window.windowHandle()
    assert handle is not None
    event = QCloseEvent()
    QApplication.sendEvent(handle, event)
    assert event.isAccepted() == (not window.isVisible())
    return not window.isVisible()


def answer_question_one(qtbot: QtBot, p: Player) -> None:
    assert p.window.item.answer is not None
    qtbot.keyClicks(p.window.item.answer, "3")
    qtbot.waitUntil(lambda: p.window.item.saved.text() == "Saved", timeout=TIMEOUT_MS)


def test_closing_during_a_sitting_asks_and_keep_working_keeps_it_open(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    answer_question_one(qtbot, p)
    keep = CloseAnswers(close=False)
    p.window.confirm_close = keep

    assert not close_as_the_window_system(p.window)
    assert not close_as_the_window_system(p.window)
    assert len(keep.questions) == 2
    assert "every answer shown as Saved is stored on this computer" in keep.questions[0]
    assert "open it again on this computer to carry on" in keep.questions[0]
    assert p.window.isVisible()
    assert p.window.current_screen() is p.window.item
    session = p.controller.session
    assert session is not None
    assert session.answer(session.item.id) == "c"
    qtbot.keyClicks(p.window.item.answer, "2")  # the sitting carries on as before
    qtbot.waitUntil(lambda: session.answer(session.item.id) == "b", timeout=TIMEOUT_MS)


def test_closing_during_a_sitting_when_the_student_says_close_keeps_every_saved_answer(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    answer_question_one(qtbot, p)
    close = CloseAnswers(close=True)
    p.window.confirm_close = close

    assert close_as_the_window_system(p.window)
    assert len(close.questions) == 1
    p.close()

    again = start_player()  # opened again on this computer: the same question, the answer still there
    wait_for_screen(qtbot, again, again.window.item)
    assert again.window.item.position.text() == "Multiple choice: question 1 of 3"
    checked = [b.accessibleName() for b in again.window.item.findChildren(QRadioButton) if b.isChecked()]
    assert checked == ["Option 3: Four"]


def test_closing_with_no_sitting_open_just_closes(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    asked = CloseAnswers(close=False)
    p.window.confirm_close = asked
    assert p.window.current_screen() is p.window.access_code
    assert close_as_the_window_system(p.window)
    assert asked.questions == []


def test_closing_on_is_this_you_just_closes(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    asked = CloseAnswers(close=False)
    p.window.confirm_close = asked
    p.window.access_code.code_edit.setText(demo.codes[0])
    p.window.access_code.start_button.click()
    wait_for_screen(qtbot, p, p.window.confirm)
    assert close_as_the_window_system(p.window)  # nothing has started: no attempt is open here yet
    assert asked.questions == []


def test_from_yes_this_is_me_on_closing_asks(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    asked = CloseAnswers(close=False)
    p.window.confirm_close = asked
    log_in(qtbot, p, demo.codes[0])  # "Yes, this is me": the attempt is open here, on the instructions
    assert not close_as_the_window_system(p.window)
    assert len(asked.questions) == 1
    assert p.window.current_screen() is p.window.instructions


def test_a_close_the_program_makes_itself_does_not_ask(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    """Ctrl+C in a terminal (app.close_on_interrupt) and a test's teardown call close(): no student is there."""
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    answer_question_one(qtbot, p)
    asked = CloseAnswers(close=False)
    p.window.confirm_close = asked
    event = QCloseEvent()
    QApplication.sendEvent(p.window, event)
    assert event.isAccepted()
    assert asked.questions == []
    assert p.window.close()
    assert not p.window.isVisible()
    session = p.controller.session
    assert session is not None
    assert p.journal.answers(session.attempt_id) == {"mc-circles": "c"}  # saved on the way out, as before
