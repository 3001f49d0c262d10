"""A whole sitting in a process of its own, for tests/player/ui/test_delivery.py: what the finished screen showed,
and whether `cryptography` was loaded by then (the test process has loaded everything, so it cannot tell).

Run as `python -m tests.player.ui.finished_child --server URL --upload-to URL --code CODE --data-dir PATH`. The
player is wired as app.py wires it, with the real uploader sending to --upload-to (a closed port: offline). Prints
one JSON line: attempt_id, delivery (the screen's sentence), codes (the result codes shown) and cryptography.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from player.audio.devices import FixedOutputDevices
from player.audio.qt import QtAudioPlayer
from player.offline_queue.db import journal_path, open_database
from player.offline_queue.journal import Journal
from player.offline_queue.uploader import Backoff, Uploader
from player.ui.controller import ControllerSettings, PlayerController
from player.ui.tasks import TaskRunner
from player.ui.window import MainWindow
from resources import soundcheck_path
from sync.client import client_for
from sync.mediacache import MediaCache
from tests.helpers import waiting

WAIT_SECONDS = 60.0
SECTIONS = 3


def wait_until(app: QApplication, condition: Callable[[], bool], what: str) -> None:
    waiting.wait_until(condition, what=what, timeout=WAIT_SECONDS, interval=0.005, between=app.processEvents)


def sit(app: QApplication, window: MainWindow, controller: PlayerController, code: str) -> None:
    """Log in, then end every section from its review screen, as test_delivery.finish_sitting does."""

    def on(screen: QWidget) -> Callable[[], bool]:
        return lambda: window.current_screen() is screen

    window.access_code.code_edit.setText(code)
    window.access_code.start_button.click()
    wait_until(app, on(window.confirm), "the 'Is this you?' screen")
    window.confirm.yes_button.click()
    for section in range(SECTIONS):
        wait_until(app, on(window.instructions), f"the instructions of section {section + 1}")
        window.instructions.start_button.click()
        if window.current_screen() is window.sound_check:
            window.sound_check.yes_button.click()
        wait_until(app, on(window.item), f"the first item of section {section + 1}")
        controller.show_review()
        window.review.end_button.click()
        window.review.confirm_button.click()
    wait_until(app, on(window.finished), "the finished screen")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.player.ui.finished_child")
    parser.add_argument("--server", required=True, help="where the player logs in")
    parser.add_argument("--upload-to", required=True, help="where the uploader sends the results")
    parser.add_argument("--code", required=True)
    parser.add_argument("--data-dir", required=True, type=Path)
    args = parser.parse_args(argv)

    app = QApplication(sys.argv[:1])
    path = journal_path(args.data_dir)
    db = open_database(path)
    devices = FixedOutputDevices(["Test speakers"])
    player = QtAudioPlayer(devices, playback_rate=4.0)
    window = MainWindow(player=player, devices=devices, soundcheck_clip=soundcheck_path())
    tasks = TaskRunner(parent=window)
    uploader = Uploader(
        lambda: open_database(path),
        lambda _server_url: client_for(args.upload_to, machine_id=None, timeout=5.0, ca_bundle=None),
        backoff=Backoff(base=0.05, cap=0.2, jitter="none"),
        idle_wait=0.5,
    )
    controller = PlayerController(
        window=window,
        journal=Journal(db),
        make_client=lambda: client_for(args.server, machine_id=None, timeout=5.0, ca_bundle=None),
        media_cache=MediaCache(args.data_dir / "media"),
        player=player,
        tasks=tasks,
        settings=ControllerSettings(server_url=args.server, heartbeat_every=None),
        wake_uploader=uploader.wake,
    )
    window.show()
    controller.start()
    uploader.start()
    try:
        sit(app, window, controller, args.code)
        screen = window.finished
        wait_until(app, lambda: screen.is_sent() or bool(screen.codes()), "'sent' or the result codes")
        session = controller.session
        report = {
            "attempt_id": session.attempt_id if session is not None else "",
            "delivery": screen.delivery.text(),
            "codes": [code.code for code in screen.codes()],
            "cryptography": "cryptography" in sys.modules,
        }
    finally:
        controller.shutdown()
        uploader.stop()
        tasks.wait()
        player.close()
        window.close()
        db.close()
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
