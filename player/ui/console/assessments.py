"""The console's "Assessments" tab: what is loaded on the server, and loading a content package (admins, where
the server's operator allows it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QListWidget, QListWidgetItem, QProgressBar, QVBoxLayout, QWidget

from player.ui.console.server_calls import error_sentence
from player.ui.console.sittings import ClientFactory, StaffSession, guarded
from player.ui.tasks import TaskRunner
from player.ui.widgets import button, label, set_message, show_outcome
from sync import staff_protocol as sp
from sync.client import Refused
from sync.error_catalogue import Problem

log = logging.getLogger(__name__)

ChoosePackage = Callable[[QWidget], Path | None]
"""Asks for the content package to load (parent) -> its path, or None when cancelled; tests pass their own."""

SHARED_NOTE = (
    "Assessments are shared by every school on this server: a package loaded here can be chosen for any school's "
    "sittings."
)
UPLOADS_OFF = "content_uploads_off"
"""The server's error when its operator has not let admins load content (`serve --content-uploads`)."""


def ask_open_package(parent: QWidget) -> Path | None:
    name, _ = QFileDialog.getOpenFileName(parent, "Choose a content package to load", "", "Content packages (*.zip)")
    return Path(name) if name else None


def describe_assessment(assessment: sp.AssessmentOut) -> str:
    return f"{assessment.title} — {assessment.package_id}, version {assessment.version}"


def loaded_sentence(loaded: sp.AssessmentLoaded) -> str:
    items = "1 item" if loaded.items == 1 else f"{loaded.items} items"
    if loaded.already_loaded:
        return f"{loaded.title} (version {loaded.version}, {items}) was already loaded; nothing changed."
    return f"Loaded {loaded.title} (version {loaded.version}, {items})."


class AssessmentsView(QWidget):
    """The loaded assessments, newest package versions listed by title; "Load assessment…" for admins.

    The upload runs on the task runner with its progress shown; the server's refusal is shown in full (it names
    the file, the field or line, and what to do). When the server does not take uploads, the button is disabled
    and says why, in the server's words."""

    def __init__(
        self,
        *,
        session: StaffSession,
        client_factory: ClientFactory,
        tasks: TaskRunner,
        choose_package: ChoosePackage = ask_open_package,
    ) -> None:
        super().__init__()
        self._session = session
        self._client_factory = client_factory
        self._tasks = tasks
        self._choose_package = choose_package
        self._loading_list = False
        self._listed = False
        self._uploading = False
        self.heading = label("Assessments on this server", name="subtitle")
        self.note = label(SHARED_NOTE)
        self.list = QListWidget()
        self.list.setAccessibleName("Assessments on this server")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setAccessibleName("Sending the package")
        self.progress.hide()
        self.message = label(name="status")
        self.error = label(name="error")
        self.uploads_off = label(name="status")
        for text in (self.message, self.error, self.uploads_off):
            set_message(text, "")
        self.load_button = button("Load &assessment…", accessible="Load assessment")
        # Teachers and invigilators may not load content; a session of unknown role keeps the button (the
        # server decides, and its refusal is shown).
        self.load_button.setVisible(session.role in ("admin", ""))
        self.reload_button = button("Re&fresh list", accessible="Refresh the list of assessments")
        row = QHBoxLayout()
        row.addWidget(self.load_button)
        row.addStretch(1)
        row.addWidget(self.reload_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.note)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.progress)
        for text in (self.message, self.error, self.uploads_off):
            layout.addWidget(text)
        layout.addLayout(row)
        self.load_button.clicked.connect(self.choose_and_load)
        self.reload_button.clicked.connect(lambda: self.reload())

    # ---- the list -----------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._listed:
            self._listed = True  # the first time the tab is opened; no request at sign-in for a tab not looked at
            self.reload()

    def reload(self, *, select_id: str | None = None) -> None:
        if self._loading_list:
            return
        self._loading_list = True
        token = self._session.token
        factory = self._client_factory

        def work() -> list[sp.AssessmentOut]:
            with factory() as client:
                return client.assessments(token)

        self._tasks.run(
            work,
            on_done=guarded(self, lambda found: self._show(found, select_id)),
            on_error=guarded(self, self._list_failed),
        )

    def _show(self, assessments: list[sp.AssessmentOut], select_id: str | None) -> None:
        self._loading_list = False
        self.list.clear()
        for assessment in sorted(assessments, key=lambda a: (a.title.casefold(), a.package_id, a.version)):
            item = QListWidgetItem(describe_assessment(assessment))
            item.setData(Qt.ItemDataRole.UserRole, assessment.id)
            self.list.addItem(item)
            if assessment.id == select_id:
                self.list.setCurrentItem(item)
        if not assessments:
            self.list.addItem(QListWidgetItem("No assessments are loaded on this server yet."))

    def _list_failed(self, exc: Exception) -> None:
        self._loading_list = False
        show_outcome(
            message=self.message,
            error=self.error,
            text=error_sentence(exc, doing="list the assessments").framed(
                "Could not list the assessments: ", " Choose Refresh list to try again."
            ),
            failed=True,
        )

    def shown_titles(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    # ---- loading a package --------------------------------------------------------------------------

    def choose_and_load(self) -> None:
        if self._uploading:
            return
        path = self._choose_package(self)
        if path is None:
            return
        self.load(path)

    def load(self, path: Path) -> None:
        """Send the package at `path` on a worker thread, showing its progress; the outcome in words after."""
        self._uploading = True
        self.load_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        show_outcome(message=self.message, error=self.error, text=f"Sending {path.name}…", failed=False)
        token = self._session.token
        factory = self._client_factory

        def work(report: Callable[[int, int], None]) -> sp.AssessmentLoaded:
            with factory() as client:
                return client.upload_assessment(token, path, progress=report)

        self._tasks.run_reporting(
            work,
            on_progress=self._sent,
            on_done=guarded(self, self._loaded),
            on_error=guarded(self, lambda exc: self._refused(path, exc)),
        )

    def _sent(self, done: int, total: int) -> None:
        if not shiboken6.isValid(self):
            return  # the console locked while the package was going
        self.progress.setValue(100 * done // total if total else 100)

    def _loaded(self, loaded: sp.AssessmentLoaded) -> None:
        self._finished()
        show_outcome(message=self.message, error=self.error, text=loaded_sentence(loaded), failed=False)
        log.info("Content package %s version %s loaded from the console", loaded.package_id, loaded.version)
        self.reload(select_id=loaded.id)

    def _refused(self, path: Path, exc: Exception) -> None:
        self._finished()
        if isinstance(exc, Refused) and exc.error == UPLOADS_OFF:
            show_outcome(message=self.message, error=self.error, text="", failed=False)
            self.uploads_not_taken(exc.problem)
            return
        sentence = error_sentence(exc, doing=f"load {path.name}").framed(f"{path.name} was not loaded. ")
        show_outcome(message=self.message, error=self.error, text=sentence, failed=True)

    def uploads_not_taken(self, why: Problem) -> None:
        """The server does not take content packages: the button stays off and says why, in the server's words."""
        self.load_button.setEnabled(False)
        self.load_button.setToolTip(why.text)
        self.load_button.setAccessibleDescription(why.text)
        set_message(self.uploads_off, why)

    def _finished(self) -> None:
        self._uploading = False
        self.progress.hide()
        self.load_button.setEnabled(True)
