"""Access-code slips: a real PDF from Qt's writer with every student's name and code; the print path draws the same."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.ui.console.sittings import SittingContext
from player.ui.console.slips import INSTRUCTION, Slip, SlipsView, window_text, write_slips_pdf
from tests.helpers.console import Chooser
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS

POPPLER = "poppler-utils"


def pdf_text(path: Path) -> str:
    """The text of a PDF as a reader would copy it (pdftotext, from the Debian package poppler-utils)."""
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.skip(f"pdftotext is not installed (Debian/Ubuntu package {POPPLER}; scripts/setup-env installs it)")
    return subprocess.run([tool, "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def pdf_pages(path: Path) -> int:
    tool = shutil.which("pdfinfo")
    if tool is None:
        pytest.skip(f"pdfinfo is not installed (Debian/Ubuntu package {POPPLER}; scripts/setup-env installs it)")
    info = subprocess.run([tool, str(path)], check=True, capture_output=True, text=True).stdout
    (pages,) = [line.split(":")[1] for line in info.splitlines() if line.startswith("Pages:")]
    return int(pages)


def open_view(qtbot: QtBot, context: SittingContext, chooser: Chooser, **kwargs: object) -> SlipsView:
    view = SlipsView(context, choose_save_path=chooser.save, **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.save_button.isEnabled(), timeout=TIMEOUT_MS)
    return view


def assert_every_student_on_it(text: str, demo: Demo) -> None:
    assert len(demo.data["students"]) == 3
    for student in demo.data["students"]:
        assert student["name"] in text
        assert student["access_code"] in text, f"{student['name']}'s code is missing"
    assert text.count("Demo sitting") == 3
    assert text.count(INSTRUCTION) == 3


def test_save_pdf_makes_a_slip_for_every_student(
    qtbot: QtBot, context: SittingContext, chooser: Chooser, demo: Demo, tmp_path: Path
) -> None:
    view = open_view(qtbot, context, chooser)
    assert view.message.text() == "3 slips ready."
    shown = [view.students.item(r).text() for r in range(view.students.count())]
    assert shown == ["Ada Lovelace (DEMO-001)", "Alan Turing (DEMO-002)", "Grace Hopper (DEMO-003)"]
    assert not any(s["access_code"] in " ".join(shown) for s in demo.data["students"]), "codes stay off the screen"

    path = tmp_path / "slips.pdf"
    chooser.paths.append(path)
    with qtbot.waitSignal(view.done, timeout=TIMEOUT_MS):
        view.save_button.click()
    assert chooser.suggested == ["Demo sitting slips.pdf"]
    assert path.read_bytes().startswith(b"%PDF")
    assert view.message.text() == f"Saved 3 slips (1 page) to {path}."
    text = pdf_text(path)
    assert_every_student_on_it(text, demo)
    start = datetime.fromisoformat(demo.data["sitting"]["window_start"])
    end = datetime.fromisoformat(demo.data["sitting"]["window_end"])
    assert window_text(start, end) in " ".join(text.split())


def test_print_draws_the_same_slips_on_the_printer(
    qtbot: QtBot, context: SittingContext, chooser: Chooser, demo: Demo, tmp_path: Path
) -> None:
    printed = tmp_path / "printed.pdf"

    def print_to_file(printer: QPrinter, parent: QWidget) -> bool:
        # What the print dialog would do with "Print to file": the slips go through the same printer object.
        assert printer.pageLayout().pageSize().id().name == "A4"
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(printed))
        return True

    view = open_view(qtbot, context, chooser, confirm_print=print_to_file)
    with qtbot.waitSignal(view.done, timeout=TIMEOUT_MS):
        view.print_button.click()
    assert printed.read_bytes().startswith(b"%PDF")
    assert_every_student_on_it(pdf_text(printed), demo)


def test_cancelling_the_print_dialog_prints_nothing(
    qtbot: QtBot, context: SittingContext, chooser: Chooser, tmp_path: Path
) -> None:
    view = open_view(qtbot, context, chooser, confirm_print=lambda printer, parent: False)
    view.print_button.click()
    assert view.message.text() == "3 slips ready."
    chooser.paths.append(None)
    view.save_button.click()
    assert list(tmp_path.glob("*.pdf")) == []


def test_eight_slips_to_a_page(qtbot: QtBot, tmp_path: Path) -> None:
    slips = [
        Slip(f"Student {n:02}", f"U{n}", f"ABCD-{n:04}", "Year 6 Spelling", "Mon 1 Mar 2027, 09:00 to 10:00")
        for n in range(17)
    ]
    path = tmp_path / "many.pdf"
    assert write_slips_pdf(path, slips) == 3
    assert pdf_pages(path) == 3
    text = pdf_text(path)
    assert all(f"ABCD-{n:04}" in text and f"Student {n:02}" in text for n in range(17))


def test_window_text_in_local_time() -> None:
    start = datetime(2027, 3, 1, 8, 55).astimezone()
    assert window_text(start, datetime(2027, 3, 1, 17, 0).astimezone()) == "Mon 1 Mar 2027, 08:55 to 17:00"
    assert window_text(start, datetime(2027, 3, 2, 9, 0).astimezone()) == "Mon 1 Mar 2027 08:55 to Tue 2 Mar 2027 09:00"
