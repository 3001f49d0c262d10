"""The console's shared records (who is signed in, one sitting's context) and the list of sittings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from player.ui.console.dates import local_time
from player.ui.console.problems import problem_of
from player.ui.tasks import TaskRunner
from player.ui.widgets import button, label, set_message
from sync import staff_protocol as sp
from sync.client import InvigilClient

log = logging.getLogger(__name__)

T = TypeVar("T")

ClientFactory = Callable[[], InvigilClient]
"""Makes a fresh client; each background task makes its own (a client's session is not thread-safe)."""
WallClock = Callable[[], datetime]


@dataclass(frozen=True)
class StaffSession:
    server_url: str
    username: str
    token: str
    display_name: str
    role: str = ""
    """admin, teacher or invigilator; "" when not known (a session taken back from the keyring after a crash)."""


@dataclass(frozen=True)
class SittingContext:
    """What a tab of an open sitting gets (see ConsoleWindow.add_sitting_tab).

    - `client_factory()`: a new InvigilClient; make one inside each background task and close it there.
    - `token`: the staff token for every staff call.
    - `sitting_id`, `sitting_name`: the open sitting.
    - `tasks`: the TaskRunner; all network work goes through `tasks.run(work, on_done=..., on_error=...)`.
    - `clock()`: the wall clock (aware datetime); tests inject a fixed one.
    """

    client_factory: ClientFactory
    token: str
    sitting_id: str
    sitting_name: str
    tasks: TaskRunner
    clock: WallClock


def guarded(owner: QObject, callback: Callable[[T], None]) -> Callable[[T], None]:
    """`callback`, skipped if `owner` was deleted meanwhile (the console locked while a request was out)."""

    def call(value: T) -> None:
        if shiboken6.isValid(owner):
            callback(value)

    return call


def order_sittings(sittings: list[sp.SittingOut], *, today: date) -> list[sp.SittingOut]:
    """Today's sittings first (earliest start first), then the rest, newest first."""

    def runs_today(s: sp.SittingOut) -> bool:
        return s.window_start.astimezone().date() <= today <= s.window_end.astimezone().date()

    todays = sorted((s for s in sittings if runs_today(s)), key=lambda s: s.window_start)
    others = sorted((s for s in sittings if not runs_today(s)), key=lambda s: s.window_start, reverse=True)
    return todays + others


def describe_sitting(sitting: sp.SittingOut, *, today: date) -> str:
    start = sitting.window_start.astimezone()
    end = sitting.window_end.astimezone()
    when = f"today {start:%H:%M}–{end:%H:%M}" if start.date() <= today <= end.date() else local_time(start)
    closed = " (closed)" if sitting.closed_at is not None else ""
    students = len(sitting.allocations)
    return f"{sitting.name}{closed} — {sitting.assessment_title}, {when}, {students} students"


class _SittingList(QListWidget):
    activated_by_key = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.activated_by_key.emit()
            return
        super().keyPressEvent(event)


class SittingsView(QWidget):
    """The sittings this school has; Enter or "Open" opens one (emits `opened(sitting_id, sitting_name)`)."""

    opened = Signal(str, str)

    def __init__(
        self, *, session: StaffSession, client_factory: ClientFactory, tasks: TaskRunner, clock: WallClock
    ) -> None:
        super().__init__()
        self._session = session
        self._client_factory = client_factory
        self._tasks = tasks
        self._clock = clock
        self._loading = False
        self.heading = label("Sittings", name="subtitle")
        self.list = _SittingList()
        self.list.setAccessibleName("Sittings, today's first")
        self.message = label(name="error", accessible="No message")
        self.message.hide()
        # Alt+P: Alt+O is the header's "Sign out".
        self.open_button = button("O&pen sitting", accessible="Open sitting", primary=True)
        self.reload_button = button("&Reload list")
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.reload_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        for widget in (self.heading, self.list, self.message):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self.open_button.clicked.connect(self.open_selected)
        self.reload_button.clicked.connect(self.reload)
        self.list.itemActivated.connect(lambda _item: self.open_selected())
        self.list.activated_by_key.connect(self.open_selected)

    def reload(self) -> None:
        if self._loading:
            return
        self._loading = True
        set_message(self.message, "")
        token = self._session.token
        factory = self._client_factory

        def work() -> list[sp.SittingOut]:
            with factory() as client:
                return client.sittings(token)

        self._tasks.run(work, on_done=guarded(self, self._show), on_error=guarded(self, self._failed))

    def _show(self, sittings: list[sp.SittingOut]) -> None:
        self._loading = False
        today = self._clock().astimezone().date()
        self.list.clear()
        for sitting in order_sittings(sittings, today=today):
            item = QListWidgetItem(describe_sitting(sitting, today=today))
            item.setData(Qt.ItemDataRole.UserRole, (sitting.id, sitting.name))
            self.list.addItem(item)
        if sittings:
            self.list.setCurrentRow(0)
        else:
            set_message(self.message, "This school has no sittings yet. An admin creates them on the server.")

    def _failed(self, exc: Exception) -> None:
        self._loading = False
        set_message(
            self.message, problem_of(exc).framed("Could not load the sittings: ", " Choose Reload list to try again.")
        )

    def open_selected(self) -> None:
        item = self.list.currentItem()
        if item is None:
            set_message(self.message, "Choose a sitting in the list first (arrow keys), then Open.")
            return
        sitting_id, name = item.data(Qt.ItemDataRole.UserRole)
        self.opened.emit(sitting_id, name)
