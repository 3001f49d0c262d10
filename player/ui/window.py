"""The main window: a header with the time left and warnings, over a stack of screens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QResizeEvent
from PySide6.QtWidgets import QApplication, QHBoxLayout, QMainWindow, QStackedWidget, QVBoxLayout, QWidget

from player.ui.screens.access_code import AccessCodeScreen
from player.ui.widgets import button, centred_column, label, set_message

if TYPE_CHECKING:
    from player.audio.interface import OutputDevices
    from player.audio.qt import QtAudioPlayer
    from player.ui.screens.confirm import ConfirmScreen
    from player.ui.screens.finished import FinishedScreen
    from player.ui.screens.instructions import InstructionsScreen
    from player.ui.screens.item import ItemScreen
    from player.ui.screens.review import ReviewScreen
    from player.ui.screens.sound_check import SoundCheckScreen

log = logging.getLogger(__name__)

PAUSED_TITLE = "Paused by your invigilator"
PAUSED_HINT = "Your time has stopped. Please wait: your test will carry on when your invigilator says so."


class PausedOverlay(QWidget):
    """Covers the whole window while the invigilator has paused the sitting; it alone takes the keyboard."""

    def __init__(self, parent: QWidget) -> None:
        # Made after the first paint: the first use of `Qt` builds PySide's whole enum namespace (see common.label).
        from PySide6.QtCore import Qt

        super().__init__(parent)
        self.setObjectName("pausedOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setAccessibleName(PAUSED_TITLE)
        self.setAccessibleDescription(PAUSED_HINT)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.title = label(PAUSED_TITLE, name="title")
        self.hint = label(PAUSED_HINT, name="subtitle")
        layout = centred_column(self)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.hint)
        layout.addStretch(2)
        self.hide()


CLOSE_QUESTION = (
    "Your test is still open. Your answers are safe: every answer shown as Saved is stored on this computer. "
    "If you close Invigil, open it again on this computer to carry on where you stopped. Close Invigil now?"
)

ConfirmClose = Callable[[QWidget, str], bool]
"""Asks before the window closes during a sitting (parent, question) -> True to close; tests pass their own (a
message box cannot be answered offscreen)."""


def ask_before_closing(parent: QWidget, question: str) -> bool:
    """A message box: "Keep working" (the default, and Esc) or "Close Invigil"."""
    # Imported here: the window is built before the first paint, which must not wait for the message box's classes.
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Close Invigil?")
    box.setText(question)
    keep = box.addButton("Keep working", QMessageBox.ButtonRole.RejectRole)
    close = box.addButton("Close Invigil", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.exec()
    return box.clickedButton() is close


KIOSK_EXIT_SHORTCUT = "Ctrl+Alt+Shift+E"
"""Opens the staff exit in kiosk mode, as the small "Staff" button does (docs/kiosk.md)."""
KIOSK_STAFF_BUTTON = "Staff"


def format_remaining(seconds: float) -> str:
    whole = max(0, int(seconds + 0.999))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class FirstPaint(QObject):
    """Calls `then` once, on the next turn of the event loop after `widget` is first painted (so after the
    window reached the screen), or after `fallback_ms` if it is never painted (started minimised)."""

    def __init__(self, widget: QWidget, then: Callable[[], None], *, fallback_ms: int) -> None:
        super().__init__(widget)
        self._widget = widget
        self._then: Callable[[], None] | None = then
        widget.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self, self._fire)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._widget and event.type() == QEvent.Type.Paint and self._then is not None:
            QTimer.singleShot(0, self, self._fire)
        return False

    def _fire(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            self._widget.removeEventFilter(self)
            then()


class MainWindow(QMainWindow):
    """Holds the screens; the controller decides which one shows. Closing asks the controller to save first, and
    a close from the window system (Alt+F4, the X) while a sitting is open (`sitting_open`, the controller's) asks
    the student first (`confirm_close`). In kiosk mode (`enter_kiosk`) it fills the screen, frameless and on top,
    and refuses every close from the window system until staff let it exit (`allow_exit`, player/ui/kiosk.py).

    Built in two steps so the access-code screen can be on screen quickly: the constructor makes the frame and
    that screen; `add_sitting_screens` makes the rest (which need the audio stack) and the pause overlay. Given
    the audio parts, the constructor does both. Nothing before the first paint may touch PySide's `Qt`
    namespace (see common.label)."""

    confirm: ConfirmScreen
    instructions: InstructionsScreen
    sound_check: SoundCheckScreen
    item: ItemScreen
    review: ReviewScreen
    finished: FinishedScreen
    paused_overlay: PausedOverlay
    """Made with the sitting screens: only a sitting can be paused."""
    kiosk_exit_requested = Signal()
    """Kiosk mode: the "Staff" button or KIOSK_EXIT_SHORTCUT (player/ui/kiosk.py opens the exit dialog)."""

    def __init__(
        self,
        *,
        player: QtAudioPlayer | None = None,
        devices: OutputDevices | None = None,
        soundcheck_clip: Path | None = None,
        confirm_close: ConfirmClose = ask_before_closing,
    ) -> None:
        super().__init__()
        self.confirm_close = confirm_close
        self.sitting_open: Callable[[], bool] = lambda: False
        """Whether a student's test is open here (the controller sets it): closing then asks first."""

        self.setWindowTitle("Invigil")
        self.setAccessibleName("Invigil test player")
        self.title = label(name="subtitle", accessible="Test")
        self.timer = label(name="timer", accessible="Time left")
        self.banner = label(name="banner")
        header = QWidget()
        header_row = QHBoxLayout(header)
        header_row.addWidget(self.title, 1)
        header_row.addWidget(self.timer)
        self.header = header

        self.stack = QStackedWidget()
        self.access_code = AccessCodeScreen()
        self.stack.addWidget(self.access_code)
        self._has_sitting_screens = False

        central = QWidget()
        column = QVBoxLayout(central)
        column.addWidget(header)
        column.addWidget(self.banner)
        column.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._central = central
        self._column = column
        self._kiosk = False
        self._exit_allowed = False
        self.refused_closes = 0
        """Closes from the window system refused in kiosk mode (Alt+F4): counted for the log and the tests."""
        self.show_header(None)
        set_message(self.banner, "")
        self._focus_before_pause: QWidget | None = None
        self.resize(1024, 720)
        self.on_close: list[Callable[[], None]] = []
        # The student can type the code as soon as the window appears.
        self.access_code.code_edit.setFocus()
        if player is not None and devices is not None and soundcheck_clip is not None:
            self.add_sitting_screens(player=player, devices=devices, soundcheck_clip=soundcheck_clip)
        elif player is not None or devices is not None or soundcheck_clip is not None:
            raise ValueError("MainWindow needs player, devices and soundcheck_clip together, or none of them")

    def add_sitting_screens(self, *, player: QtAudioPlayer, devices: OutputDevices, soundcheck_clip: Path) -> None:
        """Every screen after the access code. Imported here: with the audio stack and the wire types they
        cost several hundred milliseconds, which the first paint does not wait for."""
        if self._has_sitting_screens:
            raise RuntimeError("the sitting screens are already in this window")
        from player.ui.focus import FocusKeeper
        from player.ui.screens.confirm import ConfirmScreen
        from player.ui.screens.finished import FinishedScreen
        from player.ui.screens.instructions import InstructionsScreen
        from player.ui.screens.item import ItemScreen
        from player.ui.screens.review import ReviewScreen
        from player.ui.screens.sound_check import SoundCheckScreen

        self.confirm = ConfirmScreen()
        self.instructions = InstructionsScreen()
        self.sound_check = SoundCheckScreen(devices=devices, player=player, clip=soundcheck_clip)
        self.item = ItemScreen(player)
        self.review = ReviewScreen()
        self.finished = FinishedScreen()
        for screen in (self.confirm, self.instructions, self.sound_check, self.item, self.review, self.finished):
            self.stack.addWidget(screen)
        self.paused_overlay = PausedOverlay(self)
        self.paused_overlay.setGeometry(self.rect())
        self.focus_keeper = FocusKeeper(self, showing=self._showing)
        self._has_sitting_screens = True

    @property
    def has_sitting_screens(self) -> bool:
        return self._has_sitting_screens

    def after_first_paint(self, then: Callable[[], None], *, fallback_ms: int = 2000) -> None:
        """Run `then` once the access-code screen has been painted: the rest of start-up waits for that."""
        FirstPaint(self.access_code, then, fallback_ms=fallback_ms)

    def show_screen(self, screen: QWidget) -> None:
        self.stack.setCurrentWidget(screen)

    def current_screen(self) -> QWidget | None:
        return self.stack.currentWidget()

    def show_header(self, title: str | None) -> None:
        """Title and clock while a section runs; None hides them (and any warning)."""
        self.header.setVisible(title is not None)
        self.title.setText(title or "")
        self.title.setAccessibleName(f"Test: {title}" if title else "Test")
        if title is None:
            set_message(self.banner, "")

    def set_remaining(self, seconds: float) -> None:
        text = format_remaining(seconds)
        self.timer.setText(f"Time left {text}")
        self.timer.setAccessibleName(f"Time left in this section: {text}")

    def show_banner(self, text: str) -> None:
        set_message(self.banner, text)

    def set_paused(self, paused: bool) -> None:
        """Show or hide "Paused by your invigilator" over everything. The screens underneath are disabled, so no
        key or click reaches the item while the clock is stopped; the focus comes back where it was."""
        if paused == self.is_paused() or not self._has_sitting_screens:
            return
        central = self._central
        if paused:
            self._focus_before_pause = QApplication.focusWidget()
            self.paused_overlay.setGeometry(self.rect())
            central.setEnabled(False)
            self.paused_overlay.show()
            self.paused_overlay.raise_()
            self.paused_overlay.setFocus()
            return
        self.paused_overlay.hide()
        central.setEnabled(True)
        previous, self._focus_before_pause = self._focus_before_pause, None
        if previous is not None and previous.isVisible():
            previous.setFocus()

    def _showing(self) -> QWidget | None:
        """What the student sees now, for the focus: the pause overlay over everything, else the current screen."""
        return self.paused_overlay if self.is_paused() else self.current_screen()

    def is_paused(self) -> bool:
        return self._has_sitting_screens and not self.paused_overlay.isHidden()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._has_sitting_screens:
            self.paused_overlay.setGeometry(self.rect())

    # ---- kiosk mode ---------------------------------------------------------------------------------

    @property
    def kiosk(self) -> bool:
        return self._kiosk

    def enter_kiosk(self) -> None:
        """Full screen, no frame, above other windows; closing refused until `allow_exit`; a small "Staff" button
        and KIOSK_EXIT_SHORTCUT for the staff exit. Called once the config is read (after the first paint)."""
        if self._kiosk:
            return
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QKeySequence, QShortcut

        self._kiosk = True
        self.staff_button = button(KIOSK_STAFF_BUTTON, accessible="Staff: let this computer leave kiosk mode")
        self.staff_button.setObjectName("link")  # discreet: a student has no use for it
        self.staff_button.setToolTip(f"For staff: leave kiosk mode ({KIOSK_EXIT_SHORTCUT})")
        self.staff_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # never in a student's Tab order
        self.staff_button.clicked.connect(self.kiosk_exit_requested.emit)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.staff_button)
        self._column.addLayout(row)
        self.exit_shortcut = QShortcut(QKeySequence(KIOSK_EXIT_SHORTCUT), self)
        self.exit_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.exit_shortcut.activated.connect(self.kiosk_exit_requested.emit)
        # Setting the flags of a shown window hides it; showFullScreen shows it again, with them.
        flags = Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        self.setWindowFlags(self.windowFlags() | flags)
        self.showFullScreen()
        self.activateWindow()
        log.info("Kiosk mode: full screen, frameless, on top; exit through staff only")

    def allow_exit(self) -> None:
        """Staff let this computer leave kiosk mode (checked by the server): a close is no longer refused."""
        self._exit_allowed = True

    def closeEvent(self, event: QCloseEvent) -> None:
        # Kiosk mode: the window system's close (Alt+F4, a task switcher's close) is refused outright, sitting or
        # not; staff let the machine exit through the server (player/ui/kiosk.py), which allows the close.
        if event.spontaneous() and self._kiosk and not self._exit_allowed:
            self.refused_closes += 1
            log.info("Kiosk mode: a close from the window system was refused (%d so far)", self.refused_closes)
            event.ignore()
            return
        # Alt+F4 or the window's X in the middle of a test: nothing is lost by closing (every answer shown as
        # Saved is on disk, and the sitting resumes here), but a student should not end up there by a slip. Only
        # a close from the window system (spontaneous) asks: one the program makes itself (Ctrl+C in a terminal,
        # a test's teardown) has no student at the window to answer. Staff who let a kiosk exit are not asked.
        if event.spontaneous() and self.sitting_open() and not self._exit_allowed:
            if not self.confirm_close(self, CLOSE_QUESTION):
                log.info("Closing asked for during a sitting; the student chose to keep working")
                event.ignore()
                return
            log.info("Closed during a sitting at the student's choice; it resumes when Invigil starts here again")
        for callback in self.on_close:
            callback()
        super().closeEvent(event)
