"""Screenshots of every screen, taken offscreen from the real app against the real server.

Always written to tmp_path; also to docs/screens/ when INVIGIL_UPDATE_SCREENS=1, so a normal run never
changes the tree: `INVIGIL_UPDATE_SCREENS=1 .venv/bin/pytest tests/player/ui/test_screenshots.py`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSize
from pytestqt.qtbot import QtBot

from player.audio.devices import FixedOutputDevices
from player.audio.interface import NO_DEVICE_MESSAGE
from player.student_login import downloading_text
from player.ui.qr import read_qr_texts
from player.ui.widgets import message_number
from sync.error_catalogue import number_for
from sync.version import VERSION
from tests.helpers.clock import FakeClock
from tests.helpers.player_ui import Player, PlayerFactory, log_in, wait_for_screen
from tests.helpers.screens import Camera
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS

SIZE = QSize(1024, 700)
MAX_BYTES = 150_000
TODAY = datetime(2027, 3, 1, 9, 0)
SECTION_SECONDS = 10 * 60


def camera_on(p: Player, folders: list[Path]) -> Camera:
    p.window.resize(SIZE)
    return Camera(folders, max_bytes=MAX_BYTES, width=SIZE.width())


def wait_saved(qtbot: QtBot, p: Player) -> None:
    qtbot.waitUntil(lambda: p.window.item.saved.text() == "Saved", timeout=TIMEOUT_MS)


def end_section(qtbot: QtBot, p: Player) -> None:
    p.controller.items.show_review()
    p.window.review.end_button.click()
    p.window.review.confirm_button.click()


def test_every_screen_of_a_sitting(
    qtbot: QtBot, styled: None, start_player: PlayerFactory, demo: Demo, screen_folders: list[Path]
) -> None:
    clock = FakeClock()
    # Codes at once (not after 10 s): the finished screen is shot as an offline room sees it.
    p = start_player(clock=clock, today=lambda: TODAY, result_codes_after=0.0)
    w = p.window
    cam = camera_on(p, screen_folders)
    cam.shoot(w, "01-access-code", "Type your access code", "Start", f"Invigil {VERSION}")

    w.access_code.code_edit.setText("ABCD-12")
    w.access_code.start_button.click()
    qtbot.waitUntil(lambda: w.access_code.error.text() != "", timeout=TIMEOUT_MS)
    number = message_number(w.access_code.error)
    assert number == number_for("api.malformed_code"), number
    # The sentence, its number small under it ("Error INV-2xxx", for a support call), and the version footer.
    cam.shoot(w, "02-access-code-error", w.access_code.error.text(), f"Error {number}", f"Invigil {VERSION}")

    def on_status(text: str) -> None:
        if text == downloading_text(1, 3):  # the demo has one picture and two recordings
            cam.shoot(w, "03-downloading", text)

    w.access_code.status_changed.connect(on_status)
    w.access_code.code_edit.setText(demo.codes[0])
    w.access_code.start_button.click()
    wait_for_screen(qtbot, p, w.confirm)
    assert (screen_folders[0] / "03-downloading.png").is_file()
    cam.shoot(w, "04-confirm", "Is this you?", "Ada Lovelace", "Monday 1 March 2027", "Yes, this is me")

    w.confirm.yes_button.click()
    wait_for_screen(qtbot, p, w.instructions)
    cam.shoot(w, "05-instructions", "Section 1 of 3: Multiple choice", "Start this section")

    w.instructions.start_button.click()
    wait_for_screen(qtbot, p, w.sound_check)
    cam.shoot(w, "06-sound-check", "You will hear a short sound", "Did you hear it?", "Yes, I heard it")

    w.sound_check.yes_button.click()
    wait_for_screen(qtbot, p, w.item)
    image = w.item.image
    assert image is not None
    qtbot.waitUntil(lambda: not image.pixmap().isNull(), timeout=TIMEOUT_MS)
    qtbot.keyClicks(w.item.answer, "2")
    wait_saved(qtbot, p)
    cam.shoot(w, "07-single-choice", "question 1 of 3", "Saved", "Time left 10:00")

    p.controller.items.go_next()
    p.controller.items.go_next()
    for key in ("1", "3"):
        qtbot.keyClicks(w.item.answer, key)
    wait_saved(qtbot, p)
    cam.shoot(w, "08-multiple-choice", "question 3 of 3")

    clock.advance(SECTION_SECONDS - 299)
    qtbot.waitUntil(lambda: w.banner.text() == "5 minutes left in this section.", timeout=TIMEOUT_MS)
    cam.shoot(w, "09-time-warning", "5 minutes left in this section.", "Time left 4:59")

    p.controller.items.go_next()
    wait_for_screen(qtbot, p, w.review)
    cam.shoot(w, "10-review", "Check your answers", "Question 2: NOT ANSWERED")
    w.review.end_button.click()
    cam.shoot(w, "11-end-section", "Ending this section is final", "Yes, end the section")

    w.review.confirm_button.click()
    wait_for_screen(qtbot, p, w.instructions)
    w.instructions.start_button.click()
    wait_for_screen(qtbot, p, w.item)
    qtbot.keyClicks(w.item.answer.focusProxy(), "children")  # type: ignore[union-attr]
    clock.advance(1)  # typing is committed once it is a moment old, by the session's clock
    wait_saved(qtbot, p)
    cam.shoot(w, "12-short-text", "Short answers: question 1 of 4")
    for _ in range(3):
        p.controller.items.go_next()
    answer = w.item.answer
    assert answer is not None
    qtbot.keyClicks(answer.focusProxy(), "The park is green and full of tall trees.")
    clock.advance(1)
    wait_saved(qtbot, p)
    cam.shoot(w, "13-extended-text", "question 4 of 4", "The park is green")

    end_section(qtbot, p)
    wait_for_screen(qtbot, p, w.instructions)
    w.instructions.start_button.click()
    wait_for_screen(qtbot, p, w.item)
    bar = w.item.audio
    assert bar is not None
    qtbot.waitUntil(lambda: bar.state.text() == "Finished.", timeout=TIMEOUT_MS)
    qtbot.keyClicks(w.item.answer.focusProxy(), "The cat sat on the warm mat")  # type: ignore[union-attr]
    clock.advance(1)
    wait_saved(qtbot, p)
    cam.shoot(w, "14-dictation", "Type the sentence you hear.", "Play again (1 left)", "Volume")

    end_section(qtbot, p)
    wait_for_screen(qtbot, p, w.finished)
    qtbot.waitUntil(lambda: bool(w.finished.codes()), timeout=TIMEOUT_MS)
    cam.shoot(
        w, "15-finished", "You have finished the test", "Copy result code", "Save results slip (PDF)…", "Finished"
    )
    # The shot shows a QR code a camera reads as the code beside it (an offline finish).
    assert read_qr_texts(w.grab().toImage()) == [" ".join(w.finished.code_view.toPlainText().split())]
    assert len(cam.taken) == 15 * len(screen_folders)


def test_the_sound_check_with_no_speakers(
    qtbot: QtBot, styled: None, start_player: PlayerFactory, demo: Demo, screen_folders: list[Path]
) -> None:
    p = start_player(devices=FixedOutputDevices([]), today=lambda: TODAY)
    cam = camera_on(p, screen_folders)
    log_in(qtbot, p, demo.codes[1])
    p.window.instructions.start_button.click()
    wait_for_screen(qtbot, p, p.window.sound_check)
    cam.shoot(p.window, "06-sound-check-no-device", NO_DEVICE_MESSAGE, "Try again")
