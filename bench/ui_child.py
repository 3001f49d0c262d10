"""Child process that drives the real player UI against a bench server and prints its samples as JSON.

`python -m bench.ui_child --server URL --codes C1,C2 --data-dir D --answers N --transitions N`: the first code
sits the whole demo (answer saves and item transitions measured on the way, peak RSS read at its end); every
code measures the dictation section's autoplay (item shown -> playback position > 0). Each answer save is paired
with a bare one-row commit next to the journal (`bench.ui_figures.BareCommit`): the same-run floor of that figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QLineEdit, QPlainTextEdit, QWidget

from bench.qt_child import peak_rss_kb, rss_kb
from bench.ui_figures import BareCommit, empty_wal, wal_frames
from player.audio.devices import FixedOutputDevices
from player.config import PlayerConfig
from player.offline_queue.db import journal_path
from player.ui.assembly import Edges, build_controller
from player.ui.garbage import GuiThreadGarbageCollector
from player.ui.screens.item_widgets import ChoiceAnswer
from player.ui.style import apply_style
from player.ui.window import MainWindow

WAIT_SECONDS = 30.0


@dataclass
class Samples:
    answer_ms: list[float] = field(default_factory=list)
    answer_floor_ms: list[float] = field(default_factory=list)
    """Bare one-row commits, each alternated with one answer click (see answer_changes)."""
    wal_frames_per_commit: dict[str, int] = field(default_factory=dict)
    load_average_before_answers: list[float] = field(default_factory=list)
    load_average_after_answers: list[float] = field(default_factory=list)
    transition_ms: list[float] = field(default_factory=list)
    autoplay_ms: list[float] = field(default_factory=list)
    journal_rows: int = 0
    sitting_peak_rss_kb: int = 0
    rss_kb_after: dict[str, int] = field(default_factory=dict)
    """Resident memory after each stage of the sitting: where the peak comes from."""

    def note_rss(self, stage: str) -> None:
        self.rss_kb_after[stage] = rss_kb()


class PaintLog(QObject):
    """Remembers when each widget last received a Paint event (the filter runs as the paint is delivered)."""

    def __init__(self) -> None:
        super().__init__()
        self.painted: dict[int, float] = {}

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.painted[id(watched)] = time.perf_counter()
        return False


class Driver:
    """The app wired as player/app.py wires it, plus the few steps a student takes."""

    def __init__(self, app: QApplication, *, server_url: str, data_dir: Path) -> None:
        self.app = app
        self.journal_file = journal_path(data_dir)
        self.window = MainWindow()
        # As app.py: Python's automatic garbage collection is off; a GUI-thread timer collects between events.
        GuiThreadGarbageCollector(self.window)
        # Built as app.py builds it; no sound card here (QtMultimedia still decodes), and no uploader, as before.
        config = PlayerConfig(server_url=server_url, data_dir=data_dir, typing_commit_seconds=0.2)
        edges = Edges(devices=FixedOutputDevices(["Bench speakers"]), uploads=None)
        self.built = build_controller(self.window, config=config, machine_id="bench-pc", edges=edges)
        self.controller = self.built.controller
        self.paints = PaintLog()
        app.installEventFilter(self.paints)
        self.window.show()
        self.controller.start()
        assert self.built.db is not None
        assert self.built.player is not None
        self.db, self.player = self.built.db, self.built.player
        self.position_ms = 0
        self.player.progress.connect(self._on_progress)

    def _on_progress(self, position: int, _duration: int) -> None:
        self.position_ms = position

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"bench UI: waited {WAIT_SECONDS:.0f} s for {what}")
            self.settle()
            # Give the GUI thread back to Qt's own timers and the network thread without a busy spin.
            time.sleep(0.0005)

    def settle(self) -> None:
        """One turn of the event loop: paints, timers (ticks, heartbeats, garbage collection), deferred deletes."""
        self.app.processEvents()
        # What returning to app.exec() does and processEvents() alone does not: delete the widgets given
        # to deleteLater() (each item's old content). Without it the bench keeps every item ever shown.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    def on_screen(self, screen: QWidget) -> Callable[[], bool]:
        return lambda: self.window.current_screen() is screen

    def log_in(self, code: str) -> None:
        w = self.window
        w.access_code.code_edit.setText(code)
        w.access_code.start_button.click()
        self.wait_until(self.on_screen(w.confirm), "the 'Is this you?' screen")
        w.confirm.yes_button.click()
        self.wait_until(self.on_screen(w.instructions), "the first instructions")

    def start_section(self) -> None:
        w = self.window
        w.instructions.start_button.click()
        if w.current_screen() is w.sound_check:
            w.sound_check.yes_button.click()
        self.wait_until(self.on_screen(w.item), "the first item")

    def end_section(self) -> None:
        w = self.window
        w.item.review_button.click()
        self.wait_until(self.on_screen(w.review), "the review screen")
        w.review.end_button.click()
        w.review.confirm_button.click()

    def click_painted(self, button: QAbstractButton, target: Callable[[], QWidget | None]) -> float:
        """Click, then wait until the widget `target` names has been painted; milliseconds from the click."""
        started = time.perf_counter()
        button.click()
        widget = target()
        if widget is None:
            raise RuntimeError("bench UI: the item has no widget to watch for painting")
        self.paints.painted.pop(id(widget), None)
        self.wait_until(lambda: id(widget) in self.paints.painted, "the next item to be painted")
        return (self.paints.painted[id(widget)] - started) * 1000

    def autoplay(self, start: Callable[[], None]) -> float:
        """Show an item (via `start`) and wait until its recording's position is past 0."""
        self.position_ms = 0
        started = time.perf_counter()
        start()
        self.wait_until(lambda: self.position_ms > 0, "the recording to start playing")
        return (time.perf_counter() - started) * 1000


def answer_changes(d: Driver, count: int, samples: Samples, floor: BareCommit) -> None:
    """Alternate the first item's choice: every click commits a journal row before it returns.

    Each click is paired with one bare commit (`floor`) in this process, in the journal's folder, so that load
    drift on the shared machine hits both alike; their order alternates within the pairs, so neither always
    follows the other's fsync. Both WALs start empty (as the player's journal does at every start) and get the
    same warm-up. Between pairs the event loop runs once (paints, timers, garbage collection), untimed, as it
    does between a student's clicks."""
    answer = d.window.item.answer
    assert isinstance(answer, ChoiceAnswer), "the demo's first item is single choice"
    buttons = answer.buttons
    page_size = int(d.db.execute("PRAGMA page_size").fetchone()[0])
    warm_up = max(2, count // 20)

    def click(n: int) -> float:
        started = time.perf_counter()
        buttons[n % 2].click()
        return (time.perf_counter() - started) * 1000

    click(-warm_up)  # the item's first answer inserts its row; every later click rewrites it
    d.settle()
    empty_wal(d.db.conn)
    floor.empty_wal()
    # The first commit into each empty WAL shows how many frames one commit writes (the floor should match).
    click(-warm_up - 1)  # the other choice than the loop's first click, so that one changes the answer too
    floor.commit_ms()
    samples.wal_frames_per_commit = {
        "journal": wal_frames(d.journal_file, page_size=page_size),
        "floor": floor.wal_frames(),
    }
    samples.load_average_before_answers = list(os.getloadavg())
    for n in range(-warm_up, count):
        if (n // 2) % 2 == 0:
            floor_ms = floor.commit_ms()
            answer_ms = click(n)
        else:
            answer_ms = click(n)
            floor_ms = floor.commit_ms()
        d.settle()
        if n >= 0:
            samples.answer_ms.append(answer_ms)
            samples.answer_floor_ms.append(floor_ms)
    samples.load_average_after_answers = list(os.getloadavg())
    if d.window.item.saved.text() != "Saved":
        raise RuntimeError(f"bench UI: after {count} changes the item shows {d.window.item.saved.text()!r}")


def transitions(d: Driver, count: int, samples: Samples) -> None:
    """Next and previous through the first section (its first item has the demo picture)."""
    item = d.window.item

    def painted_target() -> QWidget | None:
        return item.image if item.image is not None else item.prompt

    while len(samples.transition_ms) < count:
        for button in (item.next_button, item.next_button, item.previous_button, item.previous_button):
            samples.transition_ms.append(d.click_painted(button, painted_target))


def sit_demo(d: Driver, code: str, *, answers: int, transition_count: int, samples: Samples, floor: Path) -> None:
    w = d.window
    samples.note_rss("window shown")
    d.log_in(code)
    samples.note_rss("logged in")
    d.start_section()
    samples.note_rss("first item")
    bare = BareCommit(floor)
    try:
        answer_changes(d, answers, samples, bare)
    finally:
        bare.close()
    samples.note_rss("answer changes")
    transitions(d, transition_count, samples)
    samples.note_rss("transitions")
    for _ in range(3):
        if isinstance(w.item.answer, ChoiceAnswer):
            w.item.answer.buttons[0].click()
        w.item.next_button.click()
    d.end_section()
    d.start_section()
    for text in ("children", "swam", "Paris", "The park is green."):
        editor = w.item.answer.line or w.item.answer.box if w.item.answer is not None else None  # type: ignore[union-attr]
        if isinstance(editor, QLineEdit):
            editor.setText(text)
        elif isinstance(editor, QPlainTextEdit):
            editor.setPlainText(text)
        w.item.next_button.click()
    d.end_section()
    samples.note_rss("typed answers")
    dictation(d, samples)
    samples.note_rss("dictation")
    samples.sitting_peak_rss_kb = peak_rss_kb()
    samples.journal_rows = int(d.db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])


def dictation(d: Driver, samples: Samples) -> None:
    """The last section: each recording plays by itself when its item is shown."""
    w = d.window
    samples.autoplay_ms.append(d.autoplay(d.start_section))
    samples.autoplay_ms.append(d.autoplay(w.item.next_button.click))
    w.item.next_button.click()
    d.end_section()
    d.wait_until(d.on_screen(w.finished), "the finished screen")
    w.finished.finish_button.click()
    d.wait_until(d.on_screen(w.access_code), "an empty access-code screen")


def straight_to_dictation(d: Driver, code: str, samples: Samples) -> None:
    d.log_in(code)
    for _ in range(2):
        d.start_section()
        d.end_section()
        d.wait_until(d.on_screen(d.window.instructions), "the next section's instructions")
    dictation(d, samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ui_child")
    parser.add_argument("--server", required=True)
    parser.add_argument("--codes", required=True, help="comma-separated access codes, one per sitting")
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--transitions", type=int, default=60)
    args = parser.parse_args(argv)
    codes = [c for c in args.codes.split(",") if c]
    app = QApplication(sys.argv[:1])
    apply_style(app)
    driver = Driver(app, server_url=args.server, data_dir=args.data_dir)
    samples = Samples()
    try:
        sit_demo(
            driver,
            codes[0],
            answers=args.answers,
            transition_count=args.transitions,
            samples=samples,
            floor=args.data_dir / "bench-floor.sqlite3",
        )
        for code in codes[1:]:
            straight_to_dictation(driver, code, samples)
    finally:
        driver.built.close()
        driver.window.close()
    # The main window closes before the peak is read again, so the sitting's figure is the one taken above.
    print(json.dumps(asdict(samples)), flush=True)
    QTimer.singleShot(0, app.quit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
