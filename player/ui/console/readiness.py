"""Staff-only: is this computer ready for a test? The doctor's checks (the test tone included) shown as each
completes, with what to do about each problem and its number, and a support bundle to send to whoever helps."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import shiboken6
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from player.doctor.report import Check, Report, Status
from player.ui.console.sittings import guarded
from player.ui.console.tables import table_texts
from player.ui.tasks import TaskRunner
from player.ui.widgets import button, label, set_message
from sync.error_catalogue import problem

if TYPE_CHECKING:
    from player.config import PlayerConfig
    from player.doctor.edges import DoctorEdges

log = logging.getLogger(__name__)

COLUMNS = ("Status", "Check", "What was found", "What to do", "Number")
INTRO = (
    "Checks this computer as a student's test will use it: the settings, the server and its certificate, the "
    "clock, sound (a short test tone plays), disk space, the keyring, the screen and results not yet sent. "
    "Run it before a test, and again after changing anything."
)
STATUS_TEXT: dict[Status, str] = {
    Status.OK: "OK",
    Status.WARNING: "Warning",
    Status.FAILURE: "Failure",
    Status.NOT_CHECKED: "Not checked",
}
STATUS_COLOUR: dict[Status, QColor] = {
    Status.OK: QColor("#1d5e20"),  # the "saved" colour of player/ui/style.py
    Status.WARNING: QColor("#7a5c00"),  # darker than the banner's border, for text on the light background
    Status.FAILURE: QColor("#8a1010"),  # the error colour
    Status.NOT_CHECKED: QColor("#555555"),  # grey: nothing wrong found, nothing to fix here
}
PROBLEMS_FIRST: dict[Status, int] = {Status.FAILURE: 0, Status.WARNING: 1, Status.NOT_CHECKED: 2, Status.OK: 3}
STATUS_ICON: dict[Status, QStyle.StandardPixmap] = {
    Status.OK: QStyle.StandardPixmap.SP_DialogApplyButton,
    Status.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    Status.FAILURE: QStyle.StandardPixmap.SP_MessageBoxCritical,
    Status.NOT_CHECKED: QStyle.StandardPixmap.SP_MessageBoxInformation,
}


class RunChecks(Protocol):
    """The doctor with everything (the test tone too): `progress` hears each check as it completes, on the
    worker thread that runs it."""

    def __call__(self, *, progress: Callable[[Check], None]) -> Report: ...


SaveBundle = Callable[[Path, Report | None], Path]
"""Writes a support bundle at the path (with the report, when there is one); returns where it was written."""
ChooseBundlePath = Callable[[QWidget, str], Path | None]
"""Asks where to save the bundle (parent, suggested file name); None when cancelled. Tests answer it."""


def ask_bundle_path(parent: QWidget, suggested: str) -> Path | None:
    """The system's save dialog for a .zip."""
    from PySide6.QtWidgets import QFileDialog  # on first use, as player.ui.widgets does

    name, _ = QFileDialog.getSaveFileName(parent, "Save support bundle", suggested, "Zip archives (*.zip)")
    return Path(name) if name else None


@dataclass(frozen=True)
class MachineCheck:
    """What the Readiness screen runs: the checks, and the support bundle (None: no button for one) with the dialog
    asking where to save it (tests answer it themselves: a file dialog cannot be answered offscreen)."""

    run: RunChecks
    save_bundle: SaveBundle | None = None
    choose_bundle_path: ChooseBundlePath = ask_bundle_path


def machine_check_for(config: PlayerConfig, *, edges: DoctorEdges | None = None) -> MachineCheck:
    """The Readiness screen's checks and bundle for this machine's `config`. edges: the machine's real edges when
    None; a test gives the few this machine lacks (a sound card, a display), so the screen shows the real checks."""
    from player.doctor.checks import run_doctor

    return MachineCheck(run=functools.partial(run_doctor, config, edges=edges), save_bundle=_bundle_maker(config))


def _bundle_maker(config: PlayerConfig) -> SaveBundle:
    from player.support_bundle import make_support_bundle

    def save(dest: Path, report: Report | None) -> Path:
        return make_support_bundle(config, dest, report=report)

    return save


def verdict(report: Report) -> str:
    """The whole check in a sentence: ready, ready with warnings, or not ready and why."""
    failures = sum(1 for c in report.checks if c.status is Status.FAILURE)
    warnings = sum(1 for c in report.checks if c.status is Status.WARNING)
    if not report.checks:
        return "No checks ran. This build's doctor checks nothing yet, so this computer's readiness is unknown."
    if failures:
        also = f" and {_count(warnings, 'warning')}" if warnings else ""
        return f"Not ready: {_count(failures, 'failure')}{also}. Fix what is marked Failure before a test."
    if warnings:
        return f"Ready, with {_count(warnings, 'warning')}: a test can run, but see what to do below."
    skipped = sum(1 for c in report.checks if c.status is Status.NOT_CHECKED)
    if skipped:
        return f"Ready: every check that ran passed ({skipped} could not run here)."
    return f"Ready: all {_count(len(report.checks), 'check')} passed."


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class ReadinessView(QWidget):
    """The staff-only Readiness screen: "Check this machine" runs `check.run` on `tasks` (each check is listed as
    it completes), then says the verdict and lists the problems first; "Save support bundle…" asks where and writes it, off the GUI thread."""

    def __init__(
        self,
        check: MachineCheck,
        *,
        tasks: TaskRunner,
        now: Callable[[], datetime] = datetime.now,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._check = check
        self._tasks = tasks
        self._now = now
        self.report: Report | None = None
        self.checks: list[Check] = []
        """The checks shown, in the order they completed."""
        self.running = False

        self.heading = label("Readiness of this computer", name="subtitle")
        self.intro = label(INTRO)
        self.check_button = button("C&heck this machine", accessible="Check this machine", primary=True)
        self.check_button.clicked.connect(self.run_checks)
        self.bundle_button = button("Save support &bundle…", accessible="Save support bundle")
        self.bundle_button.setToolTip("A zip of logs, settings (secrets left out) and these checks, for support")
        self.bundle_button.clicked.connect(self.save_bundle)
        self.bundle_button.setVisible(check.save_bundle is not None)  # the console of a build without one
        self.progress = label(accessible="No checks run yet")
        self.progress.hide()
        self.verdict = label(accessible="No verdict yet")
        self.verdict.hide()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setAccessibleName("Checks of this computer")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setTabKeyNavigation(False)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # What was found and what to do are sentences: they share the width left and wrap.
        for wide in ("What was found", "What to do"):
            header.setSectionResizeMode(COLUMNS.index(wide), QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.message = label(name="saved", accessible="No message")
        self.message.hide()
        self.error = label(name="error", accessible="No message")
        self.error.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.bundle_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.intro)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.verdict)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.error)

    # ---- checking -------------------------------------------------------------------------------------

    def run_checks(self) -> None:
        """Run every check on a worker thread; each appears here as it completes."""
        if self.running:
            return
        self.running = True
        self.check_button.setEnabled(False)
        self.report = None
        self.checks = []
        self.table.setRowCount(0)
        set_message(self.verdict, "")
        set_message(self.error, "")
        set_message(self.message, "")
        self._say_progress("Checking this computer… (a short test tone plays)")
        found: list[Check] = []
        run = self._check.run

        # The worker only appends to `found` and reports how many there are; the GUI thread reads them from it.
        # Nothing here holds the view, so the worker never holds the last reference to a widget.
        def work(report: Callable[[int, int], None]) -> Report:
            def heard(check: Check) -> None:
                found.append(check)
                report(len(found), 0)

            return run(progress=heard)

        self._tasks.run_reporting(
            work,
            on_progress=self._progress_from(found),
            on_done=guarded(self, self._checked),
            on_error=guarded(self, self._failed),
        )

    def _progress_from(self, found: list[Check]) -> Callable[[int, int], None]:
        """On the GUI thread: list the first `done` checks of `found` (skipped once this view is gone)."""

        def progressed(done: int, _total: int) -> None:
            if shiboken6.isValid(self) and self.running:
                self._show_checks(found[:done])
                self._say_progress(f"Checking this computer… {_count(done, 'check')} done")

        return progressed

    def _show_checks(self, checks: list[Check]) -> None:
        """Add the rows for the checks not shown yet (progress may report several at once)."""
        for check in checks[len(self.checks) :]:
            self.checks.append(check)
            row = self.table.rowCount()
            self.table.insertRow(row)
            self._fill(row, check)
        self.table.resizeRowsToContents()

    def _fill(self, row: int, check: Check) -> None:
        found = check.detail or "—"
        fix = check.fix or ("—" if check.status is Status.OK else "")
        cells = (STATUS_TEXT[check.status], check.title, found, fix, check.number or "—")
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            self.table.setItem(row, column, item)
        status = self.table.item(row, 0)
        assert status is not None  # set just above
        status.setIcon(self.style().standardIcon(STATUS_ICON[check.status]))
        status.setForeground(STATUS_COLOUR[check.status])
        if check.status is not Status.OK:
            font = status.font()
            font.setBold(True)
            status.setFont(font)
        status.setToolTip(f"{STATUS_TEXT[check.status]}: {check.title}")

    def _say_progress(self, text: str) -> None:
        set_message(self.progress, text)

    def _checked(self, report: Report) -> None:
        self.running = False
        self.check_button.setEnabled(True)
        self.report = report
        # The report is the whole truth (a check not heard through `progress` is listed too), problems first:
        # failures, then warnings, each in the doctor's order, so what to fix is in view without scrolling.
        self.checks = []
        self.table.setRowCount(0)
        self._show_checks(sorted(report.checks, key=lambda c: PROBLEMS_FIRST[c.status]))
        set_message(self.progress, "")
        text = verdict(report)
        self.verdict.setObjectName("error" if report.exit_status == 2 else "saved" if report.exit_status == 0 else "")
        self.verdict.style().unpolish(self.verdict)
        self.verdict.style().polish(self.verdict)
        set_message(self.verdict, text)
        log.info("Readiness checked from the console: %s", report.summary())

    def _failed(self, exc: Exception) -> None:
        self.running = False
        self.check_button.setEnabled(True)
        set_message(self.progress, "")
        log.error("The readiness check failed", exc_info=exc)
        set_message(
            self.error,
            problem(
                "console.readiness_failed",
                f"The check itself stopped with an error ({type(exc).__name__}: {exc}). Nothing on this computer "
                "was changed. Try Check this machine again; if it stops again, save a support bundle and send it.",
            ),
        )

    # ---- the support bundle -----------------------------------------------------------------------------

    def save_bundle(self) -> None:
        """Ask where, then write the bundle (with the last checks, if any) off the GUI thread."""
        set_message(self.message, "")
        set_message(self.error, "")
        suggested = f"invigil-support-{self._now():%Y-%m-%d-%H%M}.zip"
        dest = self._check.choose_bundle_path(self, suggested)
        if dest is None:
            return
        save = self._check.save_bundle
        if save is None:  # the button is hidden then
            return
        report = self.report
        self.bundle_button.setEnabled(False)
        set_message(self.message, f"Saving the support bundle to {dest}…")

        def saved(path: Path) -> None:
            self.bundle_button.setEnabled(True)
            set_message(self.message, f"Saved the support bundle to {path}. It holds no answers, codes or passwords.")

        def failed(exc: Exception) -> None:
            self.bundle_button.setEnabled(True)
            set_message(self.message, "")
            log.error("Support bundle not saved", exc_info=exc)
            set_message(
                self.error,
                problem(
                    "console.bundle_not_saved",
                    f"Could not save the support bundle to {dest}: {exc}. Choose another folder (a USB stick, your "
                    "documents) and try again.",
                ),
            )

        self._tasks.run(lambda: save(dest, report), on_done=guarded(self, saved), on_error=guarded(self, failed))

    def rows(self) -> list[tuple[str, ...]]:
        """Every check as shown, for tests and screen readers' sake."""
        return table_texts(self.table)
