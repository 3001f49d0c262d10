"""A multiple-choice item's counts (QTI maxChoices/minChoices): at the most, the other boxes cannot be ticked by
mouse or keyboard and the hint says why; the least is a hint only, and fewer is still saved."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from player.ui.screens.item_widgets import ChoiceAnswer, choice_hint
from sync.protocol import AnswerValue, ChoiceOption, DeliveryItem
from tests.helpers.waiting import TIMEOUT_MS

WORDS = ["river", "quickly", "happiness", "run", "table"]


def item(*, max_choices: int | None = None, min_choices: int = 0) -> DeliveryItem:
    return DeliveryItem(
        id="q",
        type="multiple_choice",
        prompt="Which are nouns?",
        options=[ChoiceOption(id=chr(ord("a") + n), text=word) for n, word in enumerate(WORDS)],
        max_choices=max_choices,
        min_choices=min_choices,
    )


def shown(qtbot: QtBot, answer: ChoiceAnswer) -> list[AnswerValue]:
    """`answer` in a window of its own with the keyboard focus; the values it emits, in order."""
    qtbot.addWidget(answer)
    answer.show()
    answer.activateWindow()
    qtbot.waitExposed(answer)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is answer, timeout=TIMEOUT_MS)
    emitted: list[AnswerValue] = []
    answer.changed.connect(emitted.append)
    answer.setFocus()
    return emitted


def ticked(answer: ChoiceAnswer) -> list[str]:
    return [w.text().split(maxsplit=1)[1] for w in answer.buttons if w.isChecked()]


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None
    return widget


def click(qtbot: QtBot, answer: ChoiceAnswer, index: int) -> None:
    qtbot.mouseClick(answer.buttons[index], Qt.MouseButton.LeftButton)


@pytest.mark.parametrize(
    ("least", "most", "hint"),
    [
        (0, 2, "Choose up to 2"),
        (2, None, "Choose at least 2"),
        (2, 2, "Choose 2"),
        (1, 3, "Choose at least 1 and up to 3"),
    ],
)
def test_the_hint_says_what_is_asked(least: int, most: int | None, hint: str) -> None:
    assert choice_hint(least, most) == hint


def test_a_third_box_cannot_be_ticked_by_mouse_until_one_is_unticked(qtbot: QtBot) -> None:
    answer = ChoiceAnswer(item(max_choices=2))
    emitted = shown(qtbot, answer)
    assert answer.hint.isVisible()
    assert answer.hint.text() == "Choose up to 2"
    assert answer.hint.accessibleName() == "Choose up to 2"
    assert answer.buttons[3].accessibleDescription() == "Choose up to 2"

    click(qtbot, answer, 0)
    click(qtbot, answer, 2)
    click(qtbot, answer, 4)  # refused: two are ticked
    assert ticked(answer) == ["river", "happiness"]
    assert emitted == [["a"], ["a", "c"]]
    assert [w.isEnabled() for w in answer.buttons] == [True, False, True, False, False]
    assert answer.hint.text() == "Choose up to 2. You have chosen 2: untick one to choose another."
    assert answer.buttons[1].accessibleDescription() == answer.hint.text()

    click(qtbot, answer, 0)  # untick one: the others can be ticked again
    assert all(w.isEnabled() for w in answer.buttons)
    assert answer.hint.text() == "Choose up to 2"
    click(qtbot, answer, 4)
    assert ticked(answer) == ["happiness", "table"]
    assert emitted[-1] == ["c", "e"]


def test_digit_keys_space_and_arrows_cannot_tick_past_the_limit(qtbot: QtBot) -> None:
    answer = ChoiceAnswer(item(max_choices=2))
    emitted = shown(qtbot, answer)
    qtbot.keyClicks(focused(), "2")
    qtbot.keyClicks(focused(), "4")
    qtbot.keyClicks(focused(), "5")  # refused
    assert ticked(answer) == ["quickly", "run"]
    assert focused() is answer.buttons[3]

    # Arrows pass the disabled boxes (as Tab does); Space on a ticked one unticks it.
    qtbot.keyClick(focused(), Qt.Key.Key_Up)
    assert focused() is answer.buttons[1]
    qtbot.keyClick(focused(), Qt.Key.Key_Up)
    assert focused() is answer.buttons[1]  # option 1 is disabled and there is nothing before it
    qtbot.keyClick(focused(), Qt.Key.Key_Space)
    assert ticked(answer) == ["run"]
    qtbot.keyClick(focused(), Qt.Key.Key_Down)
    qtbot.keyClick(focused(), Qt.Key.Key_Down)
    assert focused() is answer.buttons[3]
    qtbot.keyClick(focused(), Qt.Key.Key_Down)
    qtbot.keyClick(focused(), Qt.Key.Key_Space)
    assert ticked(answer) == ["run", "table"]
    qtbot.keyClicks(focused(), "1")  # refused again
    assert ticked(answer) == ["run", "table"]
    assert emitted == [["b"], ["b", "d"], ["d"], ["d", "e"]]


def test_a_saved_answer_at_the_limit_comes_back_with_the_other_boxes_disabled(qtbot: QtBot) -> None:
    answer = ChoiceAnswer(item(max_choices=2))
    answer.set_value(["b", "e"])
    shown(qtbot, answer)
    assert [w.isEnabled() for w in answer.buttons] == [False, True, False, False, True]
    assert focused() is answer.buttons[1]  # the focus goes to a box that can take it


def test_fewer_than_the_least_is_still_saved(qtbot: QtBot) -> None:
    answer = ChoiceAnswer(item(min_choices=2))
    emitted = shown(qtbot, answer)
    assert answer.hint.text() == "Choose at least 2"
    click(qtbot, answer, 3)
    assert emitted == [["d"]]
    assert all(w.isEnabled() for w in answer.buttons)


def test_without_counts_there_is_no_hint(qtbot: QtBot) -> None:
    answer = ChoiceAnswer(item())
    shown(qtbot, answer)
    assert not answer.hint.isVisible()
    for n in range(1, 6):
        qtbot.keyClicks(focused(), str(n))
    assert len(ticked(answer)) == 5
