"""Fair listening on the item screen (issue 18): a recording plays by itself only on the first visit, a play cut by
the invigilator's pause is given back, and after the pause the student's keys land in the answer, never on Play."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPlainTextEdit
from pytestqt.qtbot import QtBot

from player.ui.item_audio import PAUSE_CUT_PLAY, READY
from player.ui.screens.item_widgets import PLAY_RULE
from sync.protocol import Instruction
from tests.helpers.player_ui import Player, PlayerFactory, focused, open_dictation, wait_finished
from tests.helpers.server import Demo


def instruct(p: Player, instruction_id: str, kind: str) -> None:
    """An invigilator's instruction as a heartbeat reply delivers it (applied once, remembered in the journal)."""
    p.controller.invigilation.apply_instruction(Instruction(id=instruction_id, kind=kind))  # type: ignore[arg-type]


def answer_box(p: Player) -> QPlainTextEdit:
    box = p.window.item.findChild(QPlainTextEdit)
    assert box is not None
    return box


def test_a_revisit_shows_the_plays_left_and_does_not_play_by_itself(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    open_dictation(qtbot, p, demo.codes[0])
    wait_finished(qtbot, p)  # the first visit: it played by itself
    p.controller.items.go_next()
    p.controller.items.go_previous()

    bar = p.window.item.audio
    assert bar is not None
    assert bar.state.text() == READY
    assert bar.replay_button.text() == "Play again (1 left)"
    assert bar.replay_button.isEnabled()
    assert bar.replay_button.accessibleDescription() == PLAY_RULE  # the rule, for a screen reader and as a tooltip
    assert bar.progress.value() == 0
    session = p.controller.session
    assert session is not None
    # The second item was left while it played by itself: the student's choice, so that play is used.
    assert p.journal.plays(session.attempt_id) == {"dict-cat": 1, "dict-library": 1}


def test_a_play_cut_by_the_pause_is_given_back_and_the_keys_then_land_in_the_answer(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    open_dictation(qtbot, p, demo.codes[0])
    bar = p.window.item.audio
    assert bar is not None
    assert bar.state.text() == "Playing…"
    qtbot.keyClicks(focused(), "The")

    instruct(p, "pause-1", "pause")
    assert bar.state.text() == PAUSE_CUT_PLAY
    assert bar.replay_button.text() == "Play again (2 left)"
    instruct(p, "resume-1", "resume")
    assert focused() is answer_box(p)

    # Whatever had the focus before a pause (here Play again, which a keyboard student reached with Tab) ...
    bar.replay_button.setFocus(Qt.FocusReason.TabFocusReason)
    instruct(p, "pause-2", "pause")
    instruct(p, "resume-2", "resume")

    # ... after the pause the focus is in the answer: a space and letters are typed there and play nothing.
    assert focused() is answer_box(p)
    qtbot.keyClicks(focused(), " cat sat")
    assert answer_box(p).toPlainText() == "The cat sat"
    assert bar.replay_button.text() == "Play again (2 left)"
    assert bar.state.text() == PAUSE_CUT_PLAY
    session = p.controller.session
    assert session is not None
    plays = p.journal.play_record()
    assert [(play.item_id, play.reason) for play in plays.given_back(session.attempt_id)] == [("dict-cat", "paused")]
    assert p.journal.plays(session.attempt_id) == {}


def test_play_again_by_mouse_or_space_leaves_the_typing_in_the_answer(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    open_dictation(qtbot, p, demo.codes[0])
    wait_finished(qtbot, p)
    bar = p.window.item.audio
    assert bar is not None

    # A click plays and leaves the focus where the student was typing.
    qtbot.mouseClick(bar.replay_button, Qt.MouseButton.LeftButton)
    assert bar.replay_button.text() == "Play again (0 left)"
    assert focused() is answer_box(p)
    qtbot.keyClicks(focused(), "a b")
    assert answer_box(p).toPlainText() == "a b"
    wait_finished(qtbot, p)
    assert bar.replay_button.text() == "Play again (0 left)"
    session = p.controller.session
    assert session is not None
    assert p.journal.plays(session.attempt_id) == {"dict-cat": 2}

    # On the next item: Tab to Play again, Space plays it (as on any button), and the focus returns to the answer.
    p.controller.items.go_next()
    wait_finished(qtbot, p)
    bar = p.window.item.audio
    assert bar is not None
    bar.replay_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(bar.replay_button, Qt.Key.Key_Space)
    assert bar.state.text() == "Playing…"
    assert bar.replay_button.text() == "Play again (0 left)"
    assert focused() is answer_box(p)
