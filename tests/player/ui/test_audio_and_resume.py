"""Recordings on items (autoplay, capped plays that survive a restart), the sound check, and resuming after a crash."""

from __future__ import annotations

from PySide6.QtWidgets import QRadioButton
from pytestqt.qtbot import QtBot

from player.audio.devices import FixedOutputDevices
from player.audio.interface import NO_DEVICE_MESSAGE
from player.student_login import ENTER_AGAIN
from player.ui.screens.sound_check import NOT_HEARD_GUIDANCE
from tests.helpers.player_ui import PlayerFactory, log_in, open_dictation, start_items, wait_finished, wait_for_screen
from tests.helpers.server import Demo


def test_dictation_plays_are_counted_capped_and_survive_a_restart(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    open_dictation(qtbot, p, demo.codes[0])
    bar = p.window.item.audio
    assert bar is not None
    assert p.window.item.prompt.text() == "Type the sentence you hear."
    # It plays by itself: no click, and the play is counted before it starts.
    assert bar.replay_button.text() == "Play again (1 left)"
    wait_finished(qtbot, p)
    assert bar.progress.value() == bar.progress.maximum()
    assert bar.replay_button.isEnabled()

    bar.replay_button.click()
    assert bar.replay_button.text() == "Play again (0 left)"
    assert not bar.replay_button.isEnabled()
    wait_finished(qtbot, p)
    assert not bar.replay_button.isEnabled()
    attempt_id = p.controller.session.attempt_id if p.controller.session else ""
    assert p.journal.plays(attempt_id) == {"dict-cat": 2}
    p.close()

    again = start_player()
    assert again.window.current_screen() is again.window.item
    bar = again.window.item.audio
    assert bar is not None
    assert bar.replay_button.text() == "Play again (0 left)"
    assert not bar.replay_button.isEnabled()
    assert "used all the plays" in bar.state.text()
    assert again.journal.plays(attempt_id) == {"dict-cat": 2}


def test_a_missing_recording_is_shown_and_not_counted(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    open_dictation(qtbot, p, demo.codes[0])
    session = p.controller.session
    assert session is not None
    second = session.section.items[1]
    cached = start_player.data_dir / "media" / second.media[0].sha256
    cached.unlink()
    p.controller.items.go_next()
    bar = p.window.item.audio
    assert bar is not None
    assert bar.error.text() == f"This recording is missing from this computer ({cached.name}). Tell your invigilator."
    assert bar.error.isVisible()
    assert session.plays_used(second.id) == 0


def test_damaged_media_after_a_restart_asks_for_the_code_again(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    log_in(qtbot, p, demo.codes[0])
    p.close()
    image = start_player.data_dir / "media"
    damaged = max(image.iterdir(), key=lambda f: f.stat().st_size)
    damaged.write_bytes(b"not the picture")

    again = start_player()
    w = again.window
    assert w.current_screen() is w.access_code
    assert w.access_code.error.text() == ENTER_AGAIN
    log_in(qtbot, again, demo.codes[0])  # the same attempt, with the file downloaded afresh
    assert damaged.stat().st_size > 1000


def test_no_audio_output_says_so_and_does_not_start(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    devices = FixedOutputDevices([])
    p = start_player(devices=devices)
    log_in(qtbot, p, demo.codes[0])
    p.window.instructions.start_button.click()
    wait_for_screen(qtbot, p, p.window.sound_check)
    screen = p.window.sound_check
    assert screen.message.text() == NO_DEVICE_MESSAGE
    assert screen.retry_button.isVisible()
    assert not screen.yes_button.isVisible()
    assert p.controller.session is None  # the section clock has not started

    screen.retry_button.click()
    assert screen.message.text() == NO_DEVICE_MESSAGE
    devices.set_available(["USB headphones"])
    screen.retry_button.click()
    assert screen.yes_button.isVisible()
    assert screen.question.text() == "Did you hear it?"
    screen.no_button.click()
    assert screen.message.text() == NOT_HEARD_GUIDANCE
    assert screen.retry_button.isVisible()
    screen.retry_button.click()
    screen.yes_button.click()
    wait_for_screen(qtbot, p, p.window.item)
    assert p.controller.session is not None


def test_a_restart_resumes_at_the_same_item_with_the_answers_shown(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    qtbot.keyClicks(p.window.item.answer, "2")
    p.controller.items.go_next()
    qtbot.keyClicks(p.window.item.answer, "4")
    p.window.item.flag_button.click()
    p.controller.items.go_next()
    p.controller.items.go_previous()  # the student is on question 2 when the power goes
    p.close()

    again = start_player()
    w = again.window
    assert w.current_screen() is w.item
    assert w.item.position.text() == "Multiple choice: question 2 of 3"
    assert w.item.flag_button.text() == "Remove flag"
    checked = [b.accessibleName() for b in w.item.findChildren(QRadioButton) if b.isChecked()]
    assert checked == ["Option 4: Famous"]
    assert w.item.saved.text() == "Saved"
    again.controller.items.go_previous()
    checked = [b.accessibleName() for b in w.item.findChildren(QRadioButton) if b.isChecked()]
    assert checked == ["Option 2: Three"]
