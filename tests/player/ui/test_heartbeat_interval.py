"""heartbeat_interval_seconds reaches the player: configured to N seconds, it sends a heartbeat every N seconds of
its clock (moved by hand here), as the real server counts them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from player.config import ConfigSources, load_config
from player.ui.assembly import controller_settings
from sync.client import client_for
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from sync.server.store import Store
from tests.helpers.clock import FakeClock
from tests.helpers.live_server import LiveServer
from tests.helpers.player_ui import MACHINE_ID, PlayerFactory, start_items
from tests.helpers.server import Demo, DemoTemplate
from tests.helpers.tls import RequestLog
from tests.helpers.waiting import TIMEOUT_MS


@pytest.fixture
def app(settings: ServerSettings, store: Store, clock: FakeClock) -> RequestLog:
    """The server's own app (as in tests/conftest.py), with the requests that reached it kept."""
    return RequestLog(create_app(settings, store=store, clock=clock))


def test_a_player_configured_for_7_seconds_sends_a_heartbeat_every_7_seconds(
    qtbot: QtBot,
    start_player: PlayerFactory,
    app: RequestLog,
    live_server: LiveServer,
    demo: Demo,
    demo_template: DemoTemplate,
    tmp_path: Path,
) -> None:
    machine_file = tmp_path / "config.toml"
    machine_file.write_text(f'server_url = "{live_server.url}"\nheartbeat_interval_seconds = 7\n', encoding="utf-8")
    config = load_config(ConfigSources(machine_file=machine_file, user_file=tmp_path / "none.toml", env={}))
    settings = controller_settings(config, MACHINE_ID)
    clock = FakeClock()
    p = start_player(clock=clock, heartbeat_every=settings.heartbeat_every)
    start_items(qtbot, p, demo.codes[0])
    session = p.controller.session
    assert session is not None
    at_start = math.ceil(session.remaining_seconds())

    def beats() -> int:
        return len(app.to("/heartbeat"))

    # One heartbeat as the sitting opened (the room hears of the student before the first section starts), and a
    # second at once if the first section began while that one was on its way. Both go before the clock moves.
    qtbot.waitUntil(lambda: beats() >= 1 and p.tasks.is_idle(), timeout=TIMEOUT_MS)
    opened = beats()
    assert opened in (1, 2)
    for n in range(1, 4):
        # Binary fractions, so the sums are exact: 6.75 s after the last beat is not yet 7.
        clock.seconds += 6.75
        assert not p.controller.invigilation.beat_if_due()
        assert beats() == opened + n - 1
        clock.seconds += 0.25
        qtbot.waitUntil(lambda n=n: beats() == opened + n, timeout=TIMEOUT_MS)  # sent by the player's timer

    # What the server made of them: the room shows the time left as of the third beat, 21 s in.
    with client_for(live_server.url, machine_id=None, timeout=5.0, ca_bundle=None) as staff:
        room = staff.room(demo_template.admin_token, demo.sitting_id)
    ada = next(s for s in room.students if s.student_name == "Ada Lovelace")
    assert ada.remaining_seconds == at_start - 21
    assert beats() == opened + 3
