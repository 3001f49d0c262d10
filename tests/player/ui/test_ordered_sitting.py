"""End to end: a package with a shuffled section (one item fixed), shuffled options (one fixed) and a multiple
choice of at most 2 is loaded into the real server; a student sits it in the real player window, sees the
attempt's own order, answers through the widgets, and the server marks the uploaded answers right.

Native keys (manifest.json), so the marks do not depend on QTI rules marking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtWidgets import QAbstractButton
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from player.offline_queue.uploader import Backoff
from player.ui.assembly import Uploads
from player.ui.screens.finished import SENT
from player.ui.screens.item_widgets import ChoiceAnswer, TextAnswer
from sync.client import InvigilClient
from sync.ordering import presented
from sync.server.models import Result
from sync.server.store import Store
from tests.helpers.ordered_package import FIXED_ITEM, FIXED_POSITION, write_package
from tests.helpers.package_sitting import sitting_of_package
from tests.helpers.player_ui import Player, PlayerFactory, log_in, wait_for_screen
from tests.helpers.screens import Camera
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS

CHOSEN = {"q-capital": ["Paris"], "q-fixed": ["Yes"], "q-primes": ["7", "11"], "q-even": ["8"], "q-colour": ["Seven"]}
"""What the student picks, by option text: all right but q-colour."""


def option_texts(answer: ChoiceAnswer) -> list[str]:
    return [button.text().split(maxsplit=1)[1] for button in answer.buttons]


def by_text(answer: ChoiceAnswer, text: str) -> QAbstractButton:
    return next(button for button in answer.buttons if button.text().split(maxsplit=1)[1] == text)


def click(qtbot: QtBot, box: QAbstractButton) -> None:
    """A click on the box itself (a wide check box takes clicks on its box and text only, not at its centre)."""
    middle = box.height() // 2
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(middle, middle))


def marks_on_server(store: Store, attempt_id: str) -> list[dict[str, Any]]:
    with store.transaction() as session:
        return [r.marks for r in session.scalars(select(Result).where(Result.attempt_id == attempt_id)) if r.marks]


def test_a_student_sits_a_shuffled_package_and_the_server_marks_it_right(
    qtbot: QtBot,
    styled: None,
    start_player: PlayerFactory,
    demo: Demo,
    store: Store,
    server_key: bytes,
    tmp_path: Path,
    screen_folders: list[Path],
) -> None:
    code = sitting_of_package(
        store,
        server_key,
        school_id=demo.school_id,
        package=write_package(tmp_path / "package"),
        student=("ORD-1", "Emmy", "Noether"),
        name="Ordered sitting",
    )
    uploads = Uploads(
        connect=lambda url: InvigilClient(url, timeout=5.0),
        backoff=Backoff(base=0.05, cap=0.2, jitter="none"),
        idle_wait=0.5,
    )
    p: Player = start_player(uploads=uploads)
    w = p.window
    w.resize(QSize(1024, 700))
    log_in(qtbot, p, code)
    w.instructions.start_button.click()  # no recordings: no sound check
    wait_for_screen(qtbot, p, w.item)
    session = p.controller.session
    assert session is not None
    from_server = p.journal.attempt(session.attempt_id).login.assessment  # as the server sent it
    expected = presented(from_server, seed=session.attempt_id).sections[0].items
    prompts = {item.prompt: item for item in expected}

    # Forward through the section: the attempt's order of questions and of each one's options, as shown.
    seen: list[str] = []
    for number in range(1, len(expected) + 1):
        assert w.item.position.text() == f"Shuffled questions: question {number} of {len(expected)}"
        item = prompts[w.item.prompt.text()]
        seen.append(item.id)
        answer = w.item.answer
        assert isinstance(answer, ChoiceAnswer)
        assert option_texts(answer) == [option.text for option in item.options]
        if item.id == "q-capital":
            assert option_texts(answer)[-1] == "None of these"  # fixed: last for everyone
        if item.id == "q-primes":
            assert answer.hint.text() == "Choose up to 2"
        for text in CHOSEN[item.id]:
            click(qtbot, by_text(answer, text))
        if item.id == "q-primes":
            third = by_text(answer, "9")
            click(qtbot, third)  # a third: refused
            assert not third.isChecked()
            assert not third.isEnabled()
            assert answer.hint.isVisible()
            assert answer.hint.text().startswith("Choose up to 2.")
            Camera(screen_folders, max_bytes=150_000, width=1024).shoot(
                w, "qti-choice-limit", "Which two of these numbers are prime?", "Choose up to 2"
            )
        qtbot.waitUntil(lambda: w.item.saved.text() == "Saved", timeout=TIMEOUT_MS)
        w.item.next_button.click()
    assert seen == [item.id for item in expected]
    assert seen[FIXED_POSITION] == FIXED_ITEM

    # The review numbers questions as they were shown; choosing one opens that question.
    wait_for_screen(qtbot, p, w.review)
    rows = [w.review.entries.item(r).text() for r in range(w.review.entries.count())]
    assert rows == [f"Question {n}: answered" for n in range(1, 6)]
    w.review.entries.setFocus()
    w.review.entries.setCurrentRow(FIXED_POSITION)
    qtbot.keyClick(w.review.entries, Qt.Key.Key_Return)
    wait_for_screen(qtbot, p, w.item)
    assert prompts[w.item.prompt.text()].id == FIXED_ITEM

    w.item.review_button.click()
    wait_for_screen(qtbot, p, w.review)
    w.review.end_button.click()
    w.review.confirm_button.click()
    wait_for_screen(qtbot, p, w.instructions)
    w.instructions.start_button.click()
    wait_for_screen(qtbot, p, w.item)
    text = w.item.answer
    assert isinstance(text, TextAnswer)
    assert text.line is not None
    qtbot.keyClicks(text.line, "end")
    w.item.review_button.click()
    wait_for_screen(qtbot, p, w.review)
    w.review.end_button.click()
    w.review.confirm_button.click()
    wait_for_screen(qtbot, p, w.finished)
    qtbot.waitUntil(lambda: w.finished.delivery.text() == SENT, timeout=TIMEOUT_MS)

    marks = marks_on_server(store, session.attempt_id)
    scores = {item: mark["score"] for result in marks for item, mark in result["items"].items() if mark["answered"]}
    assert scores == {"q-capital": 1, "q-fixed": 1, "q-primes": 2, "q-even": 1, "q-colour": 0, "q-end": 1}
