"""A tour of every console view against the live server, with students in several states: the screenshots and
the layout checks visit the same views in the same states."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.ui.console import SittingPage
from player.ui.console.incidents import IncidentsView
from player.ui.console.manual import ManualEntriesView
from player.ui.console.marking import HandMarkingView
from player.ui.console.results import ResultsView
from player.ui.console.room import COLUMNS
from player.ui.console.slips import SlipsView
from sync.protocol import LoginResponse
from sync.version import VERSION
from tests.helpers.clock import START
from tests.helpers.console import (
    Console,
    ResultsOnThisComputer,
    StudentJournal,
    StudentMachine,
    access_codes,
    act,
    sitting_tab,
    start_student,
    wait_for_cell,
)
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS

ADA, ALAN, GRACE = "Ada Lovelace", "Alan Turing", "Grace Hopper"
ADA_ESSAY = "My favourite place is the beach near my gran's house. The sand is warm and the waves are loud."
GRACE_ESSAY = (
    "My favourite place is the library.\nIt is quiet, it smells of old paper, and there is always a book "
    "I have not read yet.\nI go there every Saturday morning."
)
MC = {"section_id": "mc", "section_title": "Multiple choice", "item_count": 3}
GRACE_READINESS = "Free disk space: 150 MB (needs 200 MB)"
VIEWS = 14
"""How many views the tour visits."""


class Visit(Protocol):
    def __call__(self, widget: QWidget, name: str, *expected: str) -> None:
        """Look at `widget` (the console window, or a dialog over it), which shows each of `expected`."""


@dataclass
class Tour:
    """What the tour needs: a console opened with `local` as its computer's results, the server's demo data and
    a way to make the journal of a student computer that finished offline."""

    qtbot: QtBot
    console: Console
    local: ResultsOnThisComputer
    server_url: str
    demo_template: DemoTemplate
    offline_journals: Callable[[LoginResponse, str], StudentJournal]

    def run(self, visit: Visit) -> None:
        """Sign in (once wrongly), open the demo sitting with three students, visit each view, then the home tabs."""
        qtbot, console = self.qtbot, self.console
        window = console.window
        window.signin.username_edit.setText(console.username)
        window.signin.password_edit.setText("secret password")
        visit(window, "01-sign-in", "Staff sign in", "Username", "Password", "Sign in")
        window.signin.sign_in_button.click()
        qtbot.waitUntil(window.signin.message.isVisible, timeout=TIMEOUT_MS)
        visit(window, "01b-sign-in-refused", window.signin.message.text())

        window.signin.password_edit.setText(console.password)
        window.signin.sign_in_button.click()
        qtbot.waitUntil(lambda: console.sittings_shown() > 0, timeout=TIMEOUT_MS)
        visit(window, "02-sittings", "Signed in as Demo Admin", "Demo sitting", "Open sitting")

        view = window.sittings
        assert view is not None
        view.open_selected()
        page = window.sitting_page
        assert page is not None
        students = self._room(page, visit)
        self._tabs(page, visit)

        window.close_sitting()
        codes_view = window.code_entry
        window.home.setCurrentWidget(codes_view)
        unsent = window.unsent
        assert unsent is not None
        code = self.local()[0].code()
        codes_view.code_edit.setPlainText(_mistyped(code))
        codes_view.submit_button.click()
        qtbot.waitUntil(lambda: codes_view.message.objectName() == "error", timeout=TIMEOUT_MS)
        visit(window, "10a-result-code-typo", "Group 1")
        codes_view.code_edit.setPlainText(code)
        codes_view.submit_button.click()
        qtbot.waitUntil(lambda: codes_view.last_receipt is not None, timeout=TIMEOUT_MS)
        visit(window, "10-result-codes", f"New results received for {ALAN} (Demo sitting)")

        window.home.setCurrentWidget(unsent)
        unsent.refresh()
        visit(
            window,
            "11-unsent-results",
            "Results waiting on this computer",
            ALAN,
            "Copy result code",
            "Save results slip (PDF)…",
            "Print results slip…",
            "Waiting to send",
        )
        self._hand_marking(students, visit)

    def _room(self, page: SittingPage, visit: Visit) -> dict[str, StudentMachine]:
        """The room with Ada at work, Grace paused and Alan finished offline; returns Ada's and Grace's machines."""
        qtbot, window = self.qtbot, self.console.window
        codes = access_codes(self.demo_template)
        # Machines with generated ids, named by their host names: the room shows the names.
        ada = start_student(self.server_url, codes[ADA], machine_id="9f7a80a8-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
        grace = start_student(self.server_url, codes[GRACE], machine_id="0b6e0c55-5f1e-4d7b-9a0e-3c2f1d4e5a6b")
        alan = start_student(self.server_url, codes[ALAN], machine_id="5c3d2e1f-0a9b-4c8d-8e7f-6a5b4c3d2e1f")
        ada.beat(**MC, item_index=2, remaining_seconds=512, machine_name="room1-pc01", answered_count=1,
                 question_count=9, audio="heard", resumed_at=(START + timedelta(minutes=4)).isoformat(),
                 app_version=VERSION, readiness="Ready", left_window_count=2)  # fmt: skip
        grace.beat(**MC, item_index=3, remaining_seconds=433, paused=True, machine_name="room1-pc02",
                   answered_count=2, question_count=9, audio="not_heard", app_version=VERSION,
                   readiness=GRACE_READINESS)  # fmt: skip
        self.local.journal = self.offline_journals(alan.login, self.server_url)
        alan.beat(finished=True, outbox_depth=1, machine_name="room1-pc03", app_version=VERSION, readiness="Ready")
        state = COLUMNS.index("State")
        wait_for_cell(qtbot, page, ALAN, state, "Finished: results waiting on room1-pc03")
        wait_for_cell(qtbot, page, GRACE, state, "Paused — on room1-pc02, in Multiple choice, item 3 of 3")
        page.room.select_student(GRACE)  # the first row: the table shows her and Ada, the line under it her machine
        visit(
            window,
            "03-room",
            "On room1-pc01, in Multiple choice, item 2 of 3",
            "Paused — on room1-pc02",
            "Finished: results waiting on room1-pc03",
            "1 waiting on room1-pc03",
            "1 of 9",
            "Extra time 25 %",
            "Sound check failed: not heard",
            "Restarted at",
            "Left the window 2 times",
            "Not ready: Free disk space",
            f"{GRACE} on room1-pc02 · Invigil {VERSION} · Readiness: {GRACE_READINESS}",
            "Pause whole room",
            "Add time to room",
            "End section for room",
        )
        page.room.select_student(ADA)

        dialog = page.room.begin_action("end_section")
        assert dialog is not None
        qtbot.waitExposed(dialog)
        visit(dialog, "04-action-dialog", f"End {ADA}'s section: Multiple choice", "This is final", "Reason")
        assert dialog.reason_kind.currentIndex() == -1, "no reason chosen for the invigilator"
        dialog.reject()

        dialog = page.room.begin_action("add_time")
        assert dialog is not None
        dialog.choose_reason("technical_problem", "headphones replaced")
        dialog.minutes.setValue(10)
        dialog.ok_button.click()
        qtbot.waitUntil(lambda: page.room.message.text().startswith("Added 10 minutes"), timeout=TIMEOUT_MS)
        act(qtbot, page, "pause", student=GRACE, reason_kind="toilet_break", text="")

        page.tabs.setCurrentWidget(page.log_view)
        qtbot.waitUntil(lambda: any(row[2] == "Paused" for row in page.log_view.rows()), timeout=TIMEOUT_MS)
        visit(window, "05-sitting-log", "Added time", "+10 minutes", "Paused", "Toilet break", "demo-admin")
        return {ADA: ada, GRACE: grace}

    def _tabs(self, page: SittingPage, visit: Visit) -> None:
        qtbot, window = self.qtbot, self.console.window
        results = sitting_tab(page, "Results")
        assert isinstance(results, ResultsView)
        page.tabs.setCurrentWidget(results)
        qtbot.waitUntil(
            lambda: results.table.rowCount() == 3 and results.refresh_button.isEnabled(), timeout=TIMEOUT_MS
        )
        assert results.cell(ADA, "Status") == "In progress"
        assert results.cell(GRACE, "Status") == "In progress (paused)", "still sitting: never 'Marked'"
        visit(
            window,
            "06-results",
            "Results: Demo sitting",
            "In progress (paused)",
            "Finished: results waiting on that machine",
        )

        manual = sitting_tab(page, "Manual entries")
        assert isinstance(manual, ManualEntriesView)
        page.tabs.setCurrentWidget(manual)
        qtbot.waitUntil(lambda: manual.students.count() == 3, timeout=TIMEOUT_MS)
        with qtbot.waitSignal(manual.loaded, timeout=TIMEOUT_MS):
            manual.select_student(_allocation(page, ADA))
        manual.typed_edit.setText("9")
        manual.written_edit.setText("8.5")
        manual.comments_edit.setPlainText("Wrote neatly; two spelling slips in the last sentence.")
        with qtbot.waitSignal(manual.saved, timeout=TIMEOUT_MS):
            manual.save_button.click()
        visit(window, "07-manual-entries", "Typed dictation", "out of 10", "Saved Ada Lovelace's entries")

        incidents = sitting_tab(page, "Incidents")
        assert isinstance(incidents, IncidentsView)
        page.tabs.setCurrentWidget(incidents)
        qtbot.waitUntil(lambda: incidents.students.count() == 3, timeout=TIMEOUT_MS)
        incidents.kind_box.setCurrentIndex(incidents.kind_box.findData("fire_alarm"))
        incidents.note_edit.setPlainText("Drill; everyone out for 12 minutes, papers left face down.")
        with qtbot.waitSignal(incidents.added, timeout=TIMEOUT_MS):
            incidents.add_button.click()
        visit(window, "08-incidents", "Fire alarm", "Drill; everyone out", "Export CSV...")

        slips = sitting_tab(page, "Slips to hand out")
        assert isinstance(slips, SlipsView)
        page.tabs.setCurrentWidget(slips)
        qtbot.waitUntil(slips.print_button.isEnabled, timeout=TIMEOUT_MS)
        visit(window, "09-slips", "3 slips ready.", "Save PDF...", "Print...", f"{GRACE} (DEMO-003)")

    def _hand_marking(self, students: dict[str, StudentMachine], visit: Visit) -> None:
        """Ada and Grace finish; the sitting is opened again to mark their descriptions by hand."""
        qtbot, window = self.qtbot, self.console.window
        students[ADA].hand_in({"short-describe": ADA_ESSAY, "short-plural": "children"})
        students[GRACE].hand_in({"short-describe": GRACE_ESSAY})
        view = window.sittings
        assert view is not None
        window.home.setCurrentWidget(view)
        view.open_selected()
        page = window.sitting_page
        assert page is not None
        marking = sitting_tab(page, "Mark by hand")
        assert isinstance(marking, HandMarkingView)
        with qtbot.waitSignal(marking.loaded, timeout=TIMEOUT_MS):
            page.tabs.setCurrentWidget(marking)
        marking.score_edit.setText("3")
        with qtbot.waitSignal(marking.saved, timeout=TIMEOUT_MS):
            marking.save_button.click()
        marking.score_edit.setText("2.5")
        visit(
            window,
            "12-hand-marking",
            "Saved: Ada Lovelace, 3 of 4.",
            f"{GRACE} (DEMO-003): answer 2 of 2",
            "1 of 2 answers to this item marked by hand.",
            "out of 4",
            "Next student",
        )


def _mistyped(code: str) -> str:
    """`code` with its first symbol changed, as a tired invigilator might type it."""
    return ("1" if code[0] != "1" else "2") + code[1:]


def _allocation(page: SittingPage, student: str) -> str:
    return next(s.allocation_id for s in page.room.students() if s.student_name == student)
