"""Start-up: the access-code screen is on screen before the journal and the rest are built, and nothing is lost by it."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from player.app import main
from player.audio.devices import FixedOutputDevices
from player.config import PlayerConfig
from player.offline_queue.db import JOURNAL_FILE_NAME, journal_path
from player.ui.assembly import Edges, build_controller, controller_settings
from player.ui.screens.access_code import AccessCodeScreen
from player.ui.screens.cannot_start import CannotStartScreen
from player.ui.window import MainWindow
from tests.helpers.live_server import LiveServer
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS

CLOSED_PORT = "http://127.0.0.1:9"


@pytest.fixture
def app_process_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """main() sets what a process has once (log handler, Ctrl+C handler): put them back after the test. The user's
    data folder (where a failure is logged when the config itself failed) is the test's own."""
    monkeypatch.setenv("INVIGIL_CONFIG", str(tmp_path / "no-such-config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    sigint = signal.getsignal(signal.SIGINT)
    yield
    for handler in root.handlers[len(handlers) :]:
        handler.close()
        root.removeHandler(handler)
    root.setLevel(level)
    signal.signal(signal.SIGINT, sigint)


@pytest.fixture
def machine_config(app_process_state: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], Path]:
    """Writes the machine-wide config file the started player reads (INVIGIL_CONFIG) and gives its path."""

    def write(text: str) -> Path:
        config = tmp_path / "config.toml"
        config.write_text(text, encoding="utf-8")
        monkeypatch.setenv("INVIGIL_CONFIG", str(config))
        return config

    return write


class PaintSpy(QObject):
    """Calls `seen(screen)` at the first Paint of an access-code screen, as a student's eyes would."""

    def __init__(self, seen: Callable[[AccessCodeScreen], None]) -> None:
        super().__init__()
        self._seen: Callable[[AccessCodeScreen], None] | None = seen

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self._seen is not None and event.type() == QEvent.Type.Paint and isinstance(watched, AccessCodeScreen):
            seen, self._seen = self._seen, None
            seen(watched)
        return False


def run_main(argv: list[str], step: Callable[[MainWindow], bool], *, wait_for_quit: bool | None = None) -> int:
    """Run the real main() here; `step(window)` is called every few ms and closes the window by returning True.
    wait_for_quit: as if someone could see the window (offscreen, the player would exit at a failure)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)

    def poll() -> None:
        for widget in app.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.isVisible() and step(widget):
                widget.close()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(10)
    try:
        return main(argv, wait_for_quit=wait_for_quit)
    finally:
        timer.stop()


def test_the_code_screen_is_shown_before_the_journal_is_opened_and_then_the_app_is_ready(
    qtbot: QtBot, tmp_path: Path, app_process_state: None
) -> None:
    data = tmp_path / "data"
    journal_at_first_paint: list[bool] = []
    spy = PaintSpy(lambda _screen: journal_at_first_paint.append(journal_path(data).exists()))
    app = QApplication.instance()
    assert app is not None
    app.installEventFilter(spy)
    ready: list[MainWindow] = []

    def step(window: MainWindow) -> bool:
        # Ready: the other screens exist and the resume check ran (an empty code screen, the box has the focus).
        if window.has_sitting_screens and window.current_screen() is window.access_code and journal_at_first_paint:
            ready.append(window)
            return True
        return False

    try:
        status = run_main(["--server", CLOSED_PORT, "--data-dir", str(data)], step)
    finally:
        app.removeEventFilter(spy)

    assert status == 0
    assert journal_at_first_paint == [False], "the journal was opened before the access-code screen was painted"
    assert ready, "the player never finished starting"
    assert journal_path(data).is_file()
    assert (data / "logs" / "player.log").is_file()


class FailureSeen:
    """What a person at the window reads on the "cannot start" screen; then presses Quit, as they would."""

    def __init__(self) -> None:
        self.shown: dict[str, str] = {}
        self.polls = 0

    def step(self, window: MainWindow) -> bool:
        screen = window.current_screen()
        if isinstance(screen, CannotStartScreen) and not self.shown and screen.isVisible():
            self.shown = {
                "title": screen.heading.text(),
                "reason": screen.reason_text(),
                "number": screen.reason_number(),
                "log": screen.log_file.text(),
                "focus": "quit" if screen.quit_button.hasFocus() or QApplication.focusWidget() is None else "other",
            }
            screen.quit_button.click()
            return False
        self.polls += 1
        return self.polls > 1000  # never shown: close after ~10 s so the test fails, not hangs


def test_a_journal_that_cannot_be_opened_shows_why_names_the_file_and_quits_with_2(
    qtbot: QtBot, tmp_path: Path, app_process_state: None, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    (data / JOURNAL_FILE_NAME).mkdir(parents=True)  # a folder where the journal file should be
    seen = FailureSeen()

    status = run_main(["--server", CLOSED_PORT, "--data-dir", str(data)], seen.step, wait_for_quit=True)

    assert status == 2
    log_file = data / "logs" / "player.log"
    assert seen.shown["title"] == "Invigil cannot start"
    assert str(data / JOURNAL_FILE_NAME) in seen.shown["reason"]
    assert "Do not delete or move the journal: it may hold answers not yet sent." in seen.shown["reason"]
    assert seen.shown["number"] == "INV-1004"
    assert seen.shown["log"] == f"This message is also in the log file: {log_file}"
    err = capsys.readouterr().err
    assert err.count("Invigil cannot start") == 1, err
    assert err.startswith("Invigil cannot start: ")
    assert str(data / JOURNAL_FILE_NAME) in err
    logged = [line for line in log_file.read_text(encoding="utf-8").splitlines() if "Invigil cannot start" in line]
    assert len(logged) == 1
    assert logged[0].endswith(err.strip())


def test_a_data_folder_that_cannot_be_made_is_shown_with_no_log_and_the_app_does_not_crash(
    qtbot: QtBot, tmp_path: Path, app_process_state: None, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the data folder's parent should be", encoding="utf-8")
    seen = FailureSeen()

    status = run_main(["--server", CLOSED_PORT, "--data-dir", str(blocker / "data")], seen.step, wait_for_quit=True)

    assert status == 2
    assert seen.shown["number"] == "INV-1003"
    assert str(blocker / "data") in seen.shown["reason"]
    assert seen.shown["log"] == "It could not be written to a log file on this computer."
    err = capsys.readouterr().err
    assert err.count("Invigil cannot start") == 1, err
    assert not (tmp_path / "xdg-data").exists()  # not the default folder's log: it is another folder


def test_a_code_typed_before_start_up_finished_still_logs_in(
    qtbot: QtBot, tmp_path: Path, live_server: LiveServer, demo: Demo
) -> None:
    """The student may press Start in the moment between the first paint and the rest of start-up."""
    window = MainWindow()
    qtbot.addWidget(window)
    config = PlayerConfig(server_url=live_server.url, data_dir=tmp_path / "data", request_timeout_seconds=5.0)
    edges = Edges(devices=FixedOutputDevices(["Test speakers"]), playback_rate=4.0, uploads=None)
    settings = replace(controller_settings(config, "room1-pc01"), heartbeat_every=None)
    built = build_controller(window, config=config, machine_id="room1-pc01", edges=edges, settings=settings)
    window.show()
    try:
        assert not window.has_sitting_screens
        assert built.db is None
        window.access_code.code_edit.setText(demo.codes[0])
        window.access_code.start_button.click()  # before controller.start()

        qtbot.waitUntil(lambda: window.current_screen() is window.confirm, timeout=TIMEOUT_MS)
        journal = built.journal
        assert journal is not None
        built.controller.start()  # the deferred call still comes, and changes nothing now
        assert built.journal is journal  # the parts were built once
        assert window.current_screen() is window.confirm
    finally:
        built.close()


# Run in a fresh process (this one has loaded everything): the real main() up to the access-code screen's first
# paint, then report what was loaded by then.
FIRST_PAINT_CHILD = """
import json, os, sys
import PySide6.QtCore as QtCore
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

lazy = "Qt" not in vars(QtCore)  # PySide6 makes a class (and its enums) on first use
from player.app import main
from player.ui.screens.access_code import AccessCodeScreen
from player.ui.screens.cannot_start import CannotStartScreen

class Spy(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and isinstance(watched, AccessCodeScreen):
            report = {"lazy": lazy, "qt_namespace": "Qt" in vars(QtCore), "modules": sorted(sys.modules)}
            print(json.dumps(report), flush=True)
            os._exit(0)
        return False

app = QApplication(sys.argv[:1])
spy = Spy()
app.installEventFilter(spy)
main(["--server", "http://127.0.0.1:9", "--data-dir", sys.argv[1]])
"""

# What the access-code screen does not need: each would delay it (docs/performance.md, cold start).
NOT_BEFORE_FIRST_PAINT = (
    "player.config",  # json, tomllib, uuid, platformdirs
    "player.ui.assembly",
    "player.ui.controller",
    "player.student_login",
    "player.supervision",
    "player.session",
    "player.offline_queue.journal",
    "player.ui.screens.finished",
    "player.audio.qt",
    "PySide6.QtMultimedia",
    "sqlite_utils",
    "requests",
    "pydantic",
    "cryptography",
    "sync.protocol",
    "logging.handlers",
)


def test_only_the_window_is_loaded_before_the_access_code_screen_is_painted(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "INVIGIL_CONFIG": str(tmp_path / "no-such-config.toml")}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_PAINT_CHILD, str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    loaded = set(report["modules"])
    assert "player.ui.window" in loaded
    assert not loaded & set(NOT_BEFORE_FIRST_PAINT)
    if report["lazy"]:
        # Any Qt.X (an alignment, a text format) builds all ~90 enum classes of PySide's `Qt` namespace (25-40 ms).
        assert not report["qt_namespace"], "something before the first paint used PySide6.QtCore.Qt"
    assert not (tmp_path / "data").exists(), "the data dir was touched before the first paint"


def test_a_code_typed_at_the_first_paint_is_handed_to_the_controller_once_it_exists(
    qtbot: QtBot, tmp_path: Path, app_process_state: None, live_server: LiveServer, demo: Demo
) -> None:
    """Between the first paint and the rest of start-up nothing listens to the access-code screen yet."""

    def type_code(screen: AccessCodeScreen) -> None:
        # The painted screen's own window: another test's window may still be among the top-level widgets.
        window = screen.window()
        assert isinstance(window, MainWindow)
        assert not window.has_sitting_screens  # before start-up went on
        window.access_code.code_edit.setText(demo.codes[0])
        window.access_code.start_button.click()

    spy = PaintSpy(type_code)
    app = QApplication.instance()
    assert app is not None
    app.installEventFilter(spy)
    confirmed: list[str] = []
    typed: list[str] = []
    polls: list[int] = []

    def step(window: MainWindow) -> bool:
        polls.append(1)
        if window.has_sitting_screens and window.current_screen() is window.confirm:
            confirmed.append(window.confirm.student.text())
            typed.append(window.access_code.code_edit.text())
            return True
        return len(polls) > 1500  # the code was lost: close after ~15 s so the test fails, not hangs

    try:
        status = run_main(["--server", live_server.url, "--data-dir", str(tmp_path / "data")], step)
    finally:
        app.removeEventFilter(spy)
    assert status == 0
    assert confirmed == ["Ada Lovelace"]
    # Still in the box behind "Is this you?": a "No" (or a refused code) comes back to what was typed.
    assert typed == [demo.codes[0]]


def test_a_bad_config_file_is_shown_on_the_window_with_its_number_and_logged_in_the_default_data_folder(
    qtbot: QtBot, tmp_path: Path, machine_config: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The config is read after the first paint: a bad one puts the reason on the window (started from a desktop
    entry, nobody sees stderr) until Quit, then the start ends with status 2."""
    config = machine_config("server_url = https://no-quotes.example\n")
    seen = FailureSeen()

    status = run_main([], seen.step, wait_for_quit=True)

    assert status == 2
    log_file = tmp_path / "xdg-data" / "invigil" / "logs" / "player.log"  # the default data folder's log
    assert seen.shown["title"] == "Invigil cannot start"
    assert seen.shown["reason"].startswith(f"{config}: is not valid TOML")
    assert seen.shown["number"] == "INV-1002"  # small and grey under it, as every numbered error is shown
    assert seen.shown["log"] == f"This message is also in the log file: {log_file}"
    assert seen.shown["focus"] == "quit"
    err = capsys.readouterr().err
    assert err.count("Invigil cannot start") == 1, err  # not twice: logging's last resort used to print it too
    assert err.startswith(f"Invigil cannot start: {config}: is not valid TOML")
    assert err.rstrip().endswith("(INV-1002)")  # the catalogue's number for a config error, to quote on a call
    assert f"ERROR player.app: {err.strip()}" in log_file.read_text(encoding="utf-8")


def test_with_no_screen_to_show_it_on_a_bad_config_ends_the_start_at_once(
    qtbot: QtBot, tmp_path: Path, machine_config: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Offscreen (a service, a script), a Quit button nobody can press would keep the player running forever."""
    config = machine_config("server_url = 42\n")
    polls: list[int] = []

    def step(_window: MainWindow) -> bool:
        polls.append(1)
        return len(polls) > 1000  # the player closes itself; if not, close it (~10 s) so the test fails, not hangs

    status = run_main(["--data-dir", str(tmp_path / "data")], step)  # offscreen: someone_can_see is False

    assert status == 2
    assert len(polls) < 1000
    assert capsys.readouterr().err.startswith(f"Invigil cannot start: {config}: server_url: ")
