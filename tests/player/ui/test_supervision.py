"""Issue 5 on the student's screen, with the real server: the invigilator's pause, resume, added time, ended
section and a code moved to another computer each reach the player within a heartbeat, and are applied once."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from player.offline_queue.uploader import Backoff
from player.supervision import ENDED_BY_INVIGILATOR, MOVED
from player.ui.assembly import Uploads
from player.ui.student_login_flow import NO_CONSOLE
from player.ui.window import PAUSED_TITLE
from sync import staff_protocol as sp
from sync.client import InvigilClient
from sync.protocol import Instruction, InstructionKind
from tests.helpers.clock import FakeClock
from tests.helpers.live_server import LiveServer
from tests.helpers.player_ui import Player, PlayerFactory, focused, start_items, wait_for_screen
from tests.helpers.server import Demo, DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS


class Invigilator:
    """Staff actions through the real client and server, as the console sends them."""

    def __init__(self, url: str, token: str, demo: Demo) -> None:
        self.client = InvigilClient(url, timeout=5.0)
        self.token = token
        self.demo = demo

    def student(self, name: str) -> sp.RoomStudent:
        room = self.client.room(self.token, self.demo.sitting_id)
        return next(s for s in room.students if s.student_name == name)

    def act(self, name: str, kind: InstructionKind, seconds: int | None = None) -> None:
        allocation = self.student(name).allocation_id
        why: sp.ReasonKind = "problem_fixed" if kind == "resume" else "technical_problem"
        self.client.act(self.token, allocation, kind, reason_kind=why, reason="", seconds=seconds)

    def release(self, name: str) -> None:
        self.client.release(self.token, self.student(name).allocation_id, "", reason_kind="moved_machine")


@pytest.fixture
def invigilator(live_server: LiveServer, demo_template: DemoTemplate, demo: Demo) -> Iterator[Invigilator]:
    staff = Invigilator(live_server.url, demo_template.admin_token, demo)
    yield staff
    staff.client.close()


def beat_until(qtbot: QtBot, p: Player, condition: Callable[[], bool]) -> None:
    """Heartbeats (never two at once) until the player shows what the instruction should have done."""

    def check() -> bool:
        p.controller.invigilation.heartbeat_now()
        return condition()

    qtbot.waitUntil(check, timeout=TIMEOUT_MS)


def remaining(p: Player) -> float:
    session = p.controller.session
    assert session is not None
    return session.remaining_seconds()


def test_pause_covers_the_window_stops_the_clock_and_resume_carries_on(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, invigilator: Invigilator
) -> None:
    clock = FakeClock()
    p = start_player(clock=clock)
    start_items(qtbot, p, demo.codes[0])
    invigilator.act("Ada Lovelace", "pause")
    beat_until(qtbot, p, p.window.is_paused)

    overlay = p.window.paused_overlay
    assert overlay.isVisible()
    assert overlay.title.text() == PAUSED_TITLE
    assert overlay.geometry() == p.window.rect()
    assert focused() is overlay
    before = remaining(p)
    clock.seconds += 300
    assert remaining(p) == before
    qtbot.keyClicks(focused(), "2")  # a student pressing keys reaches nothing
    session = p.controller.session
    assert session is not None
    assert session.answer(session.item.id) is None
    # The room shows the pause once the player has reported it.
    beat_until(qtbot, p, lambda: invigilator.student("Ada Lovelace").paused)

    invigilator.act("Ada Lovelace", "resume")
    beat_until(qtbot, p, lambda: not p.window.is_paused())
    assert not overlay.isVisible()
    clock.seconds += 10
    assert remaining(p) == pytest.approx(before - 10)
    qtbot.keyClicks(focused(), "2")
    qtbot.waitUntil(lambda: session.answer(session.item.id) == "b", timeout=TIMEOUT_MS)


def test_a_pause_survives_a_restart(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, invigilator: Invigilator
) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    invigilator.act("Ada Lovelace", "pause")
    beat_until(qtbot, p, p.window.is_paused)
    p.close()

    again = start_player()
    wait_for_screen(qtbot, again, again.window.item)
    assert again.window.is_paused()
    session = again.controller.session
    assert session is not None
    assert session.paused


def test_added_time_shows_and_is_applied_once(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, invigilator: Invigilator
) -> None:
    clock = FakeClock()
    p = start_player(clock=clock)
    start_items(qtbot, p, demo.codes[0])
    before = remaining(p)
    invigilator.act("Ada Lovelace", "add_time", seconds=120)
    beat_until(qtbot, p, lambda: p.window.banner.text() == "Your invigilator added 2 minutes.")
    assert p.window.banner.isVisible()
    assert remaining(p) == pytest.approx(before + 120)

    # The same instruction delivered again (a lost reply, then a repeat) changes nothing, even after a restart.
    session = p.controller.session
    assert session is not None
    applied = p.journal.applied_instructions(session.attempt_id)
    assert len(applied) == 1
    repeat = Instruction(id=next(iter(applied)), kind="add_time", seconds=120)
    p.controller.invigilation.apply_instruction(repeat)
    assert remaining(p) == pytest.approx(before + 120)
    p.close()
    again = start_player(clock=clock)
    wait_for_screen(qtbot, again, again.window.item)
    resumed = remaining(again)
    again.controller.invigilation.apply_instruction(repeat)
    assert remaining(again) == resumed


def test_the_invigilator_ends_the_section_like_a_time_up(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, invigilator: Invigilator
) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    session = p.controller.session
    assert session is not None
    p.window.item.answer.setFocus() if p.window.item.answer is not None else None
    qtbot.keyClick(focused(), Qt.Key.Key_2)
    qtbot.waitUntil(lambda: session.answer(session.item.id) == "b", timeout=TIMEOUT_MS)
    beat_until(qtbot, p, lambda: invigilator.student("Ada Lovelace").section_id == "mc")

    invigilator.act("Ada Lovelace", "end_section")
    beat_until(qtbot, p, lambda: p.window.current_screen() is p.window.instructions)
    assert p.window.instructions.heading.text() == "Section 2 of 3: Short answers"
    assert ENDED_BY_INVIGILATOR.format(title="Multiple choice") in p.window.instructions.notice.text()
    stored = p.journal.attempt(session.attempt_id)
    assert stored.finished_sections == ("mc",)
    envelopes = p.db.execute(
        "SELECT body FROM outbox WHERE attempt_id = ? AND kind = 'result'", [session.attempt_id]
    ).fetchall()
    assert len(envelopes) == 1
    assert '"mc-circles"' in envelopes[0][0]


def test_a_code_moved_to_another_computer_stops_this_one_for_good(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, invigilator: Invigilator
) -> None:
    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    session = p.controller.session
    assert session is not None
    attempt_id = session.attempt_id
    p.controller.items.show_review()  # section 1 ended here: its envelope is queued on this machine
    p.window.review.end_button.click()
    p.window.review.confirm_button.click()
    wait_for_screen(qtbot, p, p.window.instructions)

    invigilator.release("Ada Lovelace")
    beat_until(qtbot, p, lambda: p.window.current_screen() is p.window.access_code)
    assert p.window.access_code.error.text() == MOVED
    assert p.window.access_code.code_edit.text() == ""
    assert p.controller.session is None
    assert p.journal.attempt(attempt_id).state == "moved"
    queued = p.db.execute("SELECT COUNT(*) FROM outbox WHERE attempt_id = ? AND kind = 'result'", [attempt_id])
    assert queued.fetchone()[0] == 1
    p.close()

    again = start_player()  # restarted: nothing to resume here
    wait_for_screen(qtbot, again, again.window.access_code)
    assert again.controller.session is None
    assert again.journal.open_attempt_on_this_machine() is None

    # Moved back here later: the code works again on this machine and the sitting carries on.
    again.window.access_code.code_edit.setText(demo.codes[0])
    again.window.access_code.start_button.click()
    wait_for_screen(qtbot, again, again.window.confirm)
    again.window.confirm.yes_button.click()
    wait_for_screen(qtbot, again, again.window.item)
    resumed = again.controller.session
    assert resumed is not None
    assert resumed.attempt_id == attempt_id
    assert resumed.section.id == "short"
    assert again.journal.attempt(attempt_id).state == "open"


def test_staff_sign_in_is_a_named_keyboard_stop_that_opens_what_the_app_gives(
    qtbot: QtBot, start_player: PlayerFactory
) -> None:
    p = start_player()
    screen = p.window.access_code
    link = screen.staff_link
    assert link.accessibleName() == "Staff sign in"
    assert focused() is screen.code_edit
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert focused() is link

    qtbot.keyClick(link, Qt.Key.Key_Space)  # this build's controller was given no console
    qtbot.waitUntil(lambda: screen.error.text() == NO_CONSOLE, timeout=TIMEOUT_MS)

    opened: list[str] = []
    p.controller.open_staff_console = lambda: opened.append("console")
    link.click()
    assert opened == ["console"]


def end_section_and_start_the_next(qtbot: QtBot, p: Player) -> None:
    p.controller.items.show_review()
    p.window.review.end_button.click()
    p.window.review.confirm_button.click()
    wait_for_screen(qtbot, p, p.window.instructions)
    p.window.instructions.start_button.click()
    wait_for_screen(qtbot, p, p.window.item)


def test_the_room_shows_how_many_results_wait_on_the_machine_until_they_are_sent(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, invigilator: Invigilator
) -> None:
    """The heartbeat carries the outbox depth (results the server has not confirmed): what the console shows as
    "waiting to send". Nothing sends the first player's results; the second, restarted with its uploader, does."""

    def waiting() -> int:
        return invigilator.student("Ada Lovelace").outbox_depth

    p = start_player()
    start_items(qtbot, p, demo.codes[0])
    beat_until(qtbot, p, lambda: invigilator.student("Ada Lovelace").online)
    assert waiting() == 0

    end_section_and_start_the_next(qtbot, p)
    beat_until(qtbot, p, lambda: waiting() == 1)
    end_section_and_start_the_next(qtbot, p)
    beat_until(qtbot, p, lambda: waiting() == 2)
    room = invigilator.client.room(invigilator.token, invigilator.demo.sitting_id)
    assert room.counts.waiting_to_send == 1
    assert p.journal.outbox().depth() == 2
    p.close()

    again = start_player(uploads=Uploads(backoff=Backoff(base=0.05, cap=0.2, jitter="none"), idle_wait=0.5))
    wait_for_screen(qtbot, again, again.window.item)
    qtbot.waitUntil(lambda: again.journal.outbox().depth() == 0, timeout=TIMEOUT_MS)
    beat_until(qtbot, again, lambda: waiting() == 0)
    room = invigilator.client.room(invigilator.token, invigilator.demo.sitting_id)
    assert room.counts.waiting_to_send == 0
