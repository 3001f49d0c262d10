"""A whole sitting with the keyboard alone, against the real server: every item type, to an empty code screen."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLineEdit, QPlainTextEdit
from pytestqt.qtbot import QtBot

from player.ui.screens.finished import SAVED_HERE
from tests.helpers.player_ui import Player, PlayerFactory, focused, wait_for_screen
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS

ALT = Qt.KeyboardModifier.AltModifier


def press(qtbot: QtBot, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key press where the focus is, as a student at the keyboard would make it."""
    qtbot.keyClick(focused(), key, modifier)


def type_text(qtbot: QtBot, text: str) -> None:
    qtbot.keyClicks(focused(), text)


def wait_saved(qtbot: QtBot, p: Player) -> None:
    qtbot.waitUntil(lambda: p.window.item.saved.text() == "Saved", timeout=TIMEOUT_MS)


def end_section_by_keyboard(qtbot: QtBot, p: Player) -> None:
    wait_for_screen(qtbot, p, p.window.review)
    press(qtbot, Qt.Key.Key_E, ALT)
    # A mnemonic "animates" the click, which lands a moment later; then the safe choice has the focus.
    qtbot.waitUntil(lambda: focused() is p.window.review.cancel_button, timeout=TIMEOUT_MS)
    press(qtbot, Qt.Key.Key_Backtab)
    assert focused() is p.window.review.confirm_button
    press(qtbot, Qt.Key.Key_Space)


def test_a_complete_sitting_by_keyboard(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    w = p.window
    assert focused() is w.access_code.code_edit
    type_text(qtbot, demo.codes[0].lower())
    press(qtbot, Qt.Key.Key_Return)
    wait_for_screen(qtbot, p, w.confirm)
    assert w.confirm.student.text() == "Ada Lovelace"
    assert "Demo literacy check" in w.confirm.assessment.text()
    assert focused() is w.confirm.yes_button
    press(qtbot, Qt.Key.Key_Space)

    wait_for_screen(qtbot, p, w.instructions)
    assert w.instructions.heading.text() == "Section 1 of 3: Multiple choice"
    press(qtbot, Qt.Key.Key_Space)
    wait_for_screen(qtbot, p, w.sound_check)
    assert focused() is w.sound_check.yes_button
    press(qtbot, Qt.Key.Key_Space)

    # Section 1: choices by number keys; each is saved as soon as it is made.
    wait_for_screen(qtbot, p, w.item)
    assert w.timer.isVisible()
    assert w.timer.text().startswith("Time left")
    assert w.item.image is not None
    assert not w.item.image.failed
    for keys in (["2"], ["2"], ["1", "3"]):
        for key in keys:
            qtbot.keyClicks(focused(), key)
        wait_saved(qtbot, p)
        press(qtbot, Qt.Key.Key_N, ALT)
    end_section_by_keyboard(qtbot, p)

    # Section 2: typing, committed within the typing interval and on leaving.
    wait_for_screen(qtbot, p, w.instructions)
    assert w.instructions.heading.text() == "Section 2 of 3: Short answers"
    press(qtbot, Qt.Key.Key_Space)
    wait_for_screen(qtbot, p, w.item)
    for text in ("children", "swam", "Paris"):
        assert isinstance(focused(), QLineEdit)
        type_text(qtbot, text)
        wait_saved(qtbot, p)
        press(qtbot, Qt.Key.Key_N, ALT)
    assert isinstance(focused(), QPlainTextEdit)
    type_text(qtbot, "The park is green.")
    press(qtbot, Qt.Key.Key_N, ALT)  # leaving commits at once
    end_section_by_keyboard(qtbot, p)

    # Section 3: dictation; the recording starts by itself.
    wait_for_screen(qtbot, p, w.instructions)
    press(qtbot, Qt.Key.Key_Space)
    wait_for_screen(qtbot, p, w.item)
    for text in ("The cat sat on the warm mat by the door.", "We will meet at the library after school on Friday."):
        bar = w.item.audio
        assert bar is not None
        assert bar.replay_button.text() == "Play again (1 left)"
        assert isinstance(focused(), QPlainTextEdit)
        type_text(qtbot, text)
        press(qtbot, Qt.Key.Key_N, ALT)
    end_section_by_keyboard(qtbot, p)

    wait_for_screen(qtbot, p, w.finished)
    assert w.finished.delivery.text() == SAVED_HERE
    assert focused() is w.finished.finish_button
    press(qtbot, Qt.Key.Key_Space)

    wait_for_screen(qtbot, p, w.access_code)
    assert w.access_code.code_edit.text() == ""
    assert not w.header.isVisible()
    assert w.item.answer is None  # nothing of this student's work is left in a widget

    attempt_id = p.db.execute("SELECT attempt_id FROM attempts").fetchone()[0]
    assert p.journal.answers(attempt_id) == {
        "mc-circles": "b",
        "mc-opposite": "b",
        "mc-nouns": ["a", "c"],
        "short-plural": "children",
        "short-past": "swam",
        "short-capital": "Paris",
        "short-describe": "The park is green.",
        "dict-cat": "The cat sat on the warm mat by the door.",
        "dict-library": "We will meet at the library after school on Friday.",
    }
    envelopes = p.db.execute("SELECT COUNT(*) FROM outbox WHERE attempt_id = ?", [attempt_id]).fetchone()[0]
    assert envelopes == 3
    assert p.journal.attempt(attempt_id).state == "finished"


def test_every_control_on_the_item_screen_has_an_accessible_name(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    p.window.access_code.code_edit.setText(demo.codes[1])
    p.window.access_code.start_button.click()
    wait_for_screen(qtbot, p, p.window.confirm)
    p.window.confirm.yes_button.click()
    p.window.instructions.start_button.click()
    p.window.sound_check.yes_button.click()
    wait_for_screen(qtbot, p, p.window.item)
    unnamed = [
        type(widget).__name__
        for widget in p.window.findChildren(QAbstractButton) + p.window.findChildren(QLineEdit)
        if widget.isVisible() and not widget.accessibleName()
    ]
    assert unnamed == []
