"""Small builders shared by the student's screens and the staff console, so every label, button and save dialog
is accessible and styled the same way (neither area imports the other's modules for them)."""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Callable
from math import ceil
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QLabel, QLayout, QPushButton, QVBoxLayout, QWidget

from sync.error_catalogue import Problem

if TYPE_CHECKING:
    from PySide6.QtCore import QTimerEvent
    from PySide6.QtGui import QKeyEvent

log = logging.getLogger(__name__)

COLUMN_WIDTH = 720

ChooseSavePath = Callable[[QWidget, str], Path | None]
"""Asks where to save (parent, suggested file name) -> the path, or None when cancelled; tests pass their own (a
file dialog cannot be answered offscreen)."""

SAVE_KINDS: dict[str, tuple[str, str]] = {
    ".txt": ("Save the result code", "Result codes (*.txt)"),
    ".pdf": ("Save as", "PDF files (*.pdf)"),
    ".csv": ("Save as", "CSV files (*.csv)"),
}
"""The save dialog's title and file filter by the suggested name's suffix (anything else is saved as CSV)."""


def label(text: str = "", *, name: str = "", accessible: str = "", wrap: bool = True) -> QLabel:
    widget = QLabel(text)
    widget.setWordWrap(wrap)
    # Named, not Qt.TextFormat.PlainText: the first use of PySide's `Qt` namespace builds all its ~90 enum
    # classes (25-40 ms), and the access-code screen must be painted without waiting for that.
    if not widget.setProperty("textFormat", "PlainText"):
        raise RuntimeError("QLabel has no textFormat property")
    if name:
        widget.setObjectName(name)
    widget.setAccessibleName(accessible or text or name)
    return widget


ENTER_KEYS = (0x01000004, 0x01000005)
"""Qt.Key.Key_Return and Qt.Key.Key_Enter (the keypad's) as numbers: QKeyEvent.key() is an int, and naming them
through PySide's `Qt` namespace would build all its enums on first use (see label)."""
KEYPAD_ONLY = 0x20000000
"""Qt.KeyboardModifier.KeypadModifier: the keypad's Enter carries it, and it is still a plain Enter."""


class Button(QPushButton):
    """A push button that Enter and the keypad's Enter press, as Space does; a click that lands after the button
    has gone from the screen is dropped.

    Qt presses a focused button with Enter only in a dialog (autoDefault), and a mnemonic (Alt+letter) clicks
    100 ms after the key (animateClick). Two mnemonics in quick succession (Alt+B, then Alt+E on the review screen)
    left the second click to land on a screen already hidden: it ran that screen's code and moved the focus to a
    hidden button, where every later key was lost."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in ENTER_KEYS and int(event.modifiers().value) & ~KEYPAD_ONLY == 0:
            event.accept()
            if not event.isAutoRepeat():  # a held Enter presses once, not once per repeat
                self.click()
            return
        super().keyPressEvent(event)

    def timerEvent(self, event: QTimerEvent) -> None:
        # The only timers a push button runs are its delayed click (animateClick) and auto-repeat (never on here).
        if self.isVisible() and self.isEnabled():
            super().timerEvent(event)
            return
        log.info("A click on %r arrived after its screen had gone; dropped", self.accessibleName())
        blocked = self.blockSignals(True)
        try:
            super().timerEvent(event)  # Qt stops its timer and lets the button up; the click's signals go nowhere
        finally:
            self.blockSignals(blocked)


def caption(text: str, buddy: QWidget) -> QLabel:
    """A form's caption for `buddy`, with "&" before its Alt+letter ("&Typed dictation" -> Alt+T).

    Qt draws the underlined letter on its own, losing the kerning with its neighbours, so a caption is drawn a
    few pixels wider than QLabel measures it, and the last letter of "Typed dictation" was cut off; this one is
    given the width it is drawn at (measured in its styled font, so build it after the app's style is set)."""
    widget = label(text, accessible=text.replace("&", ""), wrap=False)
    widget.setBuddy(buddy)
    widget.ensurePolished()
    place = text.replace("&&", "\0\0").find("&")
    if 0 <= place < len(text) - 1:
        metrics = QFontMetricsF(widget.font())
        pieces = (text[:place], text[place + 1], text[place + 2 :])
        margins = widget.contentsMargins()
        drawn = ceil(sum(metrics.horizontalAdvance(piece.replace("&&", "&")) for piece in pieces))
        widget.setMinimumWidth(drawn + margins.left() + margins.right() + 2 * widget.margin())
    return widget


def button(text: str, *, accessible: str = "", primary: bool = False, parent: QWidget | None = None) -> QPushButton:
    # Without a parent, Button(text, None) would make PySide weigh the QIcon overload too, loading QIcon and
    # its enums (~3 ms) before the first paint.
    widget = Button(text) if parent is None else Button(text, parent)
    # "&" marks a mnemonic (Alt+letter) and must not be read out.
    widget.setAccessibleName(accessible or text.replace("&", ""))
    widget.setAutoDefault(False)
    if primary:
        widget.setObjectName("primary")
    return widget


def set_message(widget: QLabel, text: str | Problem) -> None:
    """Show (or hide, when empty) a message, keeping its accessible name in step so screen readers read it.

    A Problem (an error, numbered in the error catalogue) shows its number too: small and grey under the message,
    selectable, for a support call to quote (docs/errors.md)."""
    problem = text if isinstance(text, Problem) else None
    shown = problem.text if problem is not None else str(text)
    number = problem.number if problem is not None and shown else None
    widget.setText(shown)
    widget.setAccessibleName((f"{shown} (error {number})" if number else shown) or "No message")
    widget.setVisible(bool(shown))
    _show_number(widget, number)


def message_number(widget: QLabel) -> str:
    """The error number shown with `widget`'s message ("" when none is): as a person reads it off the screen."""
    number_label = _NUMBER_LABELS.get(widget)
    if number_label is not None:
        return number_label.text().removeprefix("Error ") if not number_label.isHidden() else ""
    found = re.search(r" \((INV-\d{4})\)$", widget.text())
    return found[1] if found else ""


_NUMBER_LABELS: weakref.WeakKeyDictionary[QLabel, QLabel] = weakref.WeakKeyDictionary()
"""Each message label's number label, made the first time it shows a number (none before: start-up stays quick)."""


def _show_number(widget: QLabel, number: str | None) -> None:
    number_label = _NUMBER_LABELS.get(widget)
    if number_label is None and number:
        number_label = _number_label_under(widget)
        if number_label is None:
            # No box layout to put it in: the number goes after the message itself, in brackets.
            widget.setText(f"{widget.text()} ({number})")
            return
        _NUMBER_LABELS[widget] = number_label
    if number_label is None:
        return
    number_label.setText(f"Error {number}" if number else "")
    number_label.setAccessibleName(f"Error number {number}" if number else "No error number")
    number_label.setVisible(bool(number))


def _number_label_under(widget: QLabel) -> QLabel | None:
    """A small grey label right after `widget` in its (box) layout; None when it is in none."""
    parent = widget.parentWidget()
    layout = parent.layout() if parent is not None else None
    place = _place_in(layout, widget) if layout is not None else None
    if place is None:
        return None
    from PySide6.QtCore import Qt  # only once an error is shown: never before the first paint

    number_label = label(name="problemNumber", wrap=False)
    number_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box, index = place
    box.insertWidget(index + 1, number_label)
    return number_label


def _place_in(layout: QLayout, widget: QWidget) -> tuple[QBoxLayout, int] | None:
    for index in range(layout.count()):
        item = layout.itemAt(index)
        if item is None:
            continue
        if item.widget() is widget:
            return (layout, index) if isinstance(layout, QBoxLayout) else None
        inner = item.layout()
        if inner is not None and (found := _place_in(inner, widget)) is not None:
            return found
    return None


def show_outcome(*, message: QLabel, error: QLabel, text: str | Problem, failed: bool) -> None:
    """Show a view's latest outcome in its plain or its error label, clearing the other."""
    set_message(message, "" if failed else text)
    set_message(error, text if failed else "")


def centred_column(screen: QWidget, *, max_width: int = COLUMN_WIDTH) -> QVBoxLayout:
    """The layout for a simple screen: one column in the middle, so lines and buttons stay a readable length
    on a wide monitor. Returns the column's layout for the screen to fill."""
    panel = QWidget(screen)
    panel.setMaximumWidth(max_width)
    outer = QHBoxLayout(screen)
    outer.addStretch(1)
    outer.addWidget(panel, 100)
    outer.addStretch(1)
    return QVBoxLayout(panel)


def ask_save_path(parent: QWidget, suggested: str) -> Path | None:
    """The system's save dialog, offering `suggested`; None when cancelled."""
    # Imported here: the access-code screen is built from this module before the first paint, which must not wait
    # for the file dialog's classes.
    from PySide6.QtWidgets import QFileDialog

    title, kind = SAVE_KINDS.get(Path(suggested).suffix, SAVE_KINDS[".csv"])
    name, _ = QFileDialog.getSaveFileName(parent, title, suggested, kind)
    return Path(name) if name else None
