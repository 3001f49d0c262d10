"""Staff sign-in, sign-out, the memory-only keyring and the idle lock, against the real server."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from player.credentials import TokenStore, choose_backend
from tests.helpers.console import ConsoleFactory, visible_consoles
from tests.helpers.waiting import TIMEOUT_MS


def test_sign_in_keeps_the_token_in_the_keyring_and_sign_out_clears_it(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    console = open_demo_console()
    console.sign_in()
    qtbot.waitUntil(lambda: console.window.session is not None, timeout=TIMEOUT_MS)
    session = console.window.session
    assert session is not None
    assert console.tokens.load(console.server_url, console.username) == session.token
    assert session.token in console.backend.entries().values()
    assert console.window.who.text() == "Signed in as Demo Admin"
    qtbot.waitUntil(lambda: console.sittings_shown() == 1, timeout=TIMEOUT_MS)

    console.window.sign_out_button.click()
    assert session.token not in console.backend.entries().values()
    assert console.window.stack.currentWidget() is console.window.signin
    assert console.window.signin.username_edit.text() == console.username, "the username is offered again"
    assert console.window.signin.password_edit.text() == ""


def test_a_wrong_password_shows_the_servers_sentence(qtbot: QtBot, open_demo_console: ConsoleFactory) -> None:
    console = open_demo_console()
    console.sign_in(password="not-the-password")
    message = console.window.signin.message
    qtbot.waitUntil(message.isVisible, timeout=TIMEOUT_MS)
    assert "password" in message.text().lower()
    assert console.window.session is None
    assert console.backend.entries() == {}
    assert console.window.signin.password_edit.hasFocus() or not console.window.isActiveWindow()


def test_without_a_usable_keyring_the_token_is_kept_in_memory_only(
    qtbot: QtBot, open_demo_console: ConsoleFactory, tmp_path: Path
) -> None:
    tokens = TokenStore(choose_backend("auto", platform="plan9"))
    console = open_demo_console(tokens=tokens)
    assert console.window.signin.keyring_note.isVisible()
    assert "sign in again next time" in console.window.signin.keyring_note.text()
    console.sign_in()
    qtbot.waitUntil(lambda: console.window.session is not None, timeout=TIMEOUT_MS)
    session = console.window.session
    assert session is not None
    assert tokens.load(console.server_url, console.username) == session.token
    written = [p for p in tmp_path.rglob("*") if p.is_file() and session.token.encode() in p.read_bytes()]
    assert written == [], f"the staff token was written to {written}"
    home = Path.home()
    candidates = [home / ".local/share/python_keyring", home / ".local/share/invigil", home / ".config/invigil"]
    for folder in (c for c in candidates if c.is_dir()):
        found = [p for p in folder.rglob("*") if p.is_file() and session.token.encode() in p.read_bytes()]
        assert found == [], f"the staff token was written to {found}"


def test_the_console_locks_back_to_the_access_code_screen_when_idle(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    console = open_demo_console(idle_lock_seconds=120)
    console.sign_in()
    qtbot.waitUntil(lambda: console.window.session is not None, timeout=TIMEOUT_MS)
    token = console.window.session.token if console.window.session else ""

    console.idle_clock.advance(119)
    window = console.window.windowHandle()
    assert window is not None
    qtbot.keyClick(window, Qt.Key.Key_Down)  # input (through the window, as a real key press) moves the lock on
    console.idle_clock.advance(119)
    console.window.idle.check()
    assert visible_consoles() == [console.window], "input within the limit keeps the console open"

    with qtbot.waitSignal(console.window.locked, timeout=TIMEOUT_MS):
        console.idle_clock.advance(2)
    assert visible_consoles() == []
    assert console.host.isVisible(), "the player's own window stays, at its access-code screen"
    assert token not in console.backend.entries().values(), "locking signs out"
