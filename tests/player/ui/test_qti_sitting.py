"""End to end (issue 15, "Done when"): the hand-written QTI spec packages are loaded into the real server as
`invigil-server load-assessment` loads them, a student sits each one in the real player window and answers through
the widgets (a further tick past max-choices refused, a recording capped at two plays), the real uploader sends
the answers, and the server's marks are the scores the QTI specification gives.

The expected item scores are not repeated here: they are looked up in the spec table of
tests/sync/server/qti/test_spec_cases.py (CASES: the answer, the score and the spec sentences it follows), so an
answer sat here that the table does not work out fails loudly. Section and test totals are worked out below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtWidgets import QAbstractButton
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from player.offline_queue.uploader import Backoff
from player.ui.assembly import Uploads
from player.ui.item_audio import ALL_USED, READY_FIRST
from player.ui.screens.finished import SENT
from player.ui.screens.item_widgets import ChoiceAnswer, TextAnswer
from sync.client import InvigilClient
from sync.protocol import DeliveryItem
from sync.server.models import Result
from sync.server.store import Store
from tests.helpers.package_sitting import sitting_of_package
from tests.helpers.player_ui import Player, PlayerFactory, log_in, wait_finished, wait_for_screen
from tests.helpers.server import Demo
from tests.helpers.waiting import TIMEOUT_MS
from tests.sync.server.qti.test_spec_cases import CASES, FIXTURES, MISSING, T21, T22, T30

Answer = str | list[str]
"""Option ids (as in the spec table) for a choice, or what the student types."""

POSTCARD = "Dear Sam, my town is small and quiet. The nicest part is the river. In the evenings I go to the park."


@dataclass(frozen=True)
class Sheet:
    """One student's sitting of a spec package: what they answer, and what the server must make of it."""

    package: str
    answers: dict[str, Answer]
    """Item -> option id(s) or typed text; an item of the package not named here is left unanswered."""
    sections: dict[str, tuple[float, float, bool]]
    """Section -> (score, most it can give, waits for hand marking)."""
    total: tuple[float, float]
    untimed_section_minutes: int | None = None
    past_the_limit: dict[str, str] = field(default_factory=dict)
    """Item -> an option ticked once max-choices are ticked: the widget refuses it."""
    audio: str | None = None
    """The item whose recording may be played twice (mediaInteraction maxPlays="2")."""
    essay: str | None = None
    """The extended-text item with no response processing: left for a person to mark."""

    def __str__(self) -> str:
        return self.package


SHEETS = [
    Sheet(
        T30,
        answers={
            "audio30": "high",  # match_correct, right: 1
            "choice30": "ChoiceB",  # match_correct, wrong: 0
            "limits30": ["B", "C"],  # 8 and 12: 0.5 + 0.5 = 1, partial credit (the correct answer is 4 and 8)
            "mountain30": "CHOMOLUNGMA",  # a map-entry with no case-sensitive attribute: any case in 3.0: 1
            "custom30": "AU",  # custom processing: the case-insensitive string-match branch: 0.5
            "essay30": POSTCARD,
        },
        past_the_limit={"limits30": "A"},  # max-choices="2": a third tick, on 4, is refused
        audio="audio30",
        essay="essay30",
        untimed_section_minutes=15,
        sections={
            "main": (1 + 0 + 1 + 1 + 0.5, 1 + 1 + 1.5 + 2 + 2, False),
            "writing": (0, 3, True),  # MAXSCORE 3, for a person to mark
        },
        total=(3.5, 10.5),
    ),
    Sheet(
        T21,
        answers={
            # choice: left unanswered: match(NULL, ChoiceA) is NULL, so responseElse sets 0
            "choiceMultiple": ["H", "O", "Cl"],  # 1 + 1 - 1 = 1
            "partialBounded": ["two", "three"],  # 1 + 1 = 2, held to the upperBound 1.5
            "noLowerBound": ["lyon", "nice"],  # -1 - 1 = -2: no lowerBound, so a negative score
            "defaultValue": "c90",  # no mapEntry: the mapping's defaultValue 0.5
            "audioChoice": "one",  # match_correct, right: 1
            "textEntry": "york",  # the case-sensitive entry for york: 0.5
            "textEntryAnyCase": "STRASSE",  # caseSensitive="false": casefold matches Straße: 2
            "extendedText": POSTCARD,
        },
        past_the_limit={"partialBounded": "four"},  # maxChoices="2"
        audio="audioChoice",
        essay="extendedText",
        sections={
            "choices": (0 + 1 + 1.5 - 2 + 0.5, 1 + 2 + 1.5 + 1 + 2, False),
            "typing": (1 + 0.5 + 2 + 0, 1 + 1 + 2 + 5, True),
        },
        total=(4.5, 16.5),
    ),
    Sheet(
        T22,
        answers={
            "choice22": "ChoiceA",  # match_correct, right: 1
            "defaultPositive": ["apple", "pear", "plum", "cherry"],  # 2 + 3 x default 0.5 = 3.5, upperBound 3
            "customChoice": ["B", "C"],  # custom: member, and/or/not, sum: (1 - 1) + 0.5 = 0.5
            "customText": "PARIS",  # stringMatch caseSensitive="false": 1
            "nullPropagates": "NO",  # NULL through and/or/not: 0.25
            "allOrNothing": ["H", "O", "N"],  # match_correct on a multiple response, one tick too many: 0
            # outcomeDefault: left unanswered: match(NULL, yes) is NULL, SCORE keeps its defaultValue 1
            "matchText": "new york",  # match compares case too: 0
        },
        sections={"custom": (1 + 3 + 0.5 + 1 + 0.25 + 0 + 1 + 0, 1 + 3 + 4 + 2 + 1 + 1 + 1 + 1, False)},
        total=(6.75, 14),
    ),
]


def spec_score(package: str, item: str, answer: Answer | None) -> float:
    """The score tests/sync/server/qti/test_spec_cases.py works out from the spec for this answer (None: none)."""
    wanted: object = MISSING if answer is None else answer
    found = [case for case in CASES if (case.package, case.item) == (package, item) and case.answer == wanted]
    assert found, f"the spec table has no case for {package}:{item} answered {answer!r}"
    return found[0].expected


def button_for(answer: ChoiceAnswer, item: DeliveryItem, option_id: str) -> QAbstractButton:
    """The box of the option, found by the text the student reads (options are shuffled per attempt)."""
    text = next(option.text for option in item.options if option.id == option_id)
    return next(button for button in answer.buttons if button.text().split(maxsplit=1)[1] == text)


def click(qtbot: QtBot, box: QAbstractButton) -> None:
    """A click on the box itself (a wide check box takes clicks on its box and text only, not at its centre)."""
    middle = box.height() // 2
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(middle, middle))


def listen_twice(qtbot: QtBot, p: Player, item: DeliveryItem, attempt_id: str) -> None:
    """The package says autostart="false": nothing plays by itself on the first visit and both plays are left;
    the student presses Play (that play counts), then Play again once more; then no more."""
    bar = p.window.item.audio
    assert bar is not None
    assert item.autoplay is False  # read from the mediaInteraction's autostart="false"
    assert bar.replay_button.text() == "Play (2 left)"  # nothing started: not "Play again", no play used
    assert bar.state.text() == READY_FIRST
    assert bar.replay_button.isEnabled()
    assert p.journal.plays(attempt_id).get(item.id, 0) == 0
    # By keyboard: Tab reaches Play and Space plays it (as on any button).
    bar.replay_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(bar.replay_button, Qt.Key.Key_Space)
    assert bar.state.text() == "Playing…"
    assert bar.replay_button.text() == "Play again (1 left)"  # the play starting now counts
    wait_finished(qtbot, p)
    assert bar.replay_button.isEnabled()
    click(qtbot, bar.replay_button)
    assert bar.replay_button.text() == "Play again (0 left)"
    qtbot.waitUntil(lambda: bar.state.text() == f"Finished. {ALL_USED}", timeout=TIMEOUT_MS)
    assert not bar.replay_button.isEnabled()


def answer_item(qtbot: QtBot, p: Player, sheet: Sheet, item: DeliveryItem) -> None:
    widget = p.window.item.answer
    given = sheet.answers.get(item.id)
    if isinstance(widget, ChoiceAnswer):
        limits = f"Choose at least {item.min_choices} and up to {item.max_choices}"  # min-/max-choices, as read
        if item.id in sheet.past_the_limit:
            assert widget.hint.text() == limits
        for option_id in [given] if isinstance(given, str) else given or []:
            click(qtbot, button_for(widget, item, option_id))
        if item.id in sheet.past_the_limit:
            further = button_for(widget, item, sheet.past_the_limit[item.id])
            click(qtbot, further)
            assert not further.isChecked()
            assert not further.isEnabled()
            assert widget.hint.text() == f"{limits}. You have chosen {item.max_choices}: untick one to choose another."
        if given is not None:  # a choice is committed at once
            assert p.window.item.saved.text() == "Saved"
    else:
        assert isinstance(widget, TextAnswer)
        editor = widget.line if widget.line is not None else widget.box
        assert editor is not None
        assert (editor is widget.box) == (item.id == sheet.essay)
        if isinstance(given, str):
            qtbot.keyClicks(editor, given)  # committed within typing_commit_seconds, or on leaving the item


def sit(qtbot: QtBot, p: Player, sheet: Sheet) -> tuple[str, list[str]]:
    """Every section in turn, every item as it comes up (found by its prompt); the attempt and the items seen."""
    w = p.window
    seen: list[str] = []
    attempt_id = ""
    while True:
        w.instructions.start_button.click()
        if sheet.audio is not None and not seen:
            wait_for_screen(qtbot, p, w.sound_check)
            w.sound_check.yes_button.click()
        wait_for_screen(qtbot, p, w.item)
        session = p.controller.session
        assert session is not None
        attempt_id = session.attempt_id
        items = {item.prompt: item for item in session.section.items}
        for number in range(1, len(items) + 1):
            assert w.item.position.text().endswith(f"question {number} of {len(items)}")
            item = items[w.item.prompt.text()]
            seen.append(item.id)
            if any(ref.role == "image" for ref in item.media):  # the spec's picture, shown with the question
                assert w.item.image is not None
                assert not w.item.image.failed
            if item.id == sheet.audio:
                listen_twice(qtbot, p, item, attempt_id)
            answer_item(qtbot, p, sheet, item)
            w.item.next_button.click()  # the last one's says Review
        wait_for_screen(qtbot, p, w.review)
        # Typed answers were committed on leaving their items: only the ones left blank are "not answered".
        blank = sum(item not in sheet.answers for item in seen[-len(items) :])
        assert w.review.summary.text() == f"{blank} not answered, 0 flagged, out of {len(items)} questions."
        w.review.end_button.click()
        w.review.confirm_button.click()
        qtbot.waitUntil(lambda: w.current_screen() in (w.instructions, w.finished), timeout=TIMEOUT_MS)
        if w.current_screen() is w.finished:
            return attempt_id, seen


def marks_on_server(store: Store, attempt_id: str, layout: dict[str, list[str]]) -> tuple[dict[str, Any], ...]:
    """(section marks, item marks, the most the test gives), each section's from the result that carries it (a
    result is marked against the whole test: the other sections' items are in it unanswered)."""
    sections: dict[str, Any] = {}
    items: dict[str, Any] = {}
    most: dict[str, Any] = {}
    with store.transaction() as session:
        for result in session.scalars(select(Result).where(Result.attempt_id == attempt_id)):
            assert (result.status, result.error) == ("marked", None)
            assert result.marks is not None
            most[result.id] = result.marks["max_total"]
            for section_id in result.body["section_ids"]:
                sections[section_id] = result.marks["sections"][section_id]
                items.update({item_id: result.marks["items"][item_id] for item_id in layout[section_id]})
    return sections, items, most


@pytest.mark.parametrize("sheet", SHEETS, ids=str)
def test_a_qti_package_sat_in_the_player_is_marked_as_the_spec_says(
    qtbot: QtBot,
    styled: None,
    start_player: PlayerFactory,
    demo: Demo,
    store: Store,
    server_key: bytes,
    sheet: Sheet,
) -> None:
    code = sitting_of_package(
        store,
        server_key,
        school_id=demo.school_id,
        package=FIXTURES / sheet.package,
        student=("QTI-1", "Ada", "Lovelace"),
        name="QTI sitting",
        untimed_section_minutes=sheet.untimed_section_minutes,
    )
    uploads = Uploads(
        connect=lambda url: InvigilClient(url, timeout=5.0),
        backoff=Backoff(base=0.05, cap=0.2, jitter="none"),
        idle_wait=0.5,
    )
    p = start_player(uploads=uploads)
    p.window.resize(QSize(1024, 700))
    log_in(qtbot, p, code)
    attempt_id, seen = sit(qtbot, p, sheet)
    qtbot.waitUntil(lambda: p.window.finished.delivery.text() == SENT, timeout=TIMEOUT_MS)

    layout = {
        section.id: [item.id for item in section.items]
        for section in p.journal.attempt(attempt_id).login.assessment.sections
    }
    assert sorted(seen) == sorted(item for items in layout.values() for item in items)
    if sheet.audio is not None:
        assert p.journal.plays(attempt_id) == {sheet.audio: 2}  # the player's count, sent in its checkpoints

    sections, items, most = marks_on_server(store, attempt_id, layout)
    expected = {
        item: 0 if item == sheet.essay else spec_score(sheet.package, item, sheet.answers.get(item)) for item in items
    }
    assert {item: mark["score"] for item, mark in items.items()} == pytest.approx(expected)
    assert {item for item, mark in items.items() if mark["answered"]} == set(sheet.answers)
    assert {item for item, mark in items.items() if mark["needs_manual"]} == ({sheet.essay} - {None})
    assert {s: mark["score"] for s, mark in sections.items()} == pytest.approx(
        {s: score for s, (score, _, _) in sheet.sections.items()}
    )
    assert {s: mark["max_score"] for s, mark in sections.items()} == pytest.approx(
        {s: worth for s, (_, worth, _) in sheet.sections.items()}
    )
    assert {s for s, mark in sections.items() if mark["needs_manual"]} == {
        s for s, (*_, hand) in sheet.sections.items() if hand
    }
    # The test's total, as the results view adds it up from the sections; every result is out of the whole test.
    assert sum(mark["score"] for mark in sections.values()) == pytest.approx(sheet.total[0])
    assert most
    assert all(value == pytest.approx(sheet.total[1]) for value in most.values())
