"""The staff console as open_console opens it in the app, the stand-ins for its dialogs, student computers driven
through sync.client, and the steps an invigilator takes in its views."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlite_utils
from PySide6.QtCore import QRect
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QApplication, QTableWidget, QWidget
from pytestqt.qtbot import QtBot

from player.credentials import InMemoryBackend, TokenStore
from player.offline_queue.db import journal_path, open_database
from player.offline_queue.journal import Journal
from player.ui.console import (
    ConsoleSettings,
    ConsoleWindow,
    LocalResults,
    SittingPage,
    open_console,
)
from player.ui.console.qr_camera import Camera, ListCameras
from player.ui.console.qr_reader import ChooseImage
from player.ui.console.window import free_screen_area
from player.ui.paper import ConfirmPrint
from player.ui.tasks import TaskRunner
from player.unsent_results import UnsentResult, unsent_results
from sync.client import InvigilClient, client_for
from sync.protocol import AnswerRecord, AnswerValue, Heartbeat, LoginResponse, ResultEnvelope
from tests.helpers.clock import START, FakeClock
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS

CONSOLE_MACHINE = "staff-room-pc"
"""The staff console's computer, as its client names it (app.py gives the console the player's machine id)."""


@dataclass
class Console:
    """A console opened over a stand-in for the player window, as open_console does it in the app."""

    qtbot: QtBot
    host: QWidget
    tasks: TaskRunner
    backend: InMemoryBackend
    tokens: TokenStore
    idle_clock: FakeClock
    server_url: str
    window: ConsoleWindow
    username: str
    password: str

    def sign_in(self, password: str | None = None) -> None:
        self.window.signin.username_edit.setText(self.username)
        self.window.signin.password_edit.setText(self.password if password is None else password)
        self.window.signin.sign_in_button.click()

    def sign_in_and_open_sitting(self, sitting_name: str = "Demo sitting") -> SittingPage:
        self.sign_in()
        self.qtbot.waitUntil(lambda: self.sittings_shown() > 0, timeout=TIMEOUT_MS)
        view = self.window.sittings
        assert view is not None
        for row in range(view.list.count()):
            item = view.list.item(row)
            if item.text().startswith(sitting_name):
                view.list.setCurrentRow(row)
        view.open_button.click()
        page = self.window.sitting_page
        assert page is not None
        return page

    def sittings_shown(self) -> int:
        view = self.window.sittings
        return view.list.count() if view is not None else 0


@dataclass
class SavePaths:
    """Stands in for the save dialog (which cannot be answered offscreen): hands out the paths the test
    queued, and records the file names the console suggested."""

    queued: list[Path] = field(default_factory=list)
    suggested: list[str] = field(default_factory=list)

    def __call__(self, parent: QWidget, suggested: str) -> Path | None:
        self.suggested.append(suggested)
        if not self.queued:
            raise AssertionError(f"the console asked where to save {suggested!r}, but the test queued no path")
        return self.queued.pop(0)


def no_open_dialog(parent: QWidget) -> Path | None:
    raise AssertionError("the console opened a file dialog the test did not expect")


def no_cameras() -> list[Camera]:
    """The cameras of a test machine: none (a test that reads from a camera gives its own recorded one)."""
    return []


def no_print_dialog(printer: QPrinter, parent: QWidget) -> bool:
    raise AssertionError("the console opened a print dialog the test did not expect")


@dataclass
class PrintToFile:
    """What the print dialog does with "Print to file": the slips go through the same QPrinter, into a PDF."""

    path: Path
    shown: int = 0

    def __call__(self, printer: QPrinter, parent: QWidget) -> bool:
        self.shown += 1
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(self.path))
        return True


@dataclass
class StudentJournal:
    """A student computer's real journal file, holding a finished attempt whose results never left it."""

    journal: Journal
    db: sqlite_utils.Database
    login: LoginResponse
    envelope: ResultEnvelope

    def results(self) -> list[UnsentResult]:
        return unsent_results(self.journal)


def finished_offline(data_dir: Path, login: LoginResponse, *, server_url: str) -> StudentJournal:
    """The journal of a computer where `login`'s student finished every section but nothing was sent."""
    db = open_database(journal_path(data_dir))
    journal = Journal(db, now=lambda: START + timedelta(minutes=25))
    journal.start_attempt(login, server_url=server_url)
    envelope = ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=login.attempt_id,
        section_ids=["mc", "short", "dictation"],
        answers=[
            AnswerRecord(item_id="mc-circles", value="b", answered_at=START + timedelta(minutes=3)),
            AnswerRecord(item_id="short-plural", value="children", answered_at=START + timedelta(minutes=9)),
        ],
        finished_at=START + timedelta(minutes=25),
        final=True,
    )
    journal.finish_section(login.attempt_id, "dictation", envelope=envelope.model_dump(mode="json"), ends_attempt=True)
    return StudentJournal(journal, db, login, envelope)


@dataclass
class ResultsOnThisComputer:
    """The console's `local_results`: none until the test sets `journal` (a computer that finished offline)."""

    journal: StudentJournal | None = None

    def __call__(self) -> list[UnsentResult]:
        return self.journal.results() if self.journal is not None else []


def visible_consoles() -> list[ConsoleWindow]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, ConsoleWindow) and w.isVisible()]


@dataclass
class ConsoleFactory:
    qtbot: QtBot
    server_url: str
    staff: dict[str, str]
    opened: list[Console] = field(default_factory=list)

    def __call__(
        self,
        *,
        tokens: TokenStore | None = None,
        idle_lock_seconds: float = 900,
        local_results: LocalResults | None = None,
        send_now: Callable[[], None] | None = None,
        save_paths: SavePaths | None = None,
        confirm_print: ConfirmPrint | None = None,
        cameras: ListCameras | None = None,
        qr_images: ChooseImage | None = None,
        screen_area: QRect | None = None,
        packages: Callable[[QWidget], Path | None] | None = None,
    ) -> Console:
        host = QWidget()
        host.setWindowTitle("Player window stand-in")
        host.show()
        # Not given to qtbot: pytest-qt would delete it (and the console) before the fixture's teardown has
        # let the last requests finish; the fixture closes it instead.
        tasks = TaskRunner()
        backend = InMemoryBackend()
        store = tokens if tokens is not None else TokenStore.in_memory(backend)
        idle_clock = FakeClock()
        url = self.server_url
        settings = ConsoleSettings(
            server_url=url,
            idle_lock_seconds=idle_lock_seconds,
            refresh_interval_ms=100,
            idle_check_interval_ms=20,
            clock=lambda: START,
            monotonic=idle_clock.monotonic,
            choose_save_path=save_paths if save_paths is not None else SavePaths(),
            choose_evidence=no_open_dialog,
            confirm_print=confirm_print if confirm_print is not None else no_print_dialog,
            cameras=cameras if cameras is not None else no_cameras,
            choose_qr_image=qr_images if qr_images is not None else no_open_dialog,
            screen_area=free_screen_area if screen_area is None else lambda _window: screen_area,
            choose_package=packages if packages is not None else no_open_dialog,
        )
        window = open_console(
            host,
            client_factory=lambda: client_for(url, machine_id=CONSOLE_MACHINE, timeout=5.0, ca_bundle=None),
            credentials=store,
            tasks=tasks,
            settings=settings,
            local_results=local_results,
            send_now=send_now,
        )
        console = Console(
            self.qtbot,
            host,
            tasks,
            backend,
            store,
            idle_clock,
            url,
            window,
            self.staff["username"],
            self.staff["password"],
        )
        self.opened.append(console)
        return console


@dataclass
class StudentMachine:
    """A student's computer, driven through sync.client as the real player drives it."""

    client: InvigilClient
    login: LoginResponse
    machine_id: str

    def beat(self, **fields: object) -> list[str]:
        """Send a heartbeat; returns the kinds of the instructions in the reply."""
        beat = Heartbeat.model_validate({"machine_id": self.machine_id, **fields})
        reply = self.client.heartbeat(self.login.attempt_id, self.login.attempt_token, beat)
        return [i.kind for i in reply.instructions]

    def hand_in(self, answers: dict[str, AnswerValue], *, final: bool = True) -> str:
        """Send these answers as the result of every section (the last, when `final`); returns the result's id."""
        envelope = ResultEnvelope(
            idempotency_key=str(uuid.uuid4()),
            attempt_id=self.login.attempt_id,
            section_ids=[s.id for s in self.login.assessment.sections],
            answers=[AnswerRecord(item_id=i, value=v, answered_at=START) for i, v in answers.items()],
            finished_at=START + timedelta(minutes=20),
            final=final,
        )
        return self.client.submit_result(self.login.attempt_id, self.login.attempt_token, envelope).result_id


def start_student(server_url: str, code: str, *, machine_id: str = "room1-pc01") -> StudentMachine:
    client = client_for(server_url, machine_id=machine_id, timeout=5.0, ca_bundle=None)
    return StudentMachine(client, client.login(code), machine_id)


def access_codes(demo_template: DemoTemplate) -> dict[str, str]:
    """The demo students' access codes, by name."""
    return {str(s["name"]): str(s["access_code"]) for s in demo_template.data["students"]}


def student_name(demo_template: DemoTemplate, index: int) -> str:
    student = demo_template.data["students"][index]
    return str(student["name"])


def sitting_tab(page: SittingPage, title: str) -> QWidget:
    """The open sitting's tab called `title` ("&" mnemonics left out), one of those after Room and Log."""
    return next(widget for name, widget in page.extra.items() if name.replace("&", "") == title)


def wait_for_cell(qtbot: QtBot, page: SittingPage, student: str, column: int, expected: str) -> None:
    def shown() -> bool:
        try:
            return page.room.row_texts(student)[column] == expected
        except LookupError:
            return False

    qtbot.waitUntil(shown, timeout=TIMEOUT_MS)


def act(qtbot: QtBot, page: SittingPage, kind: str, *, student: str, reason_kind: str, text: str) -> str:
    """Choose the student, open the action's reason dialog, give the reason, and wait for the outcome."""
    page.room.select_student(student)
    dialog = page.room.begin_action(kind)  # type: ignore[arg-type]
    assert dialog is not None
    dialog.choose_reason(reason_kind, text)  # type: ignore[arg-type]
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: page.room.message.text() not in ("", "Sending…"), timeout=TIMEOUT_MS)
    return page.room.message.text()


# ---- the console's views, opened on their own ---------------------------------------------------------


@dataclass
class Chooser:
    """Stands in for the file dialogs: hands out the paths the test queued, and records what was suggested."""

    paths: list[Path | None]
    suggested: list[str]

    def open(self, parent: QWidget) -> Path | None:
        return self.paths.pop(0)

    def save(self, parent: QWidget, suggested: str) -> Path | None:
        self.suggested.append(suggested)
        return self.paths.pop(0)


def text_at(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    assert item is not None, f"no cell at row {row}, column {column}"
    return item.text()


def headers(table: QTableWidget) -> list[str]:
    items = [table.horizontalHeaderItem(c) for c in range(table.columnCount())]
    return [i.text() if i is not None else "" for i in items]
