"""The finished screen's QR codes as a camera reads them off the screen, the QR images saved beside the code, and
the results slip: every path gives back a code the server decodes with the attempt's key."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from player.ui.qr import read_qr_texts
from player.ui.screens.finished import FinishedScreen, ResultCodeText
from player.ui.widgets import message_number
from sync.resultcode_qr import qr_texts
from tests.helpers.qr_codes import RealCode, image_texts, joined_codes, pdf_pages, real_code

WINDOW = QSize(1024, 700)


class SaveInto:
    """The save dialog, answered: the file goes into `folder` under the suggested name (which is kept)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.suggested: list[str] = []

    def __call__(self, _parent: QWidget, suggested: str) -> Path:
        self.suggested.append(suggested)
        return self.folder / suggested


def text_of(real: RealCode, section: str, *, name: str = "result-code-ada.txt") -> ResultCodeText:
    return ResultCodeText(
        label=section,
        code=real.code,
        file_name=name,
        key=real.envelope.idempotency_key,
        student_name="Ada Lovelace",
        assessment="Every item type",
        made_at=real.envelope.finished_at,
    )


def shown(qtbot: QtBot, styled: None, codes: list[ResultCodeText], saves: SaveInto | None = None) -> FinishedScreen:
    screen = FinishedScreen(choose_save_path=saves) if saves else FinishedScreen()
    qtbot.addWidget(screen)
    screen.resize(WINDOW)
    screen.set_codes(codes)
    screen.show()
    qtbot.waitExposed(screen)
    return screen


def on_screen(screen: FinishedScreen) -> list[str]:
    """What a webcam pointed at the window reads now."""
    return read_qr_texts(screen.grab().toImage())


def fits(screen: FinishedScreen) -> None:
    """Every control shows in a 1024x700 window, the QR code over none of them and still large enough to read."""
    QApplication.processEvents()  # lay out what the last step changed (a message shown)
    assert screen.size() == WINDOW, "the screen grew past the window to fit its controls"
    bottom = screen.finish_button.mapTo(screen, screen.finish_button.rect().bottomLeft()).y()
    assert bottom <= screen.height(), f"Finished ends at {bottom} px, below the {screen.height()} px window"
    symbol = screen.qr.symbol
    if symbol.isVisible():
        below = symbol.mapTo(screen, symbol.rect().bottomLeft()).y()
        assert below < screen.copy_button.mapTo(screen, screen.copy_button.rect().topLeft()).y()
        assert symbol.height() >= 4 * 65, "at least 4 pixels a module for a version-10 code"


def test_a_short_code_is_one_qr_code_beside_its_text_read_back_from_the_screen(qtbot: QtBot, styled: None) -> None:
    real = real_code(60)
    screen = shown(qtbot, styled, [text_of(real, "Section 1 of 2: Choices")])

    (read,) = joined_codes(on_screen(screen))
    assert real.decoded(read) == real.envelope
    assert not screen.qr.part.isVisible(), "one QR code: no parts to step through"
    assert not screen.qr.next_button.isVisible()
    assert screen.qr.symbol.accessibleName() == "QR code of the result code for Section 1 of 2: Choices"
    assert screen.qr.symbol.height() >= 4 * 65, "at least 4 pixels a module for a version-10 code"
    fits(screen)


def test_a_long_code_is_shown_one_part_at_a_time_and_the_parts_join_into_the_code(qtbot: QtBot, styled: None) -> None:
    real = real_code(500)
    screen = shown(qtbot, styled, [text_of(real, "The whole test (2 sections)")])
    count = len(qr_texts(real.code))
    assert count >= 3

    read: list[str] = []
    for n in range(1, count + 1):
        assert screen.qr.part.text() == f"Part {n} of {count}"
        assert screen.qr.symbol.accessibleName().endswith(f", part {n} of {count}")
        found = on_screen(screen)
        assert len(found) == 1, "one part at a time, so a camera cannot mix them up"
        read += found
        screen.qr.next_button.click()
    assert screen.qr.part.text() == f"Part 1 of {count}", "Next after the last part starts again"
    screen.qr.previous_button.click()
    assert screen.qr.part.text() == f"Part {count} of {count}"

    (joined,) = joined_codes(read)
    assert real.decoded(joined) == real.envelope
    fits(screen)


def test_the_part_buttons_are_reached_by_keyboard_with_mnemonics_of_their_own(qtbot: QtBot, styled: None) -> None:
    screen = shown(qtbot, styled, [text_of(real_code(500), "The whole test (2 sections)")])
    buttons = [b for b in screen.findChildren(QPushButton) if b.isVisible()]
    letters = [m.group(1).casefold() for b in buttons if (m := re.search(r"&(\w)", b.text()))]
    assert len(letters) == len(buttons), [b.text() for b in buttons]
    assert sorted(letters) == sorted(set(letters)), f"two buttons share a mnemonic: {[b.text() for b in buttons]}"

    assert tab_order(screen) == [
        screen.finish_button,
        screen.code_view,
        screen.copy_button,
        screen.save_button,
        screen.slip_button,
        screen.qr.previous_button,
        screen.qr.next_button,
    ]


def tab_order(screen: FinishedScreen) -> list[QWidget]:
    """The widgets Tab moves through, from Finished (where the screen puts the focus) round to it again."""
    order: list[QWidget] = [screen.finish_button]
    widget = screen.finish_button.nextInFocusChain()
    while widget is not None and widget is not screen.finish_button and len(order) < 100:
        if widget.isVisible() and widget.isEnabled() and widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            order.append(widget)
        widget = widget.nextInFocusChain()
    return order


def test_choosing_another_code_shows_its_qr_code(qtbot: QtBot, styled: None) -> None:
    first, second = real_code(40, seed=1), real_code(60, seed=2)
    screen = shown(
        qtbot, styled, [text_of(first, "Section 1 of 2: Choices"), text_of(second, "Section 2 of 2: Writing")]
    )
    assert first.decoded(joined_codes(on_screen(screen))[0]) == first.envelope

    screen.code_choice.setCurrentIndex(1)

    assert second.decoded(joined_codes(on_screen(screen))[0]) == second.envelope
    assert screen.qr.symbol.accessibleName() == "QR code of the result code for Section 2 of 2: Writing"


def test_a_code_too_long_for_qr_codes_says_so_and_can_still_be_copied(qtbot: QtBot, styled: None) -> None:
    real = real_code(6000)
    screen = shown(qtbot, styled, [text_of(real, "The whole test (2 sections)")])

    assert on_screen(screen) == []
    assert not screen.qr.symbol.isVisible()
    assert screen.qr.problem.isVisible()
    assert screen.qr.problem.text().startswith("This result code is too long for QR codes (")
    assert "save it to a file, or copy it, instead" in screen.qr.problem.text()
    assert message_number(screen.qr.problem) == "INV-3302"
    screen.copy_button.click()
    assert real.decoded(QGuiApplication.clipboard().text()) == real.envelope


def test_saving_writes_the_text_and_a_qr_image_beside_it(qtbot: QtBot, styled: None, tmp_path: Path) -> None:
    real = real_code(60)
    screen = shown(qtbot, styled, [text_of(real, "Section 1 of 2: Choices")], SaveInto(tmp_path))

    screen.save_button.click()

    text, image = tmp_path / "result-code-ada.txt", tmp_path / "result-code-ada.png"
    assert screen.code_message.text() == (
        f"The result code for Section 1 of 2: Choices is saved in {text}, and its QR code in {image}."
    )
    assert message_number(screen.code_message) == "", "saved: no error number"
    assert real.decoded(text.read_text(encoding="utf-8")) == real.envelope
    (read,) = joined_codes(image_texts([image]))
    assert real.decoded(read) == real.envelope


def test_a_long_code_is_saved_with_one_image_per_part(qtbot: QtBot, styled: None, tmp_path: Path) -> None:
    real = real_code(500)
    screen = shown(qtbot, styled, [text_of(real, "The whole test (2 sections)")], SaveInto(tmp_path))
    count = len(qr_texts(real.code))

    screen.save_button.click()

    images = [tmp_path / f"result-code-ada-part-{n}-of-{count}.png" for n in range(1, count + 1)]
    assert sorted(tmp_path.iterdir()) == sorted([tmp_path / "result-code-ada.txt", *images])
    assert f"and its {count} QR codes" in screen.code_message.text()
    # Read in reverse, as someone might pick up the files: parts join in any order.
    (read,) = joined_codes(image_texts(reversed(images)))
    assert real.decoded(read) == real.envelope
    fits(screen)


def test_an_image_that_cannot_be_written_leaves_the_text_file_saved_and_says_so(
    qtbot: QtBot, styled: None, tmp_path: Path
) -> None:
    real = real_code(60)
    screen = shown(qtbot, styled, [text_of(real, "Section 1 of 2: Choices")], SaveInto(tmp_path))
    (tmp_path / "result-code-ada.png").mkdir()  # something already there that is not a file

    screen.save_button.click()

    text = tmp_path / "result-code-ada.txt"
    message = screen.code_message.text()
    assert message.startswith(f"The result code for Section 1 of 2: Choices is saved in {text}. ")
    assert "Its QR code image result-code-ada.png could not be saved (" in message
    assert "the text file is enough to hand the result in. For the image too, save again elsewhere." in message
    assert message_number(screen.code_message) == "INV-3303"
    assert real.decoded(text.read_text(encoding="utf-8")) == real.envelope
    fits(screen)


def test_saving_into_a_folder_that_is_gone_says_where_and_what_to_do(
    qtbot: QtBot, styled: None, tmp_path: Path
) -> None:
    real = real_code(60)
    gone = tmp_path / "usb-stick-removed"
    screen = shown(qtbot, styled, [text_of(real, "Section 1 of 2: Choices")], SaveInto(gone))

    screen.save_button.click()
    assert screen.code_message.text() == (
        f"The result code could not be saved to {gone / 'result-code-ada.txt'} (No such file or directory). "
        "Choose another place, such as a USB stick, or copy it instead."
    )
    screen.slip_button.click()
    assert screen.code_message.text() == (
        f"The results slip could not be saved to {gone / 'results-slip-ada-lovelace-section-1-of-2-choices.pdf'} "
        "(No such file or directory). Choose another place, such as a USB stick, or save the result code to a file "
        "instead."
    )
    assert not gone.exists()


def test_the_results_slip_holds_every_code_of_the_sitting_as_text_and_qr_codes(
    qtbot: QtBot, styled: None, tmp_path: Path
) -> None:
    short, long, too_long = real_code(60, seed=1), real_code(500, seed=2), real_code(6000, seed=3)
    saves = SaveInto(tmp_path)
    sections = ["Section 1 of 3: Choices", "Section 2 of 3: Writing", "Section 3 of 3: Essay"]
    screen = shown(
        qtbot,
        styled,
        [text_of(short, sections[0]), text_of(long, sections[1]), text_of(too_long, sections[2])],
        saves,
    )

    screen.slip_button.click()

    assert saves.suggested == ["results-slip-ada-lovelace.pdf"]
    slip = tmp_path / "results-slip-ada-lovelace.pdf"
    pages = pdf_pages(slip)
    message = screen.code_message.text()
    assert message == (
        f"The results slip with all 3 result codes ({len(pages)} pages) is saved in {slip}. Print it for the "
        "invigilator."
    )
    text = "\n".join(page.text for page in pages)
    for wanted in ("Ada Lovelace", "Every item type", *sections, "Result made ", "Result codes tab"):
        assert wanted in text
    assert "Part 2 of " in text
    assert "This result code is too long for QR codes" in text
    read = joined_codes(qr for page in pages for qr in page.qr_texts)
    assert [short.decoded(read[0]), long.decoded(read[1])] == [short.envelope, long.envelope]
    assert len(read) == 2, "no QR code for the code too long for them"
    # The code as printed text: every line of each code is on a page, so it can be typed from the slip.
    for real in (short, long, too_long):
        assert all(line in text for line in real.code.splitlines())
