"""Kiosk mode through the real window: full screen, frameless and on top; Alt+F4 refused, sitting or not, until
staff let the machine exit with the console's one-time code or their own sign-in, both checked by the real server.
Without kiosk mode the window is an ordinary one (closing mid-sitting asks: tests/player/ui/test_closing.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QRadioButton, QWidget
from pytestqt.qtbot import QtBot

from player.kiosk.exit_calls import request_exit_code
from player.offline_queue.left_window import left_window_of
from player.ui.kiosk import Kiosk
from player.ui.kiosk_exit_dialog import KioskExitDialog
from player.ui.window import KIOSK_STAFF_BUTTON
from sync.client import InvigilClient, client_for
from sync.server.store import Store
from tests.helpers.live_server import LiveServer
from tests.helpers.player_ui import MACHINE_ID, Player, PlayerFactory, start_items, wait_for_screen
from tests.helpers.postgres import free_port
from tests.helpers.server import Demo, new_staff
from tests.helpers.waiting import TIMEOUT_MS
from tests.player.ui.test_closing import CloseAnswers, answer_question_one, close_as_the_window_system

FRAMELESS_ON_TOP = Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint


@pytest.fixture
def console(live_server: LiveServer, demo: Demo) -> Iterator[tuple[InvigilClient, str]]:
    """The invigilator's console on another computer: a client and the demo admin's token."""
    with client_for(live_server.url, machine_id="console", timeout=5.0, ca_bundle=None) as client:
        token = client.staff_login(demo.data["staff"]["username"], demo.data["staff"]["password"]).token
        yield client, token


def kiosk_of(p: Player) -> Kiosk:
    assert p.assembled.kiosk is not None
    return p.assembled.kiosk


def open_exit_dialog(qtbot: QtBot, p: Player) -> KioskExitDialog:
    """What staff do at the machine: Ctrl+Alt+Shift+E."""
    modifiers = (
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier
    )
    qtbot.keyClick(p.window, Qt.Key.Key_E, modifiers)

    def shown() -> bool:
        dialog = kiosk_of(p).dialog
        return dialog is not None and dialog.isVisible()

    qtbot.waitUntil(shown, timeout=TIMEOUT_MS)
    dialog = kiosk_of(p).dialog
    assert dialog is not None
    return dialog


def test_in_kiosk_mode_the_window_fills_the_screen_frameless_and_on_top(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player(kiosk=True)

    assert p.window.windowFlags() & FRAMELESS_ON_TOP == FRAMELESS_ON_TOP
    assert p.window.isFullScreen()
    assert p.window.kiosk
    assert p.window.staff_button.isVisible()
    assert p.window.staff_button.text() == KIOSK_STAFF_BUTTON
    assert p.window.staff_button.focusPolicy() == Qt.FocusPolicy.NoFocus  # never reached by a student's Tab


def test_without_kiosk_mode_the_window_is_an_ordinary_one(qtbot: QtBot, start_player: PlayerFactory) -> None:
    p = start_player()

    assert p.window.windowFlags() & FRAMELESS_ON_TOP == Qt.WindowType(0)
    assert not p.window.isFullScreen()
    assert not p.window.kiosk


def test_in_kiosk_mode_alt_f4_is_refused_during_a_sitting_and_before_one(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player(kiosk=True)
    asked = CloseAnswers(close=True)  # a student who would say "Close Invigil" is never asked
    p.window.confirm_close = asked
    assert not close_as_the_window_system(p.window)  # on the access-code screen

    start_items(qtbot, p, demo.codes[0])
    answer_question_one(qtbot, p)
    assert not close_as_the_window_system(p.window)
    assert not close_as_the_window_system(p.window)

    assert p.window.refused_closes == 3
    assert asked.questions == []
    assert p.window.isVisible()
    assert p.window.isFullScreen()
    assert p.window.current_screen() is p.window.item


def test_a_wrong_code_is_refused_and_the_consoles_code_lets_the_window_close(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, console: tuple[InvigilClient, str]
) -> None:
    p = start_player(kiosk=True)
    start_items(qtbot, p, demo.codes[0])
    answer_question_one(qtbot, p)
    client, token = console
    issued = request_exit_code(client, token, MACHINE_ID)  # what the console shows for this computer

    dialog = open_exit_dialog(qtbot, p)
    wrong = f"{(int(issued.code.replace(' ', '')) + 1) % 10**8:08d}"
    qtbot.keyClicks(dialog.code_edit, wrong)
    dialog.code_button.click()
    qtbot.waitUntil(lambda: "not right for this computer" in dialog.message.text(), timeout=TIMEOUT_MS)
    assert dialog.code_edit.text() == ""
    assert not close_as_the_window_system(p.window)  # still locked

    qtbot.keyClicks(dialog.code_edit, issued.code)
    qtbot.keyClick(dialog.code_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not p.window.isVisible(), timeout=TIMEOUT_MS)
    p.close()

    again = start_player()  # started again on this computer: the same question, the answer still there
    wait_for_screen(qtbot, again, again.window.item)
    checked = [b.accessibleName() for b in again.window.item.findChildren(QRadioButton) if b.isChecked()]
    assert checked == ["Option 3: Four"]


def test_after_staff_allowed_the_exit_a_close_from_the_window_system_goes_through(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, console: tuple[InvigilClient, str]
) -> None:
    p = start_player(kiosk=True)
    start_items(qtbot, p, demo.codes[0])
    asked = CloseAnswers(close=False)
    p.window.confirm_close = asked
    assert not close_as_the_window_system(p.window)

    p.window.allow_exit()  # what the exit dialog does once the server took the code (above)
    assert close_as_the_window_system(p.window)
    assert asked.questions == []  # staff let it go: no student question


def test_staff_signed_in_on_the_machine_let_it_exit_and_a_teacher_cannot(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, store: Store
) -> None:
    teacher, password = new_staff(store, school_id=demo.school_id, role="teacher")
    p = start_player(kiosk=True)
    start_items(qtbot, p, demo.codes[0])
    dialog = open_exit_dialog(qtbot, p)

    qtbot.keyClicks(dialog.username_edit, teacher)
    qtbot.keyClicks(dialog.password_edit, password)
    dialog.sign_in_button.click()
    qtbot.waitUntil(lambda: "invigilator or admin" in dialog.message.text(), timeout=TIMEOUT_MS)
    assert p.window.isVisible()
    assert dialog.password_edit.text() == ""

    dialog.username_edit.clear()
    qtbot.keyClicks(dialog.username_edit, demo.data["staff"]["username"])
    qtbot.keyClicks(dialog.password_edit, demo.data["staff"]["password"])
    qtbot.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not p.window.isVisible(), timeout=TIMEOUT_MS)


def leave_for(qtbot: QtBot, other: QWidget) -> None:
    """Another window takes the focus (on a desktop: another program raised, Alt+Tab, a click outside)."""
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is other, timeout=TIMEOUT_MS)


def come_back(qtbot: QtBot, p: Player) -> None:
    p.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is p.window, timeout=TIMEOUT_MS)


@pytest.mark.parametrize("kiosk", [True, False], ids=["kiosk", "not-kiosk"])
def test_leaving_the_test_window_is_counted_kept_in_the_journal_and_survives_a_restart(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, kiosk: bool
) -> None:
    p = start_player(kiosk=kiosk)
    other = QWidget()
    qtbot.addWidget(other)
    other.setWindowTitle("Another program")
    come_back(qtbot, p)
    leave_for(qtbot, other)
    come_back(qtbot, p)
    assert kiosk_of(p).left_window_count() == 0  # no sitting open yet: nothing to record

    start_items(qtbot, p, demo.codes[0])
    with qtbot.waitSignal(kiosk_of(p).departed, timeout=TIMEOUT_MS) as first:
        leave_for(qtbot, other)
    assert first.args == [1]
    come_back(qtbot, p)
    leave_for(qtbot, other)
    qtbot.waitUntil(lambda: kiosk_of(p).left_window_count() == 2, timeout=TIMEOUT_MS)

    come_back(qtbot, p)
    if kiosk:  # staff's own dialog over the window is not the student leaving it
        dialog = open_exit_dialog(qtbot, p)
        qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=TIMEOUT_MS)
        dialog.cancel_button.click()
        come_back(qtbot, p)
    assert kiosk_of(p).left_window_count() == 2
    attempt = p.journal.open_attempt_on_this_machine()
    assert attempt is not None
    departures = left_window_of(p.journal).departures(attempt.attempt_id)
    assert [d.went_to for d in departures] == ["other_window", "other_window"]
    p.close()  # as a kill after the last commit: only the journal file is left

    again = start_player(kiosk=kiosk)
    wait_for_screen(qtbot, again, again.window.item)
    assert kiosk_of(again).left_window_count() == 2
    leave_for(qtbot, other)
    qtbot.waitUntil(lambda: kiosk_of(again).left_window_count() == 3, timeout=TIMEOUT_MS)


def test_with_the_server_out_of_reach_the_exit_says_so_and_the_window_stays(
    qtbot: QtBot, start_player: PlayerFactory
) -> None:
    """Both ways out need the server: the dialog says it cannot be reached (docs/kiosk.md says what to do then)."""
    p = start_player(kiosk=True, server_url=f"http://127.0.0.1:{free_port()}")
    dialog = open_exit_dialog(qtbot, p)
    qtbot.keyClicks(dialog.code_edit, "1234 5678")
    dialog.code_button.click()
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Cannot reach the server"), timeout=TIMEOUT_MS)
    assert dialog.code_button.isEnabled()
    assert p.window.isVisible()
    assert not close_as_the_window_system(p.window)
