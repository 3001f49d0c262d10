"""The access-code screen: impossible codes stop before the network; each refusal is a plain sentence with its
error number small under it; the footer shows the version."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from player.student_login import CHECKING, NO_CONNECTION, NOT_RECOGNISED, downloading_text
from sync import accesscode
from sync.client import InvigilClient
from sync.error_catalogue import Problem, by_number, number_for
from sync.version import VERSION
from tests.helpers.live_server import LiveServer
from tests.helpers.player_ui import Player, PlayerFactory
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS

CLOSED_PORT = "http://127.0.0.1:9"  # discard port: nothing listens there in a test environment


def submit(qtbot: QtBot, p: Player, typed: str) -> str:
    screen = p.window.access_code
    screen.code_edit.setText(typed)
    qtbot.keyClick(screen.code_edit, "\r")
    qtbot.waitUntil(lambda: screen.error.text() != "" and screen.code_edit.isEnabled(), timeout=TIMEOUT_MS)
    return screen.error.text()


@pytest.mark.parametrize("typed", ["ABC-12", "ABCD-123U", "", "ABCD-12345"])
def test_an_impossible_code_is_caught_before_any_network_call(
    qtbot: QtBot, start_player: PlayerFactory, typed: str
) -> None:
    p = start_player(server_url=CLOSED_PORT)
    with pytest.raises(accesscode.AccessCodeFormatError) as expected:
        accesscode.normalize(typed)
    shown = submit(qtbot, p, typed)
    assert shown == str(expected.value)
    assert shown != NO_CONNECTION
    assert p.window.access_code.error_number() == number_for("api.malformed_code")
    assert p.tasks.is_idle()
    assert p.window.current_screen() is p.window.access_code


def test_a_well_formed_code_with_no_server_says_it_cannot_reach_it(
    qtbot: QtBot, start_player: PlayerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    p = start_player(server_url=CLOSED_PORT)
    shown = submit(qtbot, p, "abcd-1234")
    assert shown == NO_CONNECTION  # plain words for the student; the address and the cause are for IT, in the log
    assert CLOSED_PORT not in shown
    assert f"Cannot reach the server at {CLOSED_PORT}" in caplog.text
    # The number says to IT what the sentence does not: no connection (not a certificate, not a refusal).
    assert p.window.access_code.error_number() == number_for("client.unreachable")


def test_an_unknown_code_is_refused_in_words(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, caplog: pytest.LogCaptureFixture
) -> None:
    p = start_player()
    shown = submit(qtbot, p, "ZZZZ-ZZZZ")
    assert shown == NOT_RECOGNISED
    assert "server" not in shown
    assert p.window.access_code.error_number() == "INV-2201"  # the number the server sent with its refusal
    assert p.window.access_code.code_edit.hasFocus()
    assert "does not know this code" in caplog.text
    assert "check which server this computer is set up for" in caplog.text  # the server's hint, kept for IT


def test_a_code_in_use_on_another_computer_is_refused_in_words(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, live_server: LiveServer
) -> None:
    with InvigilClient(live_server.url, machine_id="room2-pc09") as elsewhere:
        elsewhere.login(demo.codes[0])
    p = start_player()
    shown = submit(qtbot, p, demo.codes[0])
    assert "in use on another computer" in shown
    assert p.window.current_screen() is p.window.access_code
    assert p.window.access_code.error_number() == number_for("api.in_use_elsewhere")


def test_no_this_is_not_me_returns_to_an_empty_code_screen(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo
) -> None:
    p = start_player()
    p.window.access_code.code_edit.setText(demo.codes[2])
    p.window.access_code.start_button.click()
    qtbot.waitUntil(lambda: p.window.current_screen() is p.window.confirm, timeout=TIMEOUT_MS)
    assert p.window.confirm.student.text() == "Grace Hopper"
    p.window.confirm.no_button.click()
    assert p.window.current_screen() is p.window.access_code
    assert p.window.access_code.code_edit.text() == ""
    assert p.window.confirm.student.text() == ""
    assert p.journal.open_attempt_on_this_machine() is None


def test_the_download_is_shown_file_by_file(qtbot: QtBot, start_player: PlayerFactory, demo: Demo) -> None:
    p = start_player()
    screen = p.window.access_code
    shown: list[str] = []
    # What the status line reads at each change (the demo test has a picture and two recordings).
    screen.status_changed.connect(lambda _text: shown.append(screen.status.text()))
    screen.code_edit.setText(demo.codes[0])
    screen.start_button.click()
    qtbot.waitUntil(lambda: p.window.current_screen() is p.window.confirm, timeout=TIMEOUT_MS)
    assert shown == [CHECKING] + [downloading_text(done, 3) for done in range(4)]
    assert downloading_text(1, 1) == "Downloading the test: 1 of 1 file"


def test_a_message_with_markup_is_shown_as_typed_not_as_formatting(qtbot: QtBot, start_player: PlayerFactory) -> None:
    """The labels are plain text (set by name, so the first paint need not build PySide's `Qt` enum namespace)."""
    p = start_player(server_url=CLOSED_PORT)
    screen = p.window.access_code
    screen.show_error(Problem("<b>ABCD</b> & <i>1234</i>", "INV-3002"))
    assert screen.error.textFormat() == Qt.TextFormat.PlainText
    assert screen.heading.textFormat() == Qt.TextFormat.PlainText
    assert screen.error.text() == "<b>ABCD</b> & <i>1234</i>"


@pytest.mark.usefixtures("styled")
def test_the_error_number_is_shown_small_and_selectable_under_the_message(
    qtbot: QtBot, start_player: PlayerFactory
) -> None:
    p = start_player(server_url=CLOSED_PORT)
    screen = p.window.access_code
    screen.show_error(Problem("Your test cannot be started on this computer.", "INV-3001"))
    (number,) = [w for w in screen.findChildren(type(screen.error)) if w.objectName() == "problemNumber"]
    qtbot.waitUntil(number.isVisible, timeout=TIMEOUT_MS)
    assert number.text() == "Error INV-3001"
    assert number.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse  # can be copied out
    number.ensurePolished()
    screen.error.ensurePolished()
    assert number.font().pointSizeF() < screen.error.font().pointSizeF()  # discreet: smaller than the message
    assert number.palette().windowText().color().name() == "#555555"  # and grey
    assert number.geometry().top() >= screen.error.geometry().bottom()  # under it
    assert by_number("INV-3001") is not None
    screen.reset()
    assert not number.isVisible()  # gone with its message
    assert screen.error_number() == ""


@pytest.mark.usefixtures("styled")
def test_the_footer_shows_the_version(qtbot: QtBot, start_player: PlayerFactory) -> None:
    p = start_player(server_url=CLOSED_PORT)
    footer = p.window.access_code.version
    qtbot.waitUntil(footer.isVisible, timeout=TIMEOUT_MS)
    assert footer.text() == f"Invigil {VERSION}"
    footer.ensurePolished()
    p.window.access_code.hint.ensurePolished()
    assert footer.font().pointSizeF() < p.window.access_code.hint.font().pointSizeF()
