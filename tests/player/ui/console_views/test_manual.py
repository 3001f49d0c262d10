"""Manual dictation entries: saved on the real server, shown again in a new view, evidence checked by type and size."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPageSize, QPainter, QPdfWriter
from pytestqt.qtbot import QtBot

from player.ui.console.manual import ManualEntriesView
from player.ui.console.sittings import SittingContext
from sync import staff_protocol as sp
from tests.helpers.console import Chooser
from tests.helpers.waiting import TIMEOUT_MS


def open_view(qtbot: QtBot, context: SittingContext, chooser: Chooser) -> ManualEntriesView:
    view = ManualEntriesView(context, choose_evidence=chooser.open)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.students.count() == 3, timeout=TIMEOUT_MS)
    return view


def choose_student(qtbot: QtBot, view: ManualEntriesView, name: str) -> sp.ManualEntryOut:
    rows = [view.students.item(r) for r in range(view.students.count())]
    (item,) = [i for i in rows if i.text().startswith(name)]
    with qtbot.waitSignal(view.loaded, timeout=TIMEOUT_MS) as blocker:
        view.students.setCurrentItem(item)
    entry = blocker.args[0]
    assert isinstance(entry, sp.ManualEntryOut)
    return entry


def real_png(path: Path) -> Path:
    image = QImage(40, 20, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    assert image.save(str(path))  # PNG, from the suffix
    return path


def real_pdf(path: Path) -> Path:
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A5))
    painter = QPainter(writer)
    painter.drawText(100, 100, "The quick brown fox")
    painter.end()
    return path


def upload(qtbot: QtBot, view: ManualEntriesView, chooser: Chooser, path: Path) -> str:
    """Click "Add evidence...", answer the file dialog with `path`; returns the message the invigilator sees."""
    chooser.paths.append(path)
    with qtbot.waitSignal(view.message_shown, timeout=TIMEOUT_MS, check_params_cb=lambda m: "Uploading" not in m):
        qtbot.mouseClick(view.add_evidence_button, Qt.MouseButton.LeftButton)
    return view.error.text() or view.message.text()


def test_entries_are_saved_and_shown_again_after_reopening(
    qtbot: QtBot, context: SittingContext, chooser: Chooser, tmp_path: Path
) -> None:
    view = open_view(qtbot, context, chooser)
    first = choose_student(qtbot, view, "Ada Lovelace")
    assert (first.typed_dictation, first.written_dictation, first.comments, first.evidence) == (None, None, None, [])
    assert view.message.text() == "Nothing entered yet."

    qtbot.keyClicks(view.typed_edit, "9")
    qtbot.keyClicks(view.written_edit, "8.5")
    view.comments_edit.setPlainText("Wrote slowly; Zoë's pen ran out.")
    with qtbot.waitSignal(view.saved, timeout=TIMEOUT_MS):
        qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert view.message.text().startswith("Saved Ada Lovelace's entries at ")
    assert upload(qtbot, view, chooser, real_png(tmp_path / "ada-page1.png")) == "Uploaded ada-page1.png."
    assert upload(qtbot, view, chooser, real_pdf(tmp_path / "ada-scan.pdf")) == "Uploaded ada-scan.pdf."
    view.close()

    again = open_view(qtbot, context, chooser)
    entry = choose_student(qtbot, again, "Ada Lovelace")
    assert again.typed_edit.text() == "9"
    assert again.written_edit.text() == "8.5"
    assert again.comments_edit.toPlainText() == "Wrote slowly; Zoë's pen ran out."
    shown = [again.evidence_list.item(r).text() for r in range(again.evidence_list.count())]
    assert [s.split(" (")[0] for s in shown] == ["ada-page1.png", "ada-scan.pdf"]
    assert [e.mime_type for e in entry.evidence] == ["image/png", "application/pdf"]
    assert again.message.text().startswith("Last saved by ")

    # Another student's entries are their own.
    other = choose_student(qtbot, again, "Grace Hopper")
    assert other.typed_dictation is None
    assert again.typed_edit.text() == ""
    assert again.evidence_list.count() == 0


def test_clearing_a_value_stores_nothing_rather_than_blank(
    qtbot: QtBot, context: SittingContext, chooser: Chooser
) -> None:
    view = open_view(qtbot, context, chooser)
    choose_student(qtbot, view, "Alan Turing")
    view.typed_edit.setText("7")
    with qtbot.waitSignal(view.saved, timeout=TIMEOUT_MS):
        view.save()
    view.typed_edit.setText("   ")
    with qtbot.waitSignal(view.saved, timeout=TIMEOUT_MS) as blocker:
        view.save()
    assert blocker.args[0].typed_dictation is None


def test_a_png_that_is_not_a_png_shows_the_servers_sentence(
    qtbot: QtBot, context: SittingContext, chooser: Chooser, tmp_path: Path
) -> None:
    fake = tmp_path / "homework.png"
    fake.write_bytes(b"GIF89a this is really a GIF, renamed")
    view = open_view(qtbot, context, chooser)
    choose_student(qtbot, view, "Ada Lovelace")
    message = upload(qtbot, view, chooser, fake)
    assert view.error.isVisible()
    assert "homework.png" in message
    assert "PNG" in message
    assert view.evidence_list.count() == 0
    assert view.add_evidence_button.isEnabled(), "the invigilator can choose another file"


def test_a_file_over_10_mb_shows_the_size_limit(
    qtbot: QtBot, context: SittingContext, chooser: Chooser, tmp_path: Path
) -> None:
    big = real_png(tmp_path / "huge-scan.png")
    with big.open("ab") as f:
        f.truncate(10 * 1024 * 1024 + 1)
    view = open_view(qtbot, context, chooser)
    choose_student(qtbot, view, "Ada Lovelace")
    message = upload(qtbot, view, chooser, big)
    assert view.error.isVisible()
    assert message.startswith("huge-scan.png is 10.0 MB; evidence files can be at most 10 MB.")
    assert view.evidence_list.count() == 0


def test_cancelling_the_file_dialog_uploads_nothing(qtbot: QtBot, context: SittingContext, chooser: Chooser) -> None:
    view = open_view(qtbot, context, chooser)
    choose_student(qtbot, view, "Ada Lovelace")
    chooser.paths.append(None)
    view.add_evidence()
    assert context.tasks.is_idle()
    assert view.evidence_list.count() == 0


def test_dictation_values_take_the_tests_scale(qtbot: QtBot, context: SittingContext, chooser: Chooser) -> None:
    view = open_view(qtbot, context, chooser)
    choose_student(qtbot, view, "Ada Lovelace")
    assert (view.typed_scale.text(), view.written_scale.text()) == ("out of 10", "out of 10"), "2 items of 5"

    qtbot.keyClicks(view.typed_edit, "8/10")
    with qtbot.waitSignal(view.message_shown, timeout=TIMEOUT_MS, check_params_cb=lambda m: "Saving" not in m):
        qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert view.error.text() == (
        "Typed dictation must be a number from 0 to 10 (the points of the test's dictation items), with at most "
        "two decimals; '8/10' is not. Type just the score, such as 8. Nothing was saved."
    )
    view.typed_edit.setText("8")
    with qtbot.waitSignal(view.saved, timeout=TIMEOUT_MS) as saved:
        qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert saved.args[0].typed_dictation == "8"
