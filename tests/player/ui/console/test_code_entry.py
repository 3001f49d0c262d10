"""Result codes in the console: pasted or opened from a file, sent once, and typos named by the codec."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from player.ui.console.code_entry import CodeEntryView
from player.ui.tasks import TaskRunner
from sync import resultcode
from tests.helpers.console import ConsoleFactory
from tests.helpers.live_server import LiveServer
from tests.helpers.result_codes import result_code_for, signed_in_codes_view, submit_and_wait
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS
from tests.sync.test_resultcode_checks import crafted


def test_a_pasted_code_is_new_then_already_received(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    code = result_code_for(live_server.url, demo_template.data["students"][0]["access_code"])
    view = signed_in_codes_view(qtbot, open_demo_console)

    view.code_edit.setPlainText(code)
    first = submit_and_wait(qtbot, view)
    assert first.startswith("New results received for Ada Lovelace (Demo sitting)"), first

    second = submit_and_wait(qtbot, view)
    assert second.startswith("Already received: the results of Ada Lovelace (Demo sitting)"), second


def test_a_saved_code_file_is_opened_and_sent(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    tmp_path: Path,
) -> None:
    saved = tmp_path / "result-code.txt"
    saved.write_text(result_code_for(live_server.url, demo_template.data["students"][2]["access_code"]) + "\n")
    view = signed_in_codes_view(qtbot, open_demo_console)
    view.load_file(saved)
    qtbot.waitUntil(lambda: view.message.text().startswith("New results"), timeout=TIMEOUT_MS)
    assert "Grace Hopper" in view.message.text()


def test_a_mistyped_code_gets_the_codecs_group_message(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    code = result_code_for(live_server.url, demo_template.data["students"][1]["access_code"])
    groups = code.split("-")
    typo = "0" if groups[2][0] != "0" else "1"
    groups[2] = typo + groups[2][1:]
    view = signed_in_codes_view(qtbot, open_demo_console)
    view.code_edit.setPlainText("-".join(groups))
    message = submit_and_wait(qtbot, view)
    assert message == (
        f"Group 3 ({groups[2]}) has a typing mistake: compare it with the code on the student's screen or results slip."
    )


def test_clear_takes_the_refusal_away_with_the_code(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    code = result_code_for(live_server.url, demo_template.data["students"][1]["access_code"])
    view = signed_in_codes_view(qtbot, open_demo_console)
    view.code_edit.setPlainText(("1" if code[0] != "1" else "2") + code[1:])
    assert "has a typing mistake" in submit_and_wait(qtbot, view)
    assert view.message.isVisible()
    view.clear_button.click()
    assert view.code_edit.toPlainText() == ""
    assert not view.message.isVisible()
    assert view.message.text() == ""
    assert view.message.accessibleName() == "No message"


def test_a_file_that_is_not_a_code_is_named(qtbot: QtBot, open_demo_console: ConsoleFactory, tmp_path: Path) -> None:
    picture = tmp_path / "photo.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    view = signed_in_codes_view(qtbot, open_demo_console)
    view.load_file(picture)
    assert view.message.text() == "photo.png is not a text file, so it is not a saved result code."


# ---- refusals on screen, decoding off the GUI thread ----------------------------------------------


def opened_codes_view(qtbot: QtBot, open_demo_console: ConsoleFactory) -> tuple[CodeEntryView, TaskRunner]:
    console = open_demo_console()
    console.sign_in()
    qtbot.waitUntil(lambda: console.window.session is not None, timeout=TIMEOUT_MS)
    console.window.home.setCurrentWidget(console.window.code_entry)
    return console.window.code_entry, console.tasks


def in_lines(symbols: str) -> str:
    return "\n".join(symbols[start : start + 30] for start in range(0, len(symbols), 30))


def test_an_over_long_code_is_refused_at_once_without_checking_or_sending(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    view, tasks = opened_codes_view(qtbot, open_demo_console)
    view.code_edit.setPlainText(in_lines("0" * resultcode.MAX_TEXT_LENGTH))  # with its line breaks: too long
    qtbot.waitUntil(tasks.is_idle, timeout=TIMEOUT_MS)  # the sign-in's own requests are done

    view.submit_button.click()

    # Said before click() returned: nothing was started on a worker, nothing went to the server.
    assert view.message.text().startswith("The result code is too long: no genuine code has more than")
    assert "Submit one code at a time" in view.message.text()
    assert tasks.is_idle()
    assert view.submit_button.isEnabled()


def test_a_code_with_a_character_never_in_codes_is_named_on_screen(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    view, _ = opened_codes_view(qtbot, open_demo_console)
    view.code_edit.setPlainText("2005T2-KYﬀA31-6R7A95")

    message = submit_and_wait(qtbot, view)

    assert message.startswith("Group 2 contains 'ﬀ' (character 3 of the group)"), message


def test_a_long_malformed_code_is_checked_off_the_gui_thread_and_the_window_stays_responsive(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    view, tasks = opened_codes_view(qtbot, open_demo_console)
    view.code_edit.setPlainText(in_lines(crafted(resultcode.MAX_SITTING_BODY_BYTES)))
    qtbot.waitUntil(tasks.is_idle, timeout=TIMEOUT_MS)
    turned_while_busy: list[bool] = []

    view.submit_button.click()
    # The click returned with the check still to run: the button is off and says so, and the event loop turns.
    assert not view.submit_button.isEnabled()
    assert view.message.text() == "Checking the code…"
    QTimer.singleShot(0, lambda: turned_while_busy.append(not tasks.is_idle()))
    qtbot.waitUntil(lambda: bool(turned_while_busy), timeout=TIMEOUT_MS)
    qtbot.waitUntil(view.submit_button.isEnabled, timeout=TIMEOUT_MS)

    assert turned_while_busy == [True]
    assert view.message.text().startswith("The result code is not genuine for this attempt")
    assert view.last_receipt is None
