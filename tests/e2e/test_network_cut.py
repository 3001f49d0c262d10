"""Issue 4's done-when, end to end: a sitting finished with the network cut shows "saved on this computer", its
results reach the server (a real `invigil-server` process) exactly once when the network returns, and the same
results typed in from the result code on another machine change nothing."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from player.audio.devices import FixedOutputDevices
from player.config import PlayerConfig
from player.offline_queue.journal import Journal
from player.offline_queue.uploader import Backoff, Uploader
from player.ui.assembly import Edges, Uploads, build_controller, controller_settings
from player.ui.controller import PlayerController
from player.ui.screens.finished import SAVED_HERE, SENT
from player.ui.window import MainWindow
from sync.client import InvigilClient
from tests.helpers.e2e import START_TIMEOUT_S, E2EServer, invigil_server, isolated_env
from tests.player.ui.test_delivery import NetworkSwitch, closed_port_url, tried_and_failed

TIMEOUT_MS = 20_000
MACHINE_ID = "room1-pc07"


def server_results(db: Path, attempt_id: str) -> list[tuple[str, str, str]]:
    """(idempotency key, body digest, status) of every result the server holds for the attempt."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT idempotency_key, body_sha256, status FROM results WHERE attempt_id = ? ORDER BY idempotency_key",
            [attempt_id],
        ).fetchall()
    connection.close()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


@dataclass
class Machine:
    controller: PlayerController
    uploader: Uploader
    journal: Journal
    network: NetworkSwitch
    """This machine's cable: the test cuts it and plugs it back in."""


@pytest.fixture
def machine(qtbot: QtBot, tmp_path: Path, e2e_server: E2EServer) -> Iterator[Machine]:
    """A student's machine wired as app.py wires it, with its network at the edge under the test's control."""
    switch = NetworkSwitch(closed_port_url(), up=True)
    window = MainWindow()
    qtbot.addWidget(window)

    def connect(server_url: str) -> InvigilClient:
        return InvigilClient(server_url if switch.up else switch.dead_url, timeout=5.0)

    config = PlayerConfig(server_url=e2e_server.url, data_dir=tmp_path / "data")
    edges = Edges(
        devices=FixedOutputDevices(["Test speakers"]),
        playback_rate=4.0,
        connect=connect,
        uploads=Uploads(connect=switch.connect, backoff=Backoff(base=0.05, cap=0.3, jitter="none"), idle_wait=0.5),
    )
    settings = replace(controller_settings(config, MACHINE_ID), tick_interval_ms=50, heartbeat_every=0.5)
    built = build_controller(window, config=config, machine_id=MACHINE_ID, edges=edges, settings=settings)
    window.show()
    built.controller.start()
    assert built.uploader is not None
    assert built.journal is not None
    yield Machine(built.controller, built.uploader, built.journal, switch)
    built.close()
    window.close()


def submit_from_another_machine(server: E2EServer, code: str, folder: Path) -> str:
    """An invigilator elsewhere types the code in: `invigil-server submit-code` on the server's database."""
    done = subprocess.run(
        [*invigil_server(), "--db", str(server.db), "submit-code", "-"],
        input=code,
        capture_output=True,
        text=True,
        env=isolated_env(folder),
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"submit-code failed ({done.returncode}): {done.stderr}"
    return done.stdout


def test_a_sitting_finished_offline_is_sent_once_and_its_result_codes_change_nothing(
    qtbot: QtBot, machine: Machine, e2e_server: E2EServer, tmp_path: Path
) -> None:
    controller, uploader, switch = machine.controller, machine.uploader, machine.network
    window = controller.window

    window.access_code.code_edit.setText(e2e_server.codes[1])
    window.access_code.start_button.click()
    qtbot.waitUntil(lambda: window.current_screen() is window.confirm, timeout=TIMEOUT_MS)
    window.confirm.yes_button.click()
    window.instructions.start_button.click()
    qtbot.waitUntil(lambda: window.current_screen() is window.sound_check, timeout=TIMEOUT_MS)
    window.sound_check.yes_button.click()
    qtbot.waitUntil(lambda: window.current_screen() is window.item, timeout=TIMEOUT_MS)
    session = controller.session
    assert session is not None
    attempt_id = session.attempt_id

    switch.up = False  # the network is cut for the rest of the sitting
    for section in range(3):
        controller.items.show_review()
        window.review.end_button.click()
        window.review.confirm_button.click()
        if section < 2:
            qtbot.waitUntil(lambda: window.current_screen() is window.instructions, timeout=TIMEOUT_MS)
            window.instructions.start_button.click()
    qtbot.waitUntil(lambda: window.current_screen() is window.finished, timeout=TIMEOUT_MS)
    screen = window.finished
    qtbot.waitUntil(lambda: tried_and_failed(machine.journal, attempt_id), timeout=TIMEOUT_MS)
    assert screen.delivery.text() == SAVED_HERE
    assert server_results(e2e_server.db, attempt_id) == []
    # The codes appear at the finished screen's next look at the outbox (once a second), not with the failure.
    qtbot.waitUntil(lambda: len(screen.codes()) == 3, timeout=TIMEOUT_MS)

    codes = []
    for index in range(len(screen.codes())):
        screen.code_choice.setCurrentIndex(index)
        screen.copy_button.click()
        codes.append(QGuiApplication.clipboard().text())
    assert len(codes) == 3

    switch.up = True
    uploader.wake()
    qtbot.waitUntil(lambda: screen.delivery.text() == SENT, timeout=TIMEOUT_MS)
    held = server_results(e2e_server.db, attempt_id)
    assert len(held) == 3
    assert len({key for key, _, _ in held}) == 3

    for code in codes:
        said = submit_from_another_machine(e2e_server, code, tmp_path / "elsewhere")
        assert "already received: nothing changed" in said, said
    assert server_results(e2e_server.db, attempt_id) == held
