"""Keeps the keyboard focus on a control the student can see: focus given to a hidden widget (a screen that has
gone, a button hidden a moment ago) is moved back to the current screen."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication, QWidget

log = logging.getLogger(__name__)


def first_control(screen: QWidget) -> QWidget | None:
    """Where the focus goes on `screen` when it has nowhere better: the child it last gave the focus to if that is
    still visible and enabled, else the first visible, enabled control in its Tab order."""
    from PySide6.QtCore import Qt  # after the first paint (see widgets.label)

    def usable(widget: QWidget) -> bool:
        return widget.isVisible() and widget.isEnabled() and bool(widget.focusPolicy() & Qt.FocusPolicy.TabFocus)

    remembered = screen.focusWidget()
    if remembered is not None and screen.isAncestorOf(remembered) and usable(remembered):
        return remembered
    widget = screen.nextInFocusChain()
    while widget is not screen and widget is not None:
        if screen.isAncestorOf(widget) and usable(widget):
            return widget
        widget = widget.nextInFocusChain()
    return None


class FocusKeeper(QObject):
    """Watches where the focus goes in `window`. When it lands on a widget that is not visible - where no key
    reaches anything the student sees, and the screen's shortcuts (Alt+N, Alt+P, ...) stop working - it is moved,
    on the next turn of the event loop, to `showing()`, what the window shows now (its current screen, or the
    pause overlay), on that widget's first_control.

    Deferred, because a screen may focus its widget a moment before it is shown (the item screen builds an item,
    then the window shows it): only focus still hidden once the event is done is moved."""

    def __init__(self, window: QWidget, *, showing: Callable[[], QWidget | None]) -> None:
        super().__init__(window)
        self._window = window
        self._showing = showing
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.focusChanged.connect(self._on_focus_changed)

    @Slot(QWidget, QWidget)  # a slot of this object: Qt disconnects it when the window goes
    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if new is not None and new.window() is self._window and not new.isVisible():
            QTimer.singleShot(0, self, self.settle)

    def settle(self) -> None:
        """Move the focus to the current screen if it is still on a widget the student cannot see."""
        window = self._window
        focused = QApplication.focusWidget()
        if focused is None or focused.window() is not window or focused.isVisible():
            return
        from PySide6.QtCore import Qt

        shown = self._showing()
        if shown is None:
            target = None
        elif shown.focusPolicy() != Qt.FocusPolicy.NoFocus:
            target = shown  # the pause overlay takes the keyboard itself
        else:
            target = first_control(shown)
        log.info(
            "The focus was on a hidden widget (%r); moved to %r",
            focused.accessibleName(),
            target.accessibleName() if target is not None else None,
        )
        if target is not None:
            target.setFocus()
