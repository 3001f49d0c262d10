"""The finished screen and the console's "Results waiting on this computer" over one real journal file: the same
envelope gets the same label, the same file name and a code for the same result, and an envelope too large for a
code gets the same plain sentence in both (both go through player.unsent_results)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.ui.console.unsent import UnsentResultsView
from player.unsent_results import unsent_results
from sync import resultcode
from tests.helpers.player_ui import Player, PlayerFactory
from tests.helpers.qr_codes import image_texts, joined_codes, pdf_pages
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS
from tests.player.test_unsent_results import too_large
from tests.player.ui.test_delivery import finish_sitting, wait_for_codes

SECTIONS = ["Section 1 of 3: Multiple choice", "Section 2 of 3: Short answers", "Section 3 of 3: Dictation"]


class SaveInto:
    """The save dialog, answered: every suggested name is kept, and the file goes into `folder` under it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        self.suggested: list[str] = []

    def __call__(self, _parent: QWidget, suggested: str) -> Path:
        self.suggested.append(suggested)
        return self.folder / suggested


def console_over(qtbot: QtBot, p: Player, saves: SaveInto) -> UnsentResultsView:
    """The console's list as app.py feeds it: this player's journal, read on the GUI thread."""
    view = UnsentResultsView(lambda: unsent_results(p.journal), choose_save_path=saves, refresh_ms=60_000)
    qtbot.addWidget(view)
    return view


def test_the_finished_screen_and_the_console_label_and_name_each_envelope_alike(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, tmp_path: Path
) -> None:
    p = start_player(result_codes_after=0.0)
    attempt_id = finish_sitting(qtbot, p, demo.codes[1])  # no uploader: every result stays on this computer
    screen = p.window.finished
    wait_for_codes(qtbot, p)
    from_screen = SaveInto(tmp_path / "from-screen")
    screen.choose_save_path = from_screen
    from_console = SaveInto(tmp_path / "from-console")
    view = console_over(qtbot, p, from_console)

    for row in range(3):
        screen.code_choice.setCurrentIndex(row)
        screen.save_button.click()
        view.table.setCurrentCell(row, 0)
        view.save_button.click()

    assert [code.label for code in screen.codes()] == SECTIONS
    assert [cells[1] for cells in view.rows()] == SECTIONS
    names = [
        "result-code-alan-turing-section-1-of-3-multiple-choice.txt",
        "result-code-alan-turing-section-2-of-3-short-answers.txt",
        "result-code-alan-turing-section-3-of-3-dictation.txt",
    ]
    assert from_screen.suggested == names
    assert from_console.suggested == names
    held = p.journal.attempt(attempt_id)
    # What the server looks up to read a format 3 code: the attempt's key, id and delivery form.
    form = {"result_secret": held.result_secret, "attempt_id": attempt_id, "delivery": held.login.assessment}
    for name, section_id in zip(names, ["mc", "short", "dictation"], strict=True):
        screen_code = (from_screen.folder / name).read_text(encoding="utf-8")
        console_code = (from_console.folder / name).read_text(encoding="utf-8")
        assert screen_code == console_code, f"{name}: one envelope, one code (format 3 has no random nonce)"
        on_screen = resultcode.decode(screen_code, **form)
        in_console = resultcode.decode(console_code, **form)
        assert on_screen == in_console, f"{name}: both codes carry the same envelope"
        assert on_screen.section_ids == [section_id]
        image = Path(name).with_suffix(".png").name
        scanned = joined_codes(image_texts([from_screen.folder / image, from_console.folder / image]))
        assert [resultcode.decode(code, **form) for code in scanned] == [on_screen, on_screen], image

    # The results slip of the whole sitting, as staff print it from the finished screen.
    screen.slip_button.click()
    slip = from_screen.folder / "results-slip-alan-turing.pdf"
    pages = pdf_pages(slip)
    text = "\n".join(page.text for page in pages)
    for wanted in ("Alan Turing", held.login.assessment.title, *SECTIONS):
        assert wanted in text, f"{wanted!r} is not on the slip"
    scanned = joined_codes(qr for page in pages for qr in page.qr_texts)
    assert [resultcode.decode(code, **form).section_ids for code in scanned] == [["mc"], ["short"], ["dictation"]]
    assert screen.code_message.text().startswith("The results slip with all 3 result codes (")


def test_an_envelope_too_large_for_a_code_gets_the_same_sentence_on_the_screen_and_in_the_console(
    qtbot: QtBot, start_player: PlayerFactory, demo: Demo, tmp_path: Path
) -> None:
    p = start_player(result_codes_after=0.0)
    attempt_id = finish_sitting(qtbot, p, demo.codes[1])
    screen = p.window.finished
    wait_for_codes(qtbot, p)
    big = too_large(p.journal.attempt(attempt_id).login)
    assert p.journal.outbox().queue_result(attempt_id, big.idempotency_key, big.model_dump_json(), datetime.now(UTC))
    qtbot.waitUntil(lambda: len(screen.codes()) == 4, timeout=TIMEOUT_MS)
    QGuiApplication.clipboard().setText("before")

    screen.code_choice.setCurrentIndex(3)
    problem = screen.code_message.text()
    assert problem.startswith("No result code can be made for Alan Turing, The whole test (3 sections): ")
    assert "too large for a result code" in problem
    assert screen.code_view.toPlainText() == ""
    assert not screen.copy_button.isEnabled()
    assert not screen.save_button.isEnabled()
    screen.code_choice.setCurrentIndex(0)
    assert screen.copy_button.isEnabled()
    assert not screen.code_message.isVisible(), "a code that can be made shows no stale refusal"

    view = console_over(qtbot, p, SaveInto(tmp_path / "usb"))
    assert view.rows()[3][1] == "The whole test (3 sections)"
    view.table.setCurrentCell(3, 0)
    view.copy_button.click()
    assert view.message.text() == problem
    view.save_button.click()
    assert view.message.text() == problem
    assert list((tmp_path / "usb").iterdir()) == [], "no file for a code that cannot be made"
    assert QGuiApplication.clipboard().text() == "before"
