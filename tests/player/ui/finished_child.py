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
from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from player.audio.devices import FixedOutputDevices
from player.config import PlayerConfig
from player.offline_queue.uploader import Backoff
from player.ui.assembly import Edges, Uploads, build_controller, controller_settings
from player.ui.controller import PlayerController
from player.ui.window import MainWindow
from sync.client import client_for
from tests.helpers import waiting

WAIT_SECONDS = 60.0
SECTIONS = 3
MACHINE_ID = "finished-child-pc"


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
        controller.items.show_review()
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
    window = MainWindow()
    # As app.py builds it, at a test's pace: fixed sound devices, and the uploader sending to --upload-to.
    config = PlayerConfig(server_url=args.server, data_dir=args.data_dir, request_timeout_seconds=5.0)
    uploads = Uploads(
        connect=lambda _server_url: client_for(args.upload_to, machine_id=None, timeout=5.0, ca_bundle=None),
        backoff=Backoff(base=0.05, cap=0.2, jitter="none"),
        idle_wait=0.5,
    )
    edges = Edges(devices=FixedOutputDevices(["Test speakers"]), playback_rate=4.0, uploads=uploads)
    settings = replace(controller_settings(config, MACHINE_ID), heartbeat_every=None)
    built = build_controller(window, config=config, machine_id=MACHINE_ID, edges=edges, settings=settings)
    controller = built.controller
    window.show()
    controller.start()
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
        built.close()
        window.close()
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
