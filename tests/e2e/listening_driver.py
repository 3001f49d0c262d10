"""A student at a dictation, as a separate process: runs the real `player.app.main` and listens, so a test can pull
the plug mid-play and check what the restarted player owes.

Run as `python -m tests.e2e.listening_driver --code CODE --script listen|resume -- <player arguments>`. Like
tests/e2e/player_driver.py it creates the QApplication that `main()` reuses and steps from a timer inside it.

    listen: sign in, end the sections before the dictation, and let its first recording play by itself; once
            the sound is under way report PLAYING and wait (for the kill).
    resume: on the resumed item, report what it shows, then Space on the focused Play again, listen to the end,
            type in the answer box, go on to the next recording (it plays by itself), and come back.

Lines on stdout (flushed at once, as the test may kill this process the moment after it reads one):

    SHOWN <item_id> playing|still <button text>|<state text>   an item with a recording has just been put on screen
    PLAYING <item_id> <button text>                           its recording is audibly under way (progress moved)
    FINISHED <item_id> <button text>                          it played to the end
    TYPED <item_id> <focused widget's accessible name>|<answer text>   letters typed where the focus was
    DONE                                                      the script is over (the test may kill now)
    STUCK <reason>
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from player import app as player_app
from player.ui.controller import PlayerController
from player.ui.screens.item_widgets import AudioBar, TextAnswer
from player.ui.window import MainWindow

log = logging.getLogger(__name__)

STEP_MS = 15
ALT = Qt.KeyboardModifier.AltModifier
TYPED_TEXT = "the cat sat"


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass
class Listener:
    code: str
    script: str
    window: MainWindow | None = None
    controller: PlayerController | None = None
    stage: str = "start"
    shown_item: str | None = None
    """The item (and visit) last reported as SHOWN: each visit is reported once."""
    visits: int = 0

    def step(self) -> None:
        try:
            if self._find_window():
                self._act()
        except Exception as exc:  # reported to the test, which fails with it
            log.exception("Listening driver step failed")
            self._stuck(f"driver error {type(exc).__name__}: {exc}")

    def _stuck(self, reason: str) -> None:
        if self.stage != "stuck":
            self.stage = "stuck"
            emit(f"STUCK {reason}")

    def _find_window(self) -> bool:
        if self.window is None:
            app = QApplication.instance()
            assert isinstance(app, QApplication)
            self.window = next(
                (w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()),
                None,
            )
            if self.window is not None:
                self.window.activateWindow()
        if self.window is not None and self.controller is None:
            self.controller = self.window.findChild(PlayerController)
        return self.controller is not None

    def _act(self) -> None:
        w = self.window
        assert w is not None
        screen = w.current_screen()
        if screen is w.access_code and w.access_code.code_edit.isEnabled() and not w.access_code.code_edit.text():
            w.access_code.code_edit.setText(self.code)
            w.access_code.start_button.click()
        elif screen is w.confirm:
            w.confirm.yes_button.click()
        elif screen is w.instructions:
            w.instructions.start_button.click()
        elif screen is w.sound_check and w.sound_check.yes_button.isVisible():
            w.sound_check.yes_button.click()
        elif screen is w.item and w.item.answer is not None:
            self._on_item()

    def _on_item(self) -> None:
        c, w = self.controller, self.window
        assert c is not None
        assert w is not None
        session = c.session
        if session is None:
            return
        bar = w.item.audio
        if bar is None:
            # A section before the dictation: end it through its review, as a student would.
            c.items.show_review()
            w.review.end_button.click()
            w.review.confirm_button.click()
            return
        item_id = session.item.id
        if self.shown_item != f"{item_id}#{self.visits}":
            self.shown_item = f"{item_id}#{self.visits}"
            playing = "playing" if bar.state.text() == "Playing…" else "still"
            emit(f"SHOWN {item_id} {playing} {bar.replay_button.text()}|{bar.state.text()}")
        if self.script == "listen":
            self._listen(item_id, bar)
        else:
            self._resume(item_id, bar)

    def _listen(self, item_id: str, bar: AudioBar) -> None:
        if self.stage == "start" and bar.state.text() == "Playing…" and bar.progress.value() > 0:
            self.stage = "playing"
            emit(f"PLAYING {item_id} {bar.replay_button.text()}")

    def _resume(self, item_id: str, bar: AudioBar) -> None:
        w = self.window
        assert w is not None
        if self.stage == "start":
            # A keyboard student: Tab to Play again, then Space, as on any button.
            bar.replay_button.setFocus(Qt.FocusReason.TabFocusReason)
            QTest.keyClick(bar.replay_button, Qt.Key.Key_Space)
            self.stage = "replaying"
        elif self.stage == "replaying" and bar.state.text().startswith("Finished"):
            emit(f"FINISHED {item_id} {bar.replay_button.text()}")
            target = QApplication.focusWidget()
            if target is None:
                self._stuck("nothing has the focus after the play")
                return
            QTest.keyClicks(target, TYPED_TEXT)
            answer = w.item.answer
            text = answer.text() if isinstance(answer, TextAnswer) else ""
            emit(f"TYPED {item_id} {target.accessibleName()}|{text}")
            self.stage = "next"
            self.visits += 1
            QTest.keyClick(target, Qt.Key.Key_N, ALT)
        elif self.stage == "next" and bar.state.text() == "Playing…" and bar.progress.value() > 0:
            emit(f"PLAYING {item_id} {bar.replay_button.text()}")
            self.stage = "back"
            self.visits += 1
            QTest.keyClick(QApplication.focusWidget() or w, Qt.Key.Key_P, ALT)
        elif self.stage == "back":
            self.stage = "done"
            emit("DONE")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="listening_driver", description=__doc__.splitlines()[0])
    parser.add_argument("--code", required=True)
    parser.add_argument("--script", choices=("listen", "resume"), required=True)
    parser.add_argument("player_args", nargs=argparse.REMAINDER, help="-- then the arguments for player.app.main")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rest = list(args.player_args)
    app = QApplication(sys.argv[:1])  # created here so main() reuses it and the timer runs inside its exec()
    listener = Listener(code=args.code, script=args.script)
    timer = QTimer()
    timer.setInterval(STEP_MS)
    timer.timeout.connect(listener.step)
    timer.start()
    try:
        return player_app.main(rest[1:] if rest[:1] == ["--"] else rest)
    finally:
        timer.stop()
        del app


if __name__ == "__main__":
    sys.exit(main())
