"""The sound check says a sound is coming before it plays, so the first thing a student hears is not a surprise."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from player.ui.screens.sound_check import ABOUT_TO_PLAY, LEAD_IN_MS
from tests.helpers.player_ui import PlayerFactory, log_in, wait_for_screen
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS


def test_the_sound_check_says_a_sound_is_coming_then_plays_it(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    log_in(qtbot, p, demo.codes[0])
    p.window.instructions.start_button.click()
    screen = p.window.sound_check
    wait_for_screen(qtbot, p, screen)
    assert screen.about_to_play.isVisible()
    assert screen.about_to_play.text() == ABOUT_TO_PLAY
    assert screen.about_to_play.accessibleName() == ABOUT_TO_PLAY
    assert "You will hear a short sound" in ABOUT_TO_PLAY
    assert not p.player.is_playing(), "the words come first"
    with qtbot.waitSignal(p.player.started, timeout=LEAD_IN_MS + TIMEOUT_MS):
        pass
    assert screen.about_to_play.isVisible()
    assert screen.question.text() == "Did you hear it?"
    screen.yes_button.click()
    wait_for_screen(qtbot, p, p.window.item)
