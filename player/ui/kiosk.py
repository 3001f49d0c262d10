"""Kiosk mode on the student's machine (docs/kiosk.md), and the watch on the test window in any mode.

`Kiosk` puts the window in kiosk mode when the config says so (player/ui/window.py: full screen, frameless, on top,
closes refused), opens the staff exit (player/ui/kiosk_exit_dialog.py) from the "Staff" button or the shortcut, and
records in the journal each time the student leaves the test window during a sitting: the active window becomes
another program's (or the desktop, a screen lock: no window of ours) or another window of the player that is not
the test window or one of its dialogs. A departure counts once until the test window is active again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QWidget

from player.offline_queue.journal import JournalError
from player.offline_queue.left_window import MAX_COUNT, Departure, left_window_of

if TYPE_CHECKING:
    from player.offline_queue.journal import Journal
    from player.ui.kiosk_exit_dialog import KioskExitDialog
    from player.ui.tasks import TaskRunner
    from player.ui.window import MainWindow
    from sync.client import InvigilClient
    from sync.kiosk_protocol import ExitAllowed

log = logging.getLogger(__name__)


SETTLE_MS = 300
"""How long the active window must stay elsewhere to count as a departure: longer than a dialog's hand-back."""


def _within(active: QWidget | None, main: QWidget) -> bool:
    """`active` is `main` or a window over it (a dialog whose parent chain leads to it; isAncestorOf stops at a
    window's edge, so it would not say so)."""
    widget = active
    while widget is not None:
        if widget is main:
            return True
        widget = widget.parentWidget()
    return False


class Kiosk(QObject):
    """Built by player/ui/assembly.py for every player: `enabled` (the config's `kiosk`) locks the window; the
    departures are recorded once `watch(journal)` was called, in kiosk mode or not."""

    departed = Signal(int)
    """The student left the test window during a sitting; the sitting's count so far."""

    def __init__(
        self,
        window: MainWindow,
        *,
        enabled: bool,
        machine_id: str,
        connect: Callable[[], InvigilClient],
        tasks: TaskRunner,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._machine_id = machine_id
        self._connect = connect
        self._tasks = tasks
        self._journal: Journal | None = None
        self._attempt_id: str | None = None
        self._away = False
        self._watching = False
        self.dialog: KioskExitDialog | None = None
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._look)
        window.on_close.append(self.stop_watching)  # closing moves the focus away: that is no departure
        if enabled:
            window.kiosk_exit_requested.connect(self.open_exit_dialog)
            window.enter_kiosk()

    # ---- departures from the test window ---------------------------------------------------------------

    def watch(self, journal: Journal) -> None:
        """Record departures into `journal` (on the GUI thread, where it lives) from now on."""
        self._journal = journal
        if not self._watching:
            self._watching = True
            app = QApplication.instance()
            assert isinstance(app, QApplication)
            app.focusChanged.connect(self._focus_changed)

    def stop_watching(self) -> None:
        if self._watching:
            self._watching = False
            self._settle.stop()
            app = QApplication.instance()
            if isinstance(app, QApplication):
                app.focusChanged.disconnect(self._focus_changed)

    def left_window_count(self) -> int:
        """Times the student left the test window in the sitting open here (0 with none), for the heartbeat
        (player/supervision.py). On the GUI thread: it reads the journal, whose connection lives there."""
        journal = self._journal
        if journal is None:
            return 0
        if self._window.sitting_open():
            attempt = journal.open_attempt_on_this_machine()
            self._attempt_id = attempt.attempt_id if attempt is not None else None
        if self._attempt_id is None:
            return 0
        return min(MAX_COUNT, left_window_of(journal).count(self._attempt_id))

    @Slot(QWidget, QWidget)  # a slot of this object: Qt disconnects it when the window (its parent) goes
    def _focus_changed(self, _old: QWidget | None, _new: QWidget | None) -> None:
        # Where the focus went is read from the active window once it has settled (SETTLE_MS after the last change):
        # on its way between windows the focus passes through none at all (a dialog closing leaves no window
        # active until its parent is again), and a widget hidden under it (a screen changing) loses it a moment.
        if not self._watching:
            return
        if _within(QApplication.activeWindow(), self._window):
            self._away = False  # back at once: a quick return and a new departure are two
            self._settle.stop()
            return
        self._settle.start()

    def _look(self) -> None:
        """One departure when the active window is no longer the test window nor one of its dialogs (the close
        question, the exit dialog, a message box): another program (no active window of ours) or another of our
        windows. Counted once until the test window (or its dialog) is active again. Widgets only: a slot on
        QGuiApplication.focusWindowChanged (an earlier version) left the console's idle lock holding a top-level
        QWindow that had gone when the console closed, and PySide crashed reporting it."""
        if not self._watching:
            return
        active = QApplication.activeWindow()
        main = self._window
        if _within(active, main):
            self._away = False
            return
        if self._away:
            return  # still away: from one other window to the next is one departure
        self._away = True
        journal = self._journal
        if journal is None or not main.sitting_open():
            return
        attempt = journal.open_attempt_on_this_machine()
        if attempt is None:
            return
        went_to: Departure = "other_program" if active is None else "other_window"
        try:
            count = left_window_of(journal).record(attempt.attempt_id, went_to)
        except JournalError as exc:
            log.warning("A departure from the test window could not be recorded: %s", exc)
            return
        self._attempt_id = attempt.attempt_id
        log.warning(
            "The student left the test window (%s) in attempt %s: %d time%s in this sitting",
            went_to.replace("_", " "),
            attempt.attempt_id,
            count,
            "" if count == 1 else "s",
        )
        self.departed.emit(count)

    # ---- the staff exit ---------------------------------------------------------------------------------

    def open_exit_dialog(self) -> KioskExitDialog:
        """The exit dialog over the window (non-blocking); the window closes once the server allowed the exit."""
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return self.dialog
        from player.ui.kiosk_exit_dialog import KioskExitDialog

        dialog = KioskExitDialog(self._window, machine_id=self._machine_id, connect=self._connect, tasks=self._tasks)
        dialog.allowed.connect(self._exit)
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _exit(self, reply: ExitAllowed) -> None:
        who = f" ({reply.staff})" if reply.staff else ""
        log.info(
            "Leaving kiosk mode: allowed by %s%s; the sitting resumes when Invigil starts here again", reply.by, who
        )
        self.stop_watching()
        self._window.allow_exit()
        self._window.close()  # saves typing and position first, as any close does
