"""Issue 4 on the finished screen: "saved on this computer" while the network is down, "sent" once the real
uploader has drained into the server, and result codes (copied or saved) that the server takes as duplicates."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from player.offline_queue.journal import Journal
from player.offline_queue.uploader import Backoff
from player.ui.assembly import Uploads
from player.ui.parts import ControllerSettings
from player.ui.screens.finished import SAVED_HERE, SENT
from player.unsent_results import unsent_results
from sync.client import InvigilClient
from sync.protocol import BatchItemReceipt, Checkpoint
from sync.server.models import Result
from sync.server.store import Store
from tests.helpers.clock import FakeClock
from tests.helpers.live_server import LiveServer
from tests.helpers.player_ui import Player, PlayerFactory, start_items, wait_for_screen
from tests.helpers.server import Demo, DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS


def closed_port_url() -> str:
    """An address where nothing listens: every request is refused, as with the network cable out."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@dataclass
class NetworkSwitch:
    """This machine's network, at its edge: down sends every request to a closed port (connection refused)."""

    dead_url: str
    up: bool = False
    clients: list[InvigilClient] = field(default_factory=list)

    def connect(self, server_url: str) -> SwitchedClient:
        return SwitchedClient(self, server_url)


class SwitchedClient:
    """Real HTTP either way: the real client for the server, or one for the closed port while the network is down."""

    def __init__(self, switch: NetworkSwitch, server_url: str) -> None:
        self._switch = switch
        self._real = InvigilClient(server_url, timeout=5.0)
        self._dead = InvigilClient(switch.dead_url, timeout=5.0)

    def _client(self) -> InvigilClient:
        return self._real if self._switch.up else self._dead

    def submit_result_bodies(
        self, attempt_id: str, token: str, bodies: Sequence[tuple[str, str]]
    ) -> list[BatchItemReceipt]:
        return self._client().submit_result_bodies(attempt_id, token, bodies)

    def put_checkpoint(self, attempt_id: str, token: str, checkpoint: Checkpoint) -> None:
        self._client().put_checkpoint(attempt_id, token, checkpoint)

    def close(self) -> None:
        self._real.close()
        self._dead.close()


@pytest.fixture
def network() -> NetworkSwitch:
    return NetworkSwitch(closed_port_url())


@pytest.fixture
def uploads(network: NetworkSwitch) -> Uploads:
    """The real uploader (started with the player's parts, as app.py starts it) sending through this machine's
    network switch, retrying quickly."""
    return Uploads(connect=network.connect, backoff=Backoff(base=0.05, cap=0.2, jitter="none"), idle_wait=0.5)


def finish_sitting(qtbot: QtBot, p: Player, code: str) -> str:
    """Log in (the server is reachable then), end all three sections through the review screen; the attempt id."""
    start_items(qtbot, p, code)
    for section in range(3):
        p.controller.items.show_review()
        p.window.review.end_button.click()
        p.window.review.confirm_button.click()
        if section < 2:
            wait_for_screen(qtbot, p, p.window.instructions)
            p.window.instructions.start_button.click()
            wait_for_screen(qtbot, p, p.window.item)
    wait_for_screen(qtbot, p, p.window.finished)
    session = p.controller.session
    assert session is not None
    return session.attempt_id


def wait_for_codes(qtbot: QtBot, p: Player) -> None:
    """Result codes come with the finished screen's first delivery check (a second in), not with the screen."""
    qtbot.waitUntil(lambda: bool(p.window.finished.codes()), timeout=TIMEOUT_MS)


def tried_and_failed(journal: Journal, attempt_id: str) -> bool:
    """The staff console would show a result of the attempt as waiting, with the reason its last try failed."""
    return any(
        r.status().startswith("Waiting to send (last try: ") for r in unsent_results(journal, attempt_id=attempt_id)
    )


def results_on_server(store: Store, attempt_id: str) -> list[str]:
    with store.transaction() as session:
        keys = session.scalars(select(Result.idempotency_key).where(Result.attempt_id == attempt_id))
        return sorted(keys)


def test_saved_on_this_computer_while_offline_then_sent_once_the_network_returns(
    qtbot: QtBot, start_player: PlayerFactory, uploads: Uploads, network: NetworkSwitch, demo: Demo, store: Store
) -> None:
    p = start_player(uploads=uploads)
    uploader = p.uploader
    attempt_id = finish_sitting(qtbot, p, demo.codes[0])
    screen = p.window.finished

    # The uploader has tried (and failed) since the sitting ended: the screen still says where the answers are.
    qtbot.waitUntil(lambda: tried_and_failed(p.journal, attempt_id), timeout=TIMEOUT_MS)
    wait_for_codes(qtbot, p)
    assert screen.delivery.text() == SAVED_HERE
    assert [code.label for code in screen.codes()] == [
        "Section 1 of 3: Multiple choice",
        "Section 2 of 3: Short answers",
        "Section 3 of 3: Dictation",
    ]
    assert screen.copy_button.isVisible()
    assert screen.save_button.isVisible()
    assert screen.code_view.toPlainText() == screen.codes()[0].code
    assert results_on_server(store, attempt_id) == []

    network.up = True
    uploader.wake()
    qtbot.waitUntil(lambda: screen.delivery.text() == SENT, timeout=TIMEOUT_MS)
    assert not screen.copy_button.isVisible()
    assert not screen.code_view.isVisible()
    assert p.window.current_screen() is screen  # it stays until someone chooses Finished
    assert len(results_on_server(store, attempt_id)) == 3

    screen.finish_button.click()
    wait_for_screen(qtbot, p, p.window.access_code)
    assert p.window.access_code.code_edit.text() == ""


def test_copied_and_saved_result_codes_are_accepted_and_change_nothing_after_the_upload(
    qtbot: QtBot,
    start_player: PlayerFactory,
    uploads: Uploads,
    network: NetworkSwitch,
    demo: Demo,
    demo_template: DemoTemplate,
    live_server: LiveServer,
    store: Store,
    tmp_path: Path,
) -> None:
    p = start_player(uploads=uploads)  # the network is down: the uploader's first send fails, and the codes appear
    uploader = p.uploader
    attempt_id = finish_sitting(qtbot, p, demo.codes[1])
    screen = p.window.finished
    wait_for_codes(qtbot, p)

    screen.code_choice.setCurrentIndex(2)
    assert screen.code_choice.isVisible()
    screen.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert copied == screen.codes()[2].code
    assert "Section 3 of 3: Dictation" in screen.code_message.text()

    asked: list[str] = []

    def choose(_parent: QWidget, suggested: str) -> Path:
        asked.append(suggested)
        return tmp_path / "usb" / suggested

    (tmp_path / "usb").mkdir()
    screen.choose_save_path = choose
    screen.code_choice.setCurrentIndex(0)
    screen.save_button.click()
    assert asked == ["result-code-alan-turing-section-1-of-3-multiple-choice.txt"]
    saved = (tmp_path / "usb" / asked[0]).read_text(encoding="utf-8").strip()
    assert saved == screen.codes()[0].code
    assert str(tmp_path / "usb") in screen.code_message.text()

    network.up = True
    uploader.wake()
    qtbot.waitUntil(lambda: screen.delivery.text() == SENT, timeout=TIMEOUT_MS)
    uploaded = results_on_server(store, attempt_id)
    assert len(uploaded) == 3

    assert copied[0] == saved[0] == "3", "the short format: the player packs against its delivery form"
    with InvigilClient(live_server.url, timeout=5.0) as staff:
        for code in (copied, saved):
            receipt = staff.submit_result_code(demo_template.admin_token, code)
            assert receipt.duplicate, receipt
    assert results_on_server(store, attempt_id) == uploaded


def test_with_nothing_sending_them_the_codes_still_appear_after_a_while(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    clock = FakeClock()
    p = start_player(clock=clock)
    finish_sitting(qtbot, p, demo.codes[0])  # no uploader: no send is tried, so none fails
    screen = p.window.finished
    p.controller.refresh_delivery()  # a delivery check before the time is up
    assert screen.codes() == []
    assert screen.delivery.text() == SAVED_HERE

    clock.seconds += ControllerSettings(server_url="").result_codes_after
    wait_for_codes(qtbot, p)
    assert [code.label for code in screen.codes()] == [
        "Section 1 of 3: Multiple choice",
        "Section 2 of 3: Short answers",
        "Section 3 of 3: Dictation",
    ]
    assert screen.copy_button.isVisible()
    assert screen.save_button.isVisible()


def test_saving_to_a_place_that_cannot_be_written_says_so(
    qtbot: QtBot, start_player: PlayerFactory, uploads: Uploads, demo: Demo, tmp_path: Path
) -> None:
    p = start_player(uploads=uploads)  # on a network that is down: the results stay here
    finish_sitting(qtbot, p, demo.codes[0])
    screen = p.window.finished
    wait_for_codes(qtbot, p)
    screen.choose_save_path = lambda _parent, suggested: tmp_path / "no-such-stick" / suggested
    screen.save_button.click()
    message = screen.code_message.text()
    assert "could not be saved" in message
    assert str(tmp_path / "no-such-stick") in message
    assert screen.delivery.text() == SAVED_HERE


def sit_in_a_fresh_process(*, server: str, upload_to: str, code: str, data_dir: Path) -> dict[str, object]:
    """tests/player/ui/finished_child.py: a whole sitting in a process of its own (this one has loaded
    everything, `cryptography` included), reporting what its finished screen showed and what was loaded."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "tests.player.ui.finished_child"]
    command += ["--server", server, "--upload-to", upload_to, "--code", code, "--data-dir", str(data_dir)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_a_sitting_whose_results_were_all_sent_never_loads_cryptography(
    live_server: LiveServer, demo: Demo, store: Store, tmp_path: Path
) -> None:
    report = sit_in_a_fresh_process(
        server=live_server.url, upload_to=live_server.url, code=demo.codes[0], data_dir=tmp_path / "data"
    )
    assert report["delivery"] == SENT
    assert report["codes"] == []
    assert report["cryptography"] is False
    assert len(results_on_server(store, str(report["attempt_id"]))) == 3


def test_a_sitting_offline_shows_its_codes_and_they_are_genuine(
    live_server: LiveServer, demo: Demo, demo_template: DemoTemplate, store: Store, tmp_path: Path
) -> None:
    report = sit_in_a_fresh_process(
        server=live_server.url, upload_to=closed_port_url(), code=demo.codes[1], data_dir=tmp_path / "data"
    )
    assert report["delivery"] == SAVED_HERE
    codes = report["codes"]
    assert isinstance(codes, list)
    assert len(codes) == 3
    assert report["cryptography"] is True
    with InvigilClient(live_server.url, timeout=5.0) as staff:
        receipts = [staff.submit_result_code(demo_template.admin_token, code) for code in codes]
    assert not any(receipt.duplicate for receipt in receipts)
    assert len(results_on_server(store, str(report["attempt_id"]))) == 3
