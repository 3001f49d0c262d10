"""Section time: always on screen, warnings at 5 and 1 minutes that leave once their moment has passed, durations
in words, and at zero the section ends and is saved."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from player.ui.banner import BANNER_SECONDS
from sync.protocol import Instruction
from tests.helpers.clock import FakeClock
from tests.helpers.player_ui import PlayerFactory, log_in, start_items, wait_for_screen
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS

SECTION_SECONDS = 10 * 60


def test_time_up_ends_the_section_and_saves_it(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    clock = FakeClock()
    p = start_player(clock=clock)
    start_items(qtbot, p, demo.codes[0])
    w = p.window
    qtbot.waitUntil(lambda: w.timer.text() == "Time left 10:00", timeout=TIMEOUT_MS)
    p.window.item.answer.setFocus()  # type: ignore[union-attr]
    qtbot.keyClicks(p.window.item.answer, "3")

    clock.advance(SECTION_SECONDS - 299)
    qtbot.waitUntil(lambda: w.banner.text() == "5 minutes left in this section.", timeout=TIMEOUT_MS)
    assert w.banner.isVisible()
    assert w.timer.text() == "Time left 4:59"
    clock.advance(240)
    qtbot.waitUntil(lambda: w.banner.text() == "1 minute left in this section.", timeout=TIMEOUT_MS)

    clock.advance(60)
    wait_for_screen(qtbot, p, w.instructions)
    assert w.instructions.notice.text() == "Time is up for the section Multiple choice. Your answers to it are saved."
    assert w.instructions.heading.text() == "Section 2 of 3: Short answers"
    session = p.controller.session
    assert session is not None
    outbox = p.db.execute("SELECT body FROM outbox WHERE attempt_id = ?", [session.attempt_id]).fetchall()
    assert len(outbox) == 1
    assert '"item_id": "mc-circles", "value": "c"' in outbox[0][0]

    # The next section's clock waits for Start.
    clock.advance(120)
    w.instructions.start_button.click()
    wait_for_screen(qtbot, p, w.item)
    qtbot.waitUntil(lambda: w.timer.text() == "Time left 10:00", timeout=TIMEOUT_MS)
    assert not w.banner.isVisible()


def test_a_warning_leaves_once_its_moment_has_passed(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    clock = FakeClock()
    p = start_player(clock=clock)
    start_items(qtbot, p, demo.codes[0])
    w = p.window
    clock.advance(SECTION_SECONDS - 300)
    qtbot.waitUntil(lambda: w.banner.text() == "5 minutes left in this section.", timeout=TIMEOUT_MS)
    clock.advance(BANNER_SECONDS - 1)
    qtbot.waitUntil(lambda: w.timer.text() == "Time left 4:31", timeout=TIMEOUT_MS)
    assert w.banner.isVisible(), "still up while it can be read"
    clock.advance(1)
    qtbot.waitUntil(lambda: not w.banner.isVisible(), timeout=TIMEOUT_MS)
    assert w.timer.text() == "Time left 4:30"
    assert w.banner.text() == ""
    clock.advance(138)  # the student saw "5 minutes left" at 2:42 before: now nothing, until the next warning
    qtbot.waitUntil(lambda: w.timer.text() == "Time left 2:12", timeout=TIMEOUT_MS)
    assert not w.banner.isVisible()


def test_added_time_takes_the_warning_down_and_it_comes_again_when_true(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    clock = FakeClock()
    p = start_player(clock=clock)
    start_items(qtbot, p, demo.codes[0])
    w = p.window
    clock.advance(SECTION_SECONDS - 240)
    qtbot.waitUntil(lambda: w.banner.text() == "5 minutes left in this section.", timeout=TIMEOUT_MS)
    p.controller.invigilation.apply_instruction(Instruction(id="add-1", kind="add_time", seconds=150))
    assert w.banner.text() == "Your invigilator added 2 minutes 30 seconds."
    assert w.timer.text() == "Time left 6:30"
    clock.advance(BANNER_SECONDS)
    qtbot.waitUntil(lambda: not w.banner.isVisible(), timeout=TIMEOUT_MS)
    clock.advance(90)  # 5 minutes left again: warned again
    qtbot.waitUntil(lambda: w.banner.text() == "5 minutes left in this section.", timeout=TIMEOUT_MS)


def test_extra_time_is_said_in_minutes_and_seconds(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    log_in(qtbot, p, demo.codes[1])  # Alan Turing: 25% extra time on 10-minute sections
    text = p.window.instructions.time.text()
    assert text == "You have 12 minutes 30 seconds for this section. The clock starts when you choose Start."
    assert p.window.instructions.time.accessibleName() == text
