"""What a real player tells the invigilator's room by heartbeat: its name, answered/total, the sound check's outcome,
no sound output, its version and readiness check, and a restart with a sitting open (the live server's room view, read as the console reads it)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from player.audio.devices import FixedOutputDevices
from sync import staff_protocol as sp
from sync.client import client_for
from sync.version import VERSION
from tests.helpers.live_server import LiveServer
from tests.helpers.player_ui import PlayerFactory, log_in, start_items, wait_for_screen
from tests.helpers.server import Demo, DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS

ADA = "Ada Lovelace"


class Room:
    """The room view as the console fetches it, for the student `name`."""

    def __init__(self, live_server: LiveServer, demo: Demo, demo_template: DemoTemplate) -> None:
        self._url, self._sitting, self._token = live_server.url, demo.sitting_id, demo_template.admin_token

    def student(self, name: str = ADA) -> sp.RoomStudent:
        with client_for(self._url, machine_id=None, timeout=5.0, ca_bundle=None) as staff:
            view = staff.room(self._token, self._sitting)
        return next(s for s in view.students if s.student_name == name)


def test_the_room_hears_the_machine_name_the_sound_check_and_answered_total(
    qtbot: QtBot, start_player: PlayerFactory, live_server: LiveServer, demo: Demo, demo_template: DemoTemplate
) -> None:
    room = Room(live_server, demo, demo_template)
    p = start_player(machine_name="Room 12 PC 3", heartbeat_every=None)
    log_in(qtbot, p, demo.codes[0])
    # Heard of at once, on the first instructions, before any section starts.
    qtbot.waitUntil(lambda: room.student().machine_name == "Room 12 PC 3", timeout=TIMEOUT_MS)
    assert (room.student().state, room.student().section_id) == ("in_progress", None)

    p.window.instructions.start_button.click()
    wait_for_screen(qtbot, p, p.window.sound_check)
    p.window.sound_check.no_button.click()
    qtbot.waitUntil(lambda: room.student().audio == "not_heard", timeout=TIMEOUT_MS)

    p.window.sound_check.retry_button.click()
    p.window.sound_check.yes_button.click()
    wait_for_screen(qtbot, p, p.window.item)
    qtbot.waitUntil(lambda: room.student().audio == "heard", timeout=TIMEOUT_MS)
    qtbot.keyClicks(p.window.item.answer, "2")
    qtbot.waitUntil(lambda: p.controller.invigilation.heartbeat_now(), timeout=TIMEOUT_MS)
    attempt_id = room.student().attempt_id
    assert attempt_id is not None
    total = sum(len(s.items) for s in p.journal.attempt(attempt_id).login.assessment.sections)
    qtbot.waitUntil(lambda: room.student().answered_count == 1, timeout=TIMEOUT_MS)
    assert room.student().question_count == total


def test_a_machine_without_sound_output_is_reported(
    qtbot: QtBot, start_player: PlayerFactory, live_server: LiveServer, demo: Demo, demo_template: DemoTemplate
) -> None:
    room = Room(live_server, demo, demo_template)
    p = start_player(devices=FixedOutputDevices([]), heartbeat_every=None)
    log_in(qtbot, p, demo.codes[0])
    qtbot.waitUntil(lambda: room.student().audio == "no_device", timeout=TIMEOUT_MS)


def test_a_player_that_starts_again_with_the_sitting_open_is_reported_as_restarted(
    qtbot: QtBot, start_player: PlayerFactory, live_server: LiveServer, demo: Demo, demo_template: DemoTemplate
) -> None:
    room = Room(live_server, demo, demo_template)
    first = start_player(heartbeat_every=None)
    start_items(qtbot, first, demo.codes[0])
    qtbot.waitUntil(lambda: first.controller.invigilation.heartbeat_now(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: room.student().item_index == 1, timeout=TIMEOUT_MS)
    assert room.student().resumed_at is None
    first.close()  # the power goes

    again = start_player(heartbeat_every=None)
    wait_for_screen(qtbot, again, again.window.item)
    qtbot.waitUntil(lambda: room.student().resumed_at is not None, timeout=TIMEOUT_MS)


def test_the_room_hears_the_players_version_and_its_readiness_check(
    qtbot: QtBot, start_player: PlayerFactory, live_server: LiveServer, demo: Demo, demo_template: DemoTemplate
) -> None:
    """The quick readiness check runs once after start, off the GUI thread; the heartbeats after it carry its
    one-line summary, and every heartbeat the version."""
    room = Room(live_server, demo, demo_template)
    p = start_player(heartbeat_every=None)
    log_in(qtbot, p, demo.codes[0])
    qtbot.waitUntil(lambda: room.student().app_version == VERSION, timeout=TIMEOUT_MS)

    def summary_arrived() -> bool:
        p.controller.invigilation.heartbeat_now()
        return room.student().readiness is not None

    qtbot.waitUntil(summary_arrived, timeout=TIMEOUT_MS)
    readiness = room.student().readiness
    assert readiness is not None
    assert readiness.strip(), "a summary in words"
    assert "\n" not in readiness, "one line"
    assert len(readiness) <= 200
    assert room.student().left_window_count == 0, "no kiosk counter here: nothing left"
