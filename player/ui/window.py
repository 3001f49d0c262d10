"""The main window: a header with the time left and warnings, over a stack of screens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QMainWindow, QStackedWidget, QVBoxLayout, QWidget

from player.audio.player import OutputDevices
from player.audio.qt import QtAudioPlayer
from player.ui.screens.access_code import AccessCodeScreen
from player.ui.screens.common import label, set_message
from player.ui.screens.confirm import ConfirmScreen
from player.ui.screens.finished import FinishedScreen
from player.ui.screens.instructions import InstructionsScreen
from player.ui.screens.item import ItemScreen
from player.ui.screens.review import ReviewScreen
from player.ui.screens.sound_check import SoundCheckScreen


def format_remaining(seconds: float) -> str:
    whole = max(0, int(seconds + 0.999))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class MainWindow(QMainWindow):
    """Holds the screens; the controller decides which one shows. Closing asks the controller to save first."""

    def __init__(self, *, player: QtAudioPlayer, devices: OutputDevices, soundcheck_clip: Path) -> None:
        super().__init__()
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
        self.confirm = ConfirmScreen()
        self.instructions = InstructionsScreen()
        self.sound_check = SoundCheckScreen(devices=devices, player=player, clip=soundcheck_clip)
        self.item = ItemScreen(player)
        self.review = ReviewScreen()
        self.finished = FinishedScreen()
        for screen in (
            self.access_code,
            self.confirm,
            self.instructions,
            self.sound_check,
            self.item,
            self.review,
            self.finished,
        ):
            self.stack.addWidget(screen)

        central = QWidget()
        column = QVBoxLayout(central)
        column.addWidget(header)
        column.addWidget(self.banner)
        column.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.show_header(None)
        set_message(self.banner, "")
        self.resize(1024, 720)
        self.on_close: list[Callable[[], None]] = []

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

    def closeEvent(self, event: QCloseEvent) -> None:
        for callback in self.on_close:
            callback()
        super().closeEvent(event)
