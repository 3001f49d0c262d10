"""A student at the keyboard, as a separate process: runs the real `player.app.main` and drives it with key events.

Run as `python -m tests.e2e.player_driver --code CODE --seed N [--claim-saved-early] [--report-clock] -- <player
arguments>`.
It builds nothing itself: it creates the QApplication that `main()` then reuses, schedules a timer, and calls
`main()`, which wires config, logging, journal, client and window exactly as a student's machine does. The timer
finds the window and presses keys where the focus is. It reports to stdout, one flushed line per event:

    AT <section_id> <item_id> <remaining_seconds>        an item is on screen, with the time it shows
    EDIT <item_id> <json value>                          a change is about to reach the item (before any commit)
    SAVED <item_id> <json value> <section_id> <remaining_seconds>   the item screen shows "Saved" for this value
    BLOCKED <reason>                                     the app waits for something a student cannot do here
    STUCK <reason>                                       the app is somewhere the driver cannot go on from
    RESUMED <section_id> <seconds>                       (--report-clock) a sitting began with this time left
    CLOCK <section_id> <seconds> <paused 0|1> <monotonic>   (--report-clock, every step) the section clock, exact

The test kills this process at random moments and checks the journal and the resumed screen against these lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from player import app as player_app
from player.session import SittingSession
from player.session_events import Phase
from player.ui.controller import PlayerController
from player.ui.screens.item_widgets import ChoiceAnswer, TextAnswer
from player.ui.window import MainWindow
from sync.protocol import AnswerValue, DeliveryItem

log = logging.getLogger(__name__)

STEP_MS = 15
"""How often the driver looks at the screen; actions are spaced out further (see `Pace`)."""
ALT = Qt.KeyboardModifier.AltModifier
WORDS = ("river", "swam", "children", "Paris", "green", "the cat", "on Friday", "mat", "library", "door")
TIME_SHOWN = re.compile(r"(?:(\d+):)?(\d+):(\d{2})$")
CLAIM_DELAY_MS = 250
"""--claim-saved-early: how long the pretend-broken player waits between claiming "Saved" and pressing the key."""


def emit(line: str) -> None:
    # Flushed at once: the test may kill this process the moment after it reads a line.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def compact(value: AnswerValue) -> str:
    return json.dumps(value, separators=(",", ":"))


def shown_seconds(text: str) -> int | None:
    """ "Time left 9:58" -> 598 (None when no time is shown)."""
    match = TIME_SHOWN.search(text.strip())
    if match is None:
        return None
    hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def widget_value(answer: ChoiceAnswer | TextAnswer | None) -> AnswerValue | None:
    if isinstance(answer, ChoiceAnswer):
        return answer.value()
    if isinstance(answer, TextAnswer):
        return answer.text()
    return None


def choice_after_key(answer: ChoiceAnswer, ids: Sequence[str], *, number: int, multiple: bool) -> AnswerValue:
    """What pressing digit `number` will make the answer (ChoiceAnswer.keyPressEvent's rule), known beforehand."""
    if not multiple:
        return ids[number - 1]
    chosen = set(widget_value(answer) or [])
    chosen ^= {ids[number - 1]}
    return [option for option in ids if option in chosen]


@dataclass
class Pace:
    """Actions every 40-250 ms: fast enough for many saves per run, slow enough to let commits and ticks happen."""

    rng: random.Random
    wait_steps: int = 0

    def ready(self) -> bool:
        if self.wait_steps > 0:
            self.wait_steps -= 1
            return False
        self.wait_steps = self.rng.randint(40, 250) // STEP_MS
        return True


@dataclass
class Driver:
    code: str
    rng: random.Random
    claim_saved_early: bool
    window: MainWindow | None = None
    controller: PlayerController | None = None
    pace: Pace = field(init=False)
    last_at: tuple[str, str, int] | None = None
    last_saved: dict[str, str] = field(default_factory=dict)
    """item id -> the value last reported as SAVED (compact JSON), so each shown "Saved" is reported once."""
    reported: set[str] = field(default_factory=set)
    code_typed: bool = False
    report_clock: bool = False
    clock_of: SittingSession | None = None
    """The session whose RESUMED line was printed."""

    def __post_init__(self) -> None:
        self.pace = Pace(self.rng)

    def step(self) -> None:
        try:
            if not self._find_window():
                return
            self._observe()
            if self.pace.ready():
                self._act()
            if self.report_clock:
                self._report_clock()
        except Exception as exc:  # reported to the test, which fails with it
            log.exception("Driver step failed")
            self._once(f"STUCK driver error {type(exc).__name__}: {exc}")

    def _once(self, line: str) -> None:
        if line not in self.reported:
            self.reported.add(line)
            emit(line)

    def _find_window(self) -> bool:
        if self.window is None:
            app = QApplication.instance()
            assert isinstance(app, QApplication)
            for widget in app.topLevelWidgets():
                if isinstance(widget, MainWindow) and widget.isVisible():
                    self.window = widget
                    # What a window manager does for the one window on screen: give it the keyboard.
                    widget.activateWindow()
                    break
        if self.window is not None and self.controller is None:
            # The window is painted before the rest of start-up makes the controller (player.app.main).
            self.controller = self.window.findChild(PlayerController)
        return self.controller is not None

    # ---- what the student sees ---------------------------------------------------------------------

    def _observe(self) -> None:
        w, c = self.window, self.controller
        assert w is not None
        if c is None or c.session is None or w.current_screen() is not w.item or w.item.answer is None:
            return
        section_id, item_id = c.session.section.id, c.session.item.id
        remaining = shown_seconds(w.timer.text())
        if remaining is None:
            return
        at = (section_id, item_id, remaining)
        if at != self.last_at:
            self.last_at = at
            emit(f"AT {section_id} {item_id} {remaining}")
        if self.claim_saved_early or w.item.saved.text() != "Saved":
            return
        value = widget_value(w.item.answer)
        if value is None:
            return
        shown = compact(value)
        if self.last_saved.get(item_id) != shown:
            self.last_saved[item_id] = shown
            emit(f"SAVED {item_id} {shown} {section_id} {remaining}")

    def _report_clock(self) -> None:
        # time.monotonic() is the system-wide CLOCK_MONOTONIC the test reads too, so it can tell the time left
        # at the moment it pulls the plug. Read before the time left: the pair then never shows more time than was left.
        session = self.controller.session if self.controller is not None else None
        if session is None or session.phase is not Phase.ANSWERING:
            return
        if session is not self.clock_of:
            self.clock_of = session
            emit(f"RESUMED {session.section.id} {session.started_with:.3f}")
        moment = time.monotonic()
        emit(f"CLOCK {session.section.id} {session.remaining_seconds():.6f} {int(session.paused)} {moment:.6f}")

    # ---- what the student does ----------------------------------------------------------------------

    def _press(self, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        target = QApplication.focusWidget() or self.window
        assert target is not None
        QTest.keyClick(target, key, modifier)

    def _type(self, text: str) -> None:
        target = QApplication.focusWidget() or self.window
        assert target is not None
        QTest.keyClicks(target, text)

    def _act(self) -> None:
        w = self.window
        assert w is not None
        screen = w.current_screen()
        if screen is w.access_code:
            self._on_access_code()
        elif screen is w.confirm:
            self._press(Qt.Key.Key_Space)  # "Yes, that's me" has the focus
        elif screen is w.instructions:
            self._press(Qt.Key.Key_Space)  # Start has the focus
        elif screen is w.sound_check:
            self._on_sound_check()
        elif screen is w.item:
            self._on_item()
        elif screen is w.review:
            self._on_review()
        else:
            self._once(f"STUCK on the {type(screen).__name__} screen, which the driver never asks for")

    def _on_access_code(self) -> None:
        w = self.window
        assert w is not None
        screen = w.access_code
        if not screen.code_edit.isEnabled():
            return  # checking the code with the server
        if screen.error_text() and self.code_typed:
            self._once(f"STUCK the access code was refused: {screen.error_text()}")
            return
        # On the first run, or when the app asks for the code again (its media cache was incomplete): type it.
        if screen.code_edit.text():
            return
        screen.code_edit.setFocus()
        self._type(self.code)
        self._press(Qt.Key.Key_Return)
        self.code_typed = True

    def _on_sound_check(self) -> None:
        w = self.window
        assert w is not None
        check = w.sound_check
        if check.yes_button.isVisible():
            self._press(Qt.Key.Key_Space)  # "Yes, I heard it" has the focus
            return
        # Still checking, or no audio output at all (the tests provide a PulseAudio null sink, so this is a failure).
        if check.message.text() and "No speakers" in check.message.text():
            self._once(f"BLOCKED sound check: {check.message.text()}")

    def _on_item(self) -> None:
        w, c = self.window, self.controller
        assert w is not None
        assert c is not None
        if c.session is None or w.item.answer is None:
            return
        # Like a student: answer (sometimes change it), then mostly move on, now and then go back.
        unanswered = not widget_value(w.item.answer)
        if unanswered or self.rng.random() < 0.3:
            self._answer(w.item.answer, item_id=c.session.item.id)
        elif self.rng.random() < 0.8:
            self._press(Qt.Key.Key_N, ALT)  # at the last item this opens the review
        else:
            self._press(Qt.Key.Key_P, ALT)

    def _answer(self, answer: ChoiceAnswer | TextAnswer, *, item_id: str) -> None:
        if isinstance(answer, ChoiceAnswer):
            item = self._session_item()
            ids = [option.id for option in item.options]
            number = self.rng.randint(1, len(ids))
            multiple = item.type == "multiple_choice"
            value = choice_after_key(answer, ids, number=number, multiple=multiple)
            # Announced before the key: a choice is committed inside the key press itself.
            emit(f"EDIT {item_id} {compact(value)}")
            key = Qt.Key(Qt.Key.Key_0.value + number)
            if self.claim_saved_early:
                emit(f"SAVED {item_id} {compact(value)} {self._where()}")
                self._later(lambda: self._press(key))
                self.pace.wait_steps = CLAIM_DELAY_MS // STEP_MS + 2  # nothing else happens before that key
                return
            self._press(key)
            return
        editor: QWidget | None = answer.line if answer.line is not None else answer.box
        assert editor is not None
        editor.setFocus()
        self._press(Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        if answer.text() and self.rng.random() < 0.25:
            self._press(Qt.Key.Key_Backspace)
        else:
            self._type((" " if answer.text() else "") + self.rng.choice(WORDS))
        # Typing is only a draft here: it is committed by a later tick or on leaving, never inside this call.
        value = answer.text()
        emit(f"EDIT {item_id} {compact(value)}")
        # A pause after typing (0.1-0.9 s): often long enough for the draft's commit, so "Saved" shows.
        self.pace.wait_steps = self.rng.randint(100, 900) // STEP_MS
        if self.claim_saved_early:
            emit(f"SAVED {item_id} {compact(value)} {self._where()}")

    def _session_item(self) -> DeliveryItem:
        c = self.controller
        assert c is not None
        assert c.session is not None
        return c.session.item

    def _where(self) -> str:
        w, c = self.window, self.controller
        assert w is not None
        assert c is not None
        assert c.session is not None
        return f"{c.session.section.id} {shown_seconds(w.timer.text()) or 0}"

    def _later(self, action: Callable[[], None]) -> None:
        QTimer.singleShot(CLAIM_DELAY_MS, action)

    def _on_review(self) -> None:
        w, c = self.window, self.controller
        assert w is not None
        review = w.review
        if review.confirm_button.isVisible():
            if QApplication.focusWidget() is review.cancel_button:
                self._press(Qt.Key.Key_Backtab)  # from "No, go back" to "Yes, end the section"
            elif QApplication.focusWidget() is review.confirm_button:
                self._press(Qt.Key.Key_Space)
            return
        last = c is not None and c.session is not None and c.session.is_last_section()
        # Never end the last section: the sitting would be over, and the next run would have nothing to resume.
        if not last and self.rng.random() < 0.7:
            self._press(Qt.Key.Key_E, ALT)
        else:
            self._press(Qt.Key.Key_B, ALT)


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="player_driver", description=__doc__.splitlines()[0])
    parser.add_argument("--code", required=True, help="the access code to type when the app asks for one")
    parser.add_argument("--seed", type=int, required=True, help="seed for the random choices (printed on failure)")
    parser.add_argument(
        "--claim-saved-early",
        action="store_true",
        help="TEST-ONLY, deliberately wrong: report SAVED before the answer is committed, so a test can prove "
        "the power-cut check catches a player that shows 'Saved' too early",
    )
    parser.add_argument(
        "--report-clock", action="store_true", help="print RESUMED and CLOCK lines (the section clock, to the ms)"
    )
    parser.add_argument("player_args", nargs=argparse.REMAINDER, help="-- then the arguments for player.app.main")
    args = parser.parse_args(argv)
    rest = list(args.player_args)
    return args, rest[1:] if rest[:1] == ["--"] else rest


def main(argv: Sequence[str] | None = None) -> int:
    args, player_args = parse_args(sys.argv[1:] if argv is None else argv)
    # Created here so main() reuses it (QApplication.instance()) and the driver's timer runs inside its exec().
    app = QApplication(sys.argv[:1])
    driver = Driver(
        code=args.code,
        rng=random.Random(args.seed),
        claim_saved_early=args.claim_saved_early,
        report_clock=args.report_clock,
    )
    timer = QTimer()
    timer.setInterval(STEP_MS)
    timer.timeout.connect(driver.step)
    timer.start()
    try:
        return player_app.main(player_args)
    finally:
        timer.stop()
        del app


if __name__ == "__main__":
    sys.exit(main())
