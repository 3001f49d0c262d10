"""Layout checks for whole windows: what a person would see cut off (a clipped label, a squashed field, a window
bigger than the screen), found from Qt's own size hints after the layout has run."""

from __future__ import annotations

from math import ceil

from PySide6.QtCore import QCoreApplication, QEvent, QRect
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QTabBar,
    QWidget,
)

CHECKED = (QLabel, QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox)
"""Widgets whose text is cut when they are smaller than Qt says they need (a table's cells scroll instead)."""


def lay_out(window: QWidget) -> None:
    """Run the layout passes the next paint would (nested layouts take more than one)."""
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QApplication.processEvents()


def _name(widget: QWidget) -> str:
    text = widget.text() if isinstance(widget, QLabel | QAbstractButton | QLineEdit) else ""
    return f"{type(widget).__name__} {widget.accessibleName() or widget.objectName()!r} {text[:60]!r}"


def _inside_scroll_area(widget: QWidget, window: QWidget) -> bool:
    # A scroll area's content is meant to be larger than what shows; its own size is checked instead.
    parent = widget.parentWidget()
    while parent is not None and parent is not window:
        # A spin box's or combo box's own line edit sits inside its frame; the box itself is checked.
        if isinstance(parent, QAbstractScrollArea | QTabBar | QAbstractSpinBox | QComboBox):
            return True
        parent = parent.parentWidget()
    return False


def mnemonic_width(widget: QLabel) -> int:
    """How wide a caption with an Alt+letter ("&Typed") is drawn: the underlined letter is laid out on its own,
    so the kerning with its neighbours (T and y) is lost and the text is wider than QLabel measures it. 0 when
    the label shows no underlined letter."""
    text = widget.text()
    place = text.replace("&&", "\0\0").find("&")
    if widget.buddy() is None or place < 0 or place + 1 >= len(text):
        return 0
    metrics = QFontMetricsF(widget.font())
    pieces = (text[:place], text[place + 1], text[place + 2 :])
    return ceil(sum(metrics.horizontalAdvance(piece.replace("&&", "&")) for piece in pieces))


def clipped(window: QWidget) -> list[str]:
    """Every visible label, button or field in `window` drawn smaller than its text needs, in words.

    A word-wrapped label needs heightForWidth(its width) (the height its lines take at that width) and room for
    its longest word; any other checked widget needs its minimumSizeHint (for a label without wrapping, the whole
    text on one line). Anything reaching outside the window is clipped too."""
    lay_out(window)
    problems: list[str] = []
    bounds = window.rect()
    for widget in window.findChildren(QWidget):
        if not isinstance(widget, CHECKED) or not widget.isVisibleTo(window) or _inside_scroll_area(widget, window):
            continue
        size = widget.size()
        need = widget.minimumSizeHint()
        if isinstance(widget, QLabel) and widget.wordWrap() and widget.text():
            margins = widget.contentsMargins()
            inner = widget.width() - margins.left() - margins.right()
            height = widget.heightForWidth(widget.width())
            if height > size.height():
                problems.append(f"{_name(widget)}: {size.height()} px tall, its lines need {height} px at {inner} px")
            # With a buddy, "&" marks the Alt+letter and is drawn as an underline, not as a character.
            shown = widget.text().replace("&&", "\0").replace("&", "") if widget.buddy() else widget.text()
            longest = max(widget.fontMetrics().horizontalAdvance(word) for word in shown.replace("\0", "&").split())
            if longest > inner:
                problems.append(f"{_name(widget)}: {inner} px wide, a word needs {longest} px")
        elif isinstance(widget, QLabel) and (drawn := mnemonic_width(widget)) > widget.contentsRect().width():
            problems.append(f"{_name(widget)}: {widget.contentsRect().width()} px wide, drawn {drawn} px wide")
        elif size.width() < need.width() or size.height() < need.height():
            problems.append(
                f"{_name(widget)}: {size.width()}x{size.height()} px, needs {need.width()}x{need.height()} px"
            )
        where = QRect(widget.mapTo(window, widget.rect().topLeft()), size)
        if not bounds.contains(where):
            problems.append(f"{_name(widget)}: reaches outside the window ({where} in {bounds})")
    return problems


def outside(window: QWidget, area: QRect) -> str:
    """ "" when the whole window, frame included, lies in `area`; else where it lies, in words."""
    frame = window.frameGeometry()
    return "" if area.contains(frame) else f"the window is at {frame}, the screen's free area is {area}"
