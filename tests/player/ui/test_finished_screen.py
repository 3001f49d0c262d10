"""The finished screen's result-code controls: on show only while there are codes to show."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from player.ui.screens.finished import FinishedScreen, ResultCodeText


def code(n: int) -> ResultCodeText:
    return ResultCodeText(label=f"Section {n} of 2", code=f"CODE-{n}", file_name=f"result-code-section-{n}.txt")


def code_controls(screen: FinishedScreen) -> dict[str, bool]:
    return {
        "hint": screen.code_hint.isVisible(),
        "code": screen.code_view.isVisible(),
        "copy": screen.copy_button.isVisible(),
        "save": screen.save_button.isVisible(),
        "choice": screen.code_choice.isVisible(),
    }


def test_no_empty_code_box_or_buttons_before_there_are_codes(qtbot: QtBot) -> None:
    screen = FinishedScreen()
    qtbot.addWidget(screen)
    screen.show()
    qtbot.waitExposed(screen)
    nothing = dict.fromkeys(["hint", "code", "copy", "save", "choice"], False)
    assert code_controls(screen) == nothing, "a student waiting for the upload sees no empty code box"

    screen.set_codes([code(1), code(2)])
    assert code_controls(screen) == dict.fromkeys(nothing, True)
    assert screen.code_view.toPlainText() == "CODE-1"

    screen.set_codes([code(2)])
    assert code_controls(screen) == {**dict.fromkeys(nothing, True), "choice": False}, "one code: nothing to choose"
    assert screen.code_view.toPlainText() == "CODE-2"

    screen.set_delivery_state(sent=True)
    assert code_controls(screen) == nothing, "once sent, the codes go"
    assert screen.delivery.text() == "All your answers have been sent."
