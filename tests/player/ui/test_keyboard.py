"""The keyboard on the real window: Enter presses the focused button on every screen, and keys pressed faster than
the screens change never leave the focus on something the student cannot see."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractButton, QApplication
from pytestqt.qtbot import QtBot

from tests.helpers.player_ui import Player, PlayerFactory, focused, log_in, start_items, wait_for_screen
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS

ALT = Qt.KeyboardModifier.AltModifier
KEYPAD = Qt.KeyboardModifier.KeypadModifier
NONE = Qt.KeyboardModifier.NoModifier


def press(qtbot: QtBot, key: Qt.Key, modifier: Qt.KeyboardModifier = NONE) -> None:
    """A key press where the focus is, as a student at the keyboard would make it."""
    qtbot.keyClick(focused(), key, modifier)


def question(p: Player) -> str:
    return p.window.item.position.text()


def no_click_pending(p: Player) -> bool:
    """A mnemonic (Alt+letter) clicks 100 ms after the key; until then its button is drawn pressed."""
    return not any(b.isDown() for b in p.window.findChildren(QAbstractButton))


def assert_the_item_screen_answers_the_keyboard(qtbot: QtBot, p: Player) -> None:
    """The focus is on a control the student can see, and Alt+N/P, the digit keys and Alt+R all still act."""
    w = p.window
    qtbot.waitUntil(lambda: no_click_pending(p) and focused().isVisible(), timeout=TIMEOUT_MS)
    assert w.current_screen() is w.item
    assert w.item.isAncestorOf(focused())
    first = question(p)
    press(qtbot, Qt.Key.Key_N, ALT)
    assert question(p) != first
    press(qtbot, Qt.Key.Key_P, ALT)
    assert question(p) == first
    qtbot.keyClicks(focused(), "2")
    qtbot.waitUntil(lambda: w.item.saved.text() == "Saved", timeout=TIMEOUT_MS)
    session = p.controller.session
    assert session is not None
    assert session.answer(session.item.id) == "b"
    press(qtbot, Qt.Key.Key_R, ALT)
    assert w.current_screen() is w.review


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param((Qt.Key.Key_B, Qt.Key.Key_E), id="back-then-end"),
        pytest.param((Qt.Key.Key_B, Qt.Key.Key_B), id="back-twice"),
        pytest.param((Qt.Key.Key_E, Qt.Key.Key_B), id="end-then-back"),
    ],
)
def test_fast_key_pairs_on_the_review_screen_leave_the_questions_working(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, keys: tuple[Qt.Key, Qt.Key]
) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    w = p.window
    press(qtbot, Qt.Key.Key_R, ALT)
    assert w.current_screen() is w.review
    for key in keys:  # no wait between them: the second lands before the first has taken effect
        press(qtbot, key, ALT)
    wait_for_screen(qtbot, p, w.item)
    assert_the_item_screen_answers_the_keyboard(qtbot, p)
    session = p.controller.session
    assert session is not None
    assert session.section_number == 1, "the section was not ended by a click on a screen that had gone"


def test_yes_then_no_at_once_on_the_sound_check_starts_the_questions(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    w = p.window
    log_in(qtbot, p, demo.codes[0])
    w.instructions.start_button.click()
    wait_for_screen(qtbot, p, w.sound_check)
    press(qtbot, Qt.Key.Key_Y, ALT)
    press(qtbot, Qt.Key.Key_N, ALT)  # "No, I did not hear it" lands after the questions opened: dropped
    wait_for_screen(qtbot, p, w.item)
    assert_the_item_screen_answers_the_keyboard(qtbot, p)
    assert not w.sound_check.message.text()


def test_focus_given_to_a_hidden_widget_comes_back_to_the_screen(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    w = p.window
    answer = focused()
    assert w.item.isAncestorOf(answer)
    w.review.cancel_button.setFocus()  # what a late click used to do: the review screen is not showing
    qtbot.waitUntil(lambda: QApplication.focusWidget() is answer, timeout=TIMEOUT_MS)
    assert_the_item_screen_answers_the_keyboard(qtbot, p)


def test_enter_and_the_keypads_enter_press_the_focused_button_on_every_screen(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    w = p.window
    w.access_code.code_edit.setText(demo.codes[0])
    press(qtbot, Qt.Key.Key_Return)
    wait_for_screen(qtbot, p, w.confirm)
    assert focused() is w.confirm.yes_button
    press(qtbot, Qt.Key.Key_Return)
    wait_for_screen(qtbot, p, w.instructions)
    assert focused() is w.instructions.start_button
    press(qtbot, Qt.Key.Key_Enter, KEYPAD)
    wait_for_screen(qtbot, p, w.sound_check)
    assert focused() is w.sound_check.yes_button
    press(qtbot, Qt.Key.Key_Enter, KEYPAD)
    wait_for_screen(qtbot, p, w.item)

    # The item screen's buttons: Tab to "Flag for review", Enter flags; Enter on "Next" moves on.
    w.item.flag_button.setFocus()
    press(qtbot, Qt.Key.Key_Return)
    assert w.item.flag_button.text() == "Remove flag"
    w.item.next_button.setFocus()
    press(qtbot, Qt.Key.Key_Return)
    assert question(p) == "Multiple choice: question 2 of 3"

    # The review screen: Enter on End asks first, and Enter then takes the safe choice.
    press(qtbot, Qt.Key.Key_R, ALT)
    w.review.end_button.setFocus()
    press(qtbot, Qt.Key.Key_Return)
    assert w.review.confirm_button.isVisible()
    assert focused() is w.review.cancel_button
    press(qtbot, Qt.Key.Key_Return)
    assert not w.review.confirm_button.isVisible()
    w.review.back_button.setFocus()
    press(qtbot, Qt.Key.Key_Enter, KEYPAD)
    assert w.current_screen() is w.item


def test_a_held_enter_presses_once(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    w = p.window
    w.item.flag_button.setFocus()
    press(qtbot, Qt.Key.Key_Return)
    assert w.item.flag_button.text() == "Remove flag"
    for repeat in (False, True, True):  # Enter pressed again and held: one press, then the keyboard's repeats
        QApplication.sendEvent(focused(), QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Return, NONE, "\r", repeat))
    assert w.item.flag_button.text() == "Flag for review"
