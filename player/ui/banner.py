"""The warning line under the header ("5 minutes left in this section."): each message leaves once its moment has
passed, so a student never reads a warning that has stopped being true."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from player.clock import Clock
    from player.ui.window import MainWindow

BANNER_SECONDS = 30.0
"""How long a message stays: long enough to be read (and read out), short enough that "5 minutes left" is gone
well before 4 minutes are left."""


class TimedBanner:
    """Shows `window`'s banner and takes it down `lasts` seconds later on `clock` (the section clock's monotonic
    time, so a test moves it by hand), or at the first tick() once its `still_true` says it no longer holds (the
    warning "5 minutes left" after the invigilator added time)."""

    def __init__(self, window: MainWindow, clock: Clock, *, lasts: float = BANNER_SECONDS) -> None:
        self._window = window
        self._clock = clock
        self._lasts = lasts
        self._text = ""
        self._shown_at = 0.0
        self._still_true: Callable[[], bool] | None = None

    def show(self, text: str, *, still_true: Callable[[], bool] | None = None) -> None:
        self._text, self._shown_at, self._still_true = text, self._clock.monotonic(), still_true
        self._window.show_banner(text)

    def tick(self) -> None:
        """Called with the section clock's tick: take the message down once its moment has passed."""
        if not self._text:
            return
        if self._window.banner.text() != self._text:
            self._text, self._still_true = "", None  # replaced or cleared (a section ended): not ours any more
            return
        expired = self._clock.monotonic() - self._shown_at >= self._lasts
        if expired or (self._still_true is not None and not self._still_true()):
            self.clear()

    def clear(self) -> None:
        self._text, self._still_true = "", None
        self._window.show_banner("")
