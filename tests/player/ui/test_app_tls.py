"""A school whose web filter re-signs TLS, with the player wired by app.py from a config file: with ca_bundle the
student and the staff console both sign in (naming this machine); without it the console shows what is wrong and
what to set, and the student is told in plain words while the log says it for IT."""

from __future__ import annotations

import gc
import json
import logging
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from player.app import LOG_FILE_NAME, EarlyInput, Started, parse_args, start_player
from player.student_login import NO_CONNECTION
from player.ui.console import ConsoleWindow
from player.ui.window import MainWindow
from tests.helpers.server import Demo, DemoTemplate
from tests.helpers.tls import School, TlsFiles
from tests.helpers.waiting import TIMEOUT_MS

MACHINE = "room9-pc04"
UNTRUSTED = "this computer does not trust the server's certificate"
WHAT_TO_DO = "ask IT to set ca_bundle in this computer's Invigil config file"


def write_config(folder: Path, *, server_url: str, ca_bundle: Path | None) -> Path:
    """The machine-wide file IT deploys (JSON strings are valid TOML strings, whatever the path holds)."""
    lines = [
        f"server_url = {json.dumps(server_url)}",
        f"data_dir = {json.dumps(str(folder / 'data'))}",
        f"machine_id = {json.dumps(MACHINE)}",
        'keyring_backend = "memory"',
        "allow_user_config = false",
    ]
    if ca_bundle is not None:
        lines.append(f"ca_bundle = {json.dumps(str(ca_bundle))}")
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def run_app(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], MainWindow]]:
    """The real start-up (app.start_player) from a config file; what it sets process-wide is put back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    sigint = signal.getsignal(signal.SIGINT)
    runs: list[Started] = []

    def run(config_file: Path) -> MainWindow:
        monkeypatch.setenv("INVIGIL_CONFIG", str(config_file))
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        window = MainWindow()
        qtbot.addWidget(window)
        started = Started()
        runs.append(started)
        early = EarlyInput(window)
        window.show()
        start_player(app, window, parse_args([]), started, early)
        assert started.failure is None, started.failure
        qtbot.waitUntil(lambda: window.has_sitting_screens, timeout=TIMEOUT_MS)
        return window

    yield run
    for started in runs:
        for console in consoles():
            console.close()  # signs out, as locking does
        started.close()
    gc.collect()  # the closed console's wrappers, here on the GUI thread (see tests/player/ui/console/conftest.py)
    for handler in root.handlers[len(handlers) :]:
        handler.close()
        root.removeHandler(handler)
    root.setLevel(level)
    signal.signal(signal.SIGINT, sigint)


def consoles() -> list[ConsoleWindow]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, ConsoleWindow) and w.isVisible()]


def open_console_and_sign_in(qtbot: QtBot, window: MainWindow, staff: dict[str, str]) -> ConsoleWindow:
    window.access_code.staff_link.click()
    qtbot.waitUntil(lambda: len(consoles()) == 1, timeout=TIMEOUT_MS)
    console = consoles()[0]
    console.signin.username_edit.setText(staff["username"])
    console.signin.password_edit.setText(staff["password"])
    console.signin.sign_in_button.click()
    return console


def test_with_ca_bundle_the_student_and_the_staff_console_sign_in_and_name_this_machine(
    qtbot: QtBot,
    run_app: Callable[[Path], MainWindow],
    tls_school: School,
    tls_files: TlsFiles,
    demo: Demo,
    demo_template: DemoTemplate,
    tmp_path: Path,
) -> None:
    window = run_app(write_config(tmp_path, server_url=tls_school.url, ca_bundle=tls_files.ca_cert))

    window.access_code.code_edit.setText(demo.codes[0])
    window.access_code.start_button.click()
    qtbot.waitUntil(lambda: window.current_screen() is window.confirm, timeout=TIMEOUT_MS)
    assert window.confirm.student.text() == "Ada Lovelace"

    console = open_console_and_sign_in(qtbot, window, demo_template.data["staff"])
    qtbot.waitUntil(lambda: console.session is not None, timeout=TIMEOUT_MS)
    assert console.who.text() == "Signed in as Demo Admin"

    assert [r.machine() for r in tls_school.seen.to("/api/v1/login")] == [MACHINE]
    assert [r.machine() for r in tls_school.seen.to("/api/v1/staff/login")] == [MACHINE]
    assert {r.machine() for r in tls_school.seen.requests} == {MACHINE}, "every request names the machine"


def test_without_ca_bundle_the_console_and_the_log_say_what_is_wrong_and_what_to_set(
    qtbot: QtBot,
    run_app: Callable[[Path], MainWindow],
    tls_school: School,
    demo: Demo,
    demo_template: DemoTemplate,
    tmp_path: Path,
) -> None:
    window = run_app(write_config(tmp_path, server_url=tls_school.url, ca_bundle=None))

    window.access_code.code_edit.setText(demo.codes[0])
    window.access_code.start_button.click()
    qtbot.waitUntil(lambda: window.access_code.error_text() == NO_CONNECTION, timeout=TIMEOUT_MS)
    assert window.access_code.error.isVisible()
    assert window.current_screen() is window.access_code
    # The number under the sentence tells a support call it is the certificate, not the network (docs/errors.md).
    assert window.access_code.error_number() == "INV-2002"
    # What is wrong and what to set are for IT: in this machine's log, not on the student's screen.
    log = (tmp_path / "data" / "logs" / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert UNTRUSTED in log
    assert WHAT_TO_DO in log

    console = open_console_and_sign_in(qtbot, window, demo_template.data["staff"])
    message = console.signin.message
    qtbot.waitUntil(lambda: message.isVisible() and UNTRUSTED in message.text(), timeout=TIMEOUT_MS)
    assert message.text().startswith(f"Cannot reach the server at {tls_school.url}: ")
    assert WHAT_TO_DO in message.text()
    assert console.session is None
    assert tls_school.seen.requests == [], "nothing reached the server over a connection the player did not trust"
