"""The staff-only "Results waiting on this computer": a real journal's unsent results, their codes copied or
saved for a USB stick, handed in through the console, and "Send now" waking the uploader."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from player.ui.console.unsent import NOTHING_WAITING, UnsentResultsView
from player.unsent_results import send_now_from
from sync import resultcode
from sync.protocol import LoginResponse
from tests.helpers.clock import START
from tests.helpers.console import Console, ConsoleFactory, PrintToFile, SavePaths, StudentJournal, start_student
from tests.helpers.live_server import LiveServer
from tests.helpers.qr_codes import image_texts, joined_codes, pdf_pages
from tests.helpers.server import Demo, DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS

ALAN = "Alan Turing"
OfflineJournals = Callable[[LoginResponse, str], StudentJournal]


def alans_unsent_journal(live_server: LiveServer, demo_template: DemoTemplate, make: OfflineJournals) -> StudentJournal:
    machine = start_student(live_server.url, demo_template.data["students"][1]["access_code"], machine_id="pc05")
    machine.client.close()
    return make(machine.login, live_server.url)


def signed_in_unsent(qtbot: QtBot, console: Console) -> UnsentResultsView:
    console.sign_in()
    qtbot.waitUntil(lambda: console.window.session is not None, timeout=TIMEOUT_MS)
    view = console.window.unsent
    assert view is not None, "the tab appears once staff have signed in"
    console.window.home.setCurrentWidget(view)
    return view


def home_tabs(console: Console) -> list[str]:
    home = console.window.home
    return [home.tabText(i).replace("&", "") for i in range(home.count())]


def attempt_form(login: LoginResponse) -> dict[str, Any]:
    """What the server looks up to read a format 3 code: the attempt's id and the delivery form it was given."""
    return {"attempt_id": login.attempt_id, "delivery": login.assessment}


def test_the_list_is_staff_only_and_a_saved_code_reaches_the_server_once(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    offline_journals: OfflineJournals,
    tmp_path: Path,
) -> None:
    local = alans_unsent_journal(live_server, demo_template, offline_journals)
    usb = tmp_path / "usb"
    usb.mkdir()
    saves = SavePaths(queued=[usb / "alan.txt"])
    console = open_demo_console(local_results=local.results, save_paths=saves)
    assert console.window.unsent is None, "nothing of it before sign-in"
    assert console.window.stack.currentWidget() is console.window.signin

    view = signed_in_unsent(qtbot, console)
    assert "Results waiting on this computer" in home_tabs(console)
    since = f"{(START + timedelta(minutes=25)).astimezone():%d %b %Y %H:%M}"
    assert view.rows() == [(ALAN, "The whole test (3 sections)", since, "Waiting to send")]
    assert not view.send_button.isVisible(), "no Send now without an uploader to wake"

    view.save_button.click()
    assert saves.suggested == ["result-code-alan-turing-the-whole-test-3-sections.txt"]
    saved = (usb / "alan.txt").read_text(encoding="utf-8")
    assert saved[0] == "3", "the short format: the console holds the attempt's delivery form"
    assert (
        resultcode.decode(saved, result_secret=local.login.result_secret, **attempt_form(local.login)) == local.envelope
    )
    assert view.message.text() == (
        f"The result code of {ALAN}, The whole test (3 sections), is saved in {usb / 'alan.txt'}, "
        f"and its QR code in {usb / 'alan.png'}."
    )
    (scanned,) = joined_codes(image_texts([usb / "alan.png"]))
    assert (
        resultcode.decode(scanned, result_secret=local.login.result_secret, **attempt_form(local.login))
        == local.envelope
    )

    view.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert (
        resultcode.decode(copied, result_secret=local.login.result_secret, **attempt_form(local.login))
        == local.envelope
    )
    assert "is on the clipboard" in view.message.text()

    codes = console.window.code_entry
    console.window.home.setCurrentWidget(codes)
    codes.load_file(usb / "alan.txt")
    qtbot.waitUntil(lambda: codes.last_receipt is not None, timeout=TIMEOUT_MS)
    assert codes.message.text().startswith(f"New results received for {ALAN} (Demo sitting)"), codes.message.text()

    # The uploader gets through later: the server confirms it, and the list follows by itself.
    outbox = local.journal.outbox()
    (claimed,) = outbox.claim_due(10, START + timedelta(minutes=30))
    assert outbox.mark_sent(claimed.idempotency_key)
    console.window.home.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.empty.isVisible(), timeout=TIMEOUT_MS)
    assert view.empty.text() == NOTHING_WAITING
    assert view.rows() == []
    assert not view.copy_button.isEnabled()


def test_send_now_puts_refused_results_back_in_the_queue_and_wakes_the_uploader(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    offline_journals: OfflineJournals,
) -> None:
    local = alans_unsent_journal(live_server, demo_template, offline_journals)
    outbox = local.journal.outbox()
    (claimed,) = outbox.claim_due(10, START + timedelta(minutes=30))
    outbox.mark_needs_attention(claimed.idempotency_key, "the sitting was closed")
    wakes: list[str] = []
    console = open_demo_console(
        local_results=local.results, send_now=send_now_from(local.journal, lambda: wakes.append("wake"))
    )
    view = signed_in_unsent(qtbot, console)
    assert view.rows()[0][3] == "Refused by the server: the sitting was closed"
    assert view.send_button.isVisible()

    view.send_button.click()
    assert wakes == ["wake"]
    assert view.rows()[0][3] == "Waiting to send (last try: the sitting was closed)"
    assert outbox.entry(claimed.idempotency_key) is not None
    assert view.message.text() == "Sending now. The list shows what is still waiting."


def test_signing_out_takes_the_list_away(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    offline_journals: OfflineJournals,
) -> None:
    local = alans_unsent_journal(live_server, demo_template, offline_journals)
    console = open_demo_console(local_results=local.results)
    signed_in_unsent(qtbot, console)
    console.window.sign_out()
    assert console.window.unsent is None
    assert home_tabs(console) == []
    assert console.window.stack.currentWidget() is console.window.signin


def test_without_the_journal_there_is_no_such_tab(qtbot: QtBot, open_demo_console: ConsoleFactory) -> None:
    console = open_demo_console()
    console.sign_in()
    qtbot.waitUntil(lambda: console.window.session is not None, timeout=TIMEOUT_MS)
    assert console.window.unsent is None
    assert home_tabs(console) == ["Sittings", "Result codes", "Assessments"]


def test_the_results_slip_is_saved_as_a_pdf_or_printed_with_the_code_and_its_qr_code(
    qtbot: QtBot,
    live_server: LiveServer,
    demo: Demo,
    demo_template: DemoTemplate,
    offline_journals: OfflineJournals,
    tmp_path: Path,
) -> None:
    local = alans_unsent_journal(live_server, demo_template, offline_journals)
    usb = tmp_path / "usb"
    usb.mkdir()
    saves = SavePaths(queued=[usb / "slip.pdf", tmp_path / "removed-stick" / "slip.pdf"])
    printer = PrintToFile(tmp_path / "printed.pdf")
    view = UnsentResultsView(local.results, choose_save_path=saves, confirm_print=printer, refresh_ms=60_000)
    qtbot.addWidget(view)
    key = {"result_secret": local.login.result_secret, **attempt_form(local.login)}
    made = f"Result made {local.envelope.finished_at.astimezone():%a} {local.envelope.finished_at.astimezone().day}"

    view.slip_button.click()
    assert saves.suggested == ["results-slip-alan-turing-the-whole-test-3-sections.pdf"]
    view.print_button.click()
    assert printer.shown == 1

    for pdf in (usb / "slip.pdf", printer.path):
        pages = pdf_pages(pdf)
        text = "\n".join(page.text for page in pages)
        for wanted in (ALAN, local.login.assessment.title, "The whole test (3 sections)", made, "Result codes tab"):
            assert wanted in text, f"{pdf.name}: {wanted!r} is not on the slip"
        (scanned,) = joined_codes(qr for page in pages for qr in page.qr_texts)
        assert resultcode.decode(scanned, **key) == local.envelope, f"{pdf.name}: the QR code is the result"
    assert view.message.text() == (
        f"The results slip of {ALAN}, The whole test (3 sections) (1 page), went to {printer.path}."
    )

    view.slip_button.click()
    assert view.message.text() == (
        f"The results slip could not be saved to {tmp_path / 'removed-stick' / 'slip.pdf'} (No such file or "
        "directory). Choose another place, such as a USB stick, or save the result code to a file instead."
    )
