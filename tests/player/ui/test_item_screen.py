"""The item screen's promises: the picture fits the window, the volume reaches the player, the keyboard
walks the screen in reading order, arrows choose options, and a lost audio device costs no play."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QAbstractButton
from pytestqt.qtbot import QtBot

from player.audio.devices import FixedOutputDevices
from player.audio.interface import DEVICE_LOST_MESSAGE, NO_DEVICE_MESSAGE
from player.ui.item_audio import NOT_HEARD, READY
from player.ui.screens.item_widgets import ChoiceAnswer, ScaledImage
from player.ui.widgets import message_number
from sync.error_catalogue import number_for
from tests.helpers.player_ui import Player, PlayerFactory, focused, open_dictation, start_items, wait_finished
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS


def picture_size(image: ScaledImage) -> QSize:
    return image.pixmap().size()


@pytest.mark.parametrize("content", [None, b"not a picture"], ids=["missing", "damaged"])
def test_a_picture_that_cannot_be_shown_says_so_with_its_number(
    qtbot: QtBot, tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "map.png"
    if content is not None:
        path.write_bytes(content)
    image = ScaledImage(path, description="A map of the island")
    qtbot.addWidget(image)

    assert image.text() == "This picture could not be shown (file map.png). Tell your invigilator. (INV-3301)"
    assert message_number(image) == number_for("item.picture_missing") == "INV-3301"
    assert image.accessibleName().endswith("(error INV-3301)")


@pytest.mark.parametrize("size", [QSize(700, 560), QSize(1500, 1100)])
def test_the_picture_shrinks_and_grows_with_the_window(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, size: QSize
) -> None:
    p = start_player()
    p.window.resize(1024, 720)
    start_items(qtbot, p, demo.codes[0])
    image = p.window.item.image
    assert image is not None
    qtbot.waitUntil(lambda: not image.pixmap().isNull(), timeout=TIMEOUT_MS)
    before = picture_size(image)

    p.window.resize(size)
    qtbot.waitUntil(lambda: picture_size(image) != before, timeout=TIMEOUT_MS)
    after = picture_size(image)
    bigger = size.width() > 1024
    assert (after.width() > before.width()) is bigger
    # Within the space it was given, touching it on one side, and the shape of the original kept.
    assert after.width() <= image.width()
    assert after.height() <= image.height()
    assert after.width() == image.width() or after.height() == image.height()
    original = image.original.size()
    assert after.width() / after.height() == pytest.approx(original.width() / original.height(), rel=0.02)


def test_the_volume_slider_sets_the_players_volume(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    open_dictation(qtbot, p, demo.codes[0])
    bar = p.window.item.audio
    assert bar is not None
    bar.volume.setValue(40)
    assert p.player.volume() == pytest.approx(0.40)
    bar.volume.setFocus()
    qtbot.keyClick(bar.volume, Qt.Key.Key_Left)
    assert p.player.volume() == pytest.approx(0.35)

    p.controller.items.go_next()  # the next item's slider shows the level the student chose
    bar = p.window.item.audio
    assert bar is not None
    assert bar.volume.value() == 35
    assert p.player.volume() == pytest.approx(0.35)


def test_tab_walks_the_item_screen_in_reading_order(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    open_dictation(qtbot, p, demo.codes[0])
    p.controller.items.go_next()  # question 2 of 2: Previous is enabled and Next becomes Review
    wait_finished(qtbot, p)
    item = p.window.item
    bar = item.audio
    assert bar is not None
    assert item.answer is not None
    bar.replay_button.setFocus()
    walk = [focused()]
    for _ in range(6):
        qtbot.keyClick(focused(), Qt.Key.Key_Tab)
        walk.append(focused())
    assert walk == [
        bar.replay_button,
        bar.volume,
        item.answer.focusProxy(),
        item.previous_button,
        item.flag_button,
        item.review_button,
        item.next_button,
    ]
    names = [widget.accessibleName() for widget in walk]
    assert names == [
        "Play again (1 left)",
        "Volume",
        "Your answer",
        "Previous question",
        "Flag for review",
        "Review and end section",
        "Review this section",
    ]
    qtbot.keyClick(focused(), Qt.Key.Key_Backtab)
    assert focused() is item.review_button


def checked_names(p: Player) -> list[str]:
    buttons = p.window.item.findChildren(QAbstractButton)
    return [b.accessibleName() for b in buttons if b.isCheckable() and b.isChecked()]


def test_arrow_keys_choose_among_single_choice_options(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    answer = p.window.item.answer
    assert isinstance(answer, ChoiceAnswer)
    answer.setFocus()
    qtbot.keyClick(focused(), Qt.Key.Key_Space)
    qtbot.keyClick(focused(), Qt.Key.Key_Down)
    qtbot.keyClick(focused(), Qt.Key.Key_Down)
    assert focused() is answer.buttons[2]
    assert checked_names(p) == ["Option 3: Four"]
    qtbot.keyClick(focused(), Qt.Key.Key_Up)
    assert checked_names(p) == ["Option 2: Three"]
    qtbot.waitUntil(lambda: p.window.item.saved.text() == "Saved", timeout=TIMEOUT_MS)
    session = p.controller.session
    assert session is not None
    assert session.answer("mc-circles") == "b"


def saved_mark(p: Player) -> tuple[str, str]:
    """What the student sees next to the question, and what a screen reader says for it."""
    return p.window.item.saved.text(), p.window.item.saved.accessibleName()


def test_the_saved_mark_follows_each_item_for_eyes_and_screen_readers(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    answer = p.window.item.answer
    assert isinstance(answer, ChoiceAnswer)
    assert saved_mark(p) == ("", "No answer yet")

    answer.buttons[1].click()
    assert saved_mark(p) == ("Saved", "Saved")
    answer.buttons[0].click()  # a change on an item already marked saved is saved too, and still says so
    assert saved_mark(p) == ("Saved", "Saved")
    session = p.controller.session
    assert session is not None
    assert p.journal.answers(session.attempt_id)["mc-circles"] == "a"

    p.controller.items.go_next()
    assert saved_mark(p) == ("", "No answer yet")
    p.controller.items.go_previous()
    assert saved_mark(p) == ("Saved", "Saved")

    # Cleared for the next student: an unanswered item must not still be read out as "Saved".
    p.window.item.clear()
    p.window.item.set_saved(True, answered=False)
    assert saved_mark(p) == ("", "No answer yet")


def test_arrow_keys_move_among_check_boxes_and_space_ticks(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    p.controller.items.go_next()
    p.controller.items.go_next()
    answer = p.window.item.answer
    assert isinstance(answer, ChoiceAnswer)
    answer.setFocus()
    qtbot.keyClick(focused(), Qt.Key.Key_Space)
    qtbot.keyClick(focused(), Qt.Key.Key_Down)
    qtbot.keyClick(focused(), Qt.Key.Key_Down)
    assert focused() is answer.buttons[2]
    assert checked_names(p) == ["Option 1: river"]  # moving does not tick
    qtbot.keyClick(focused(), Qt.Key.Key_Space)
    assert checked_names(p) == ["Option 1: river", "Option 3: happiness"]
    session = p.controller.session
    assert session is not None
    assert session.answer("mc-nouns") == ["a", "c"]


def test_a_lost_audio_device_is_said_and_the_play_is_given_back(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    devices = FixedOutputDevices(["Test speakers"])
    p = start_player(devices=devices)
    open_dictation(qtbot, p, demo.codes[0])
    bar = p.window.item.audio
    session = p.controller.session
    assert bar is not None
    assert session is not None
    assert bar.state.text() == "Playing…"
    assert session.plays_used("dict-cat") == 1

    devices.set_available([])  # the headphones are pulled out mid-sentence
    assert bar.error.text() == DEVICE_LOST_MESSAGE
    assert bar.error.isVisible()
    assert bar.retry_button.isVisible()
    assert bar.state.text() == NOT_HEARD
    assert not p.player.is_playing()
    assert session.plays_used("dict-cat") == 0  # given back, in the journal too
    assert p.journal.plays(session.attempt_id).get("dict-cat", 0) == 0

    bar.retry_button.click()  # still nothing plugged in: said again, nothing spent
    assert bar.error.text() == NO_DEVICE_MESSAGE
    assert bar.retry_button.isVisible()
    assert session.plays_used("dict-cat") == 0

    devices.set_available(["USB headphones"])
    bar.retry_button.click()
    assert not bar.error.isVisible()
    assert not bar.retry_button.isVisible()
    wait_finished(qtbot, p)
    assert session.plays_used("dict-cat") == 1
    assert bar.replay_button.text() == "Play again (1 left)"
    assert bar.replay_button.isEnabled()


def test_a_play_given_back_after_a_lost_device_is_still_owed_after_a_restart(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    devices = FixedOutputDevices(["Test speakers"])
    p = start_player(devices=devices)
    open_dictation(qtbot, p, demo.codes[0])
    devices.set_available([])  # unplugged mid-sentence, then the computer is restarted
    p.close()

    again = start_player()
    qtbot.waitUntil(lambda: again.window.current_screen() is again.window.item, timeout=TIMEOUT_MS)
    session = again.controller.session
    assert session is not None
    assert session.item.id == "dict-cat"
    # The item was played before, so it does not play by itself: the play that was not heard is owed.
    bar = again.window.item.audio
    assert bar is not None
    assert session.plays_used("dict-cat") == 0
    assert bar.replay_button.text() == "Play again (2 left)"
    assert bar.state.text() == READY
    bar.replay_button.click()
    wait_finished(qtbot, again)
    assert bar.replay_button.text() == "Play again (1 left)"
    assert again.journal.plays(session.attempt_id) == {"dict-cat": 1}
