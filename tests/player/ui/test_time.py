"""Section time: always on screen, warnings at 5 and 1 minutes, and at zero the section ends and is saved."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from tests.helpers.clock import FakeClock
from tests.helpers.player_ui import PlayerFactory, start_items, wait_for_screen
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
