"""Staff-only: the results saved on this computer that the server has not confirmed, as result codes to carry."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QVBoxLayout, QWidget

from player.offline_queue.journal import Journal, StoredAttempt
from player.offline_queue.outbox import EntryState
from player.ui.console.common import ChooseSavePath, ask_save_path, choice_table, table_texts, update_row
from player.ui.screens.common import button, label, set_message
from sync import resultcode
from sync.protocol import DeliveryAssessment, ResultEnvelope

log = logging.getLogger(__name__)

COLUMNS = ("Student", "Section", "Waiting since", "Status")
HINT = (
    "These results are saved on this computer, but the server has not confirmed them yet. They keep being sent "
    "by themselves. If this computer cannot reach the server, copy a result code (or save it to a file on a USB "
    'stick) and submit it under "Result codes" on a computer that can.'
)
NOTHING_WAITING = "No results are waiting on this computer: the server has confirmed everything from here."


@dataclass(frozen=True)
class LocalResult:
    """One result envelope in this computer's outbox that the server has not confirmed."""

    key: str
    """The envelope's idempotency key (the outbox row)."""
    student_name: str
    section: str
    """Which part of the test, for people: "Section 2 of 3: Short answers"."""
    waiting_since: datetime
    state: EntryState
    last_error: str | None
    envelope: ResultEnvelope = field(repr=False)
    result_secret: str = field(repr=False)
    """The attempt's key for result codes; kept out of repr so it never reaches a log."""
    delivery: DeliveryAssessment | None = field(default=None, repr=False)
    """The form the attempt was given: with it the code is the short format 3."""

    def code(self) -> str:
        """A fresh result code for the envelope (each differs by a random nonce; every one decodes the same)."""
        return resultcode.encode(self.envelope, result_secret=self.result_secret, delivery=self.delivery)

    def file_name(self) -> str:
        return f"result-code-{_slug(self.student_name)}-{_slug(self.section.split(':')[0])}.txt"

    def status(self) -> str:
        if self.state == "needs_attention":
            return f"Refused by the server: {self.last_error or 'no reason given'}"
        if self.state == "sending":
            return "Sending now"
        return "Waiting to send" + (f" (last try: {self.last_error})" if self.last_error else "")


LocalResults = Callable[[], list[LocalResult]]
"""Reads this computer's unsent results; called on the GUI thread (the journal's connection lives there)."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "result"


def section_label(section_ids: Sequence[str], titles: Sequence[tuple[str, str]]) -> str:
    """ "Section 2 of 3: Short answers" for an envelope's sections, given the assessment's (id, title) list."""
    numbers = {section_id: n for n, (section_id, _) in enumerate(titles, start=1)}
    names = dict(titles)
    known = [s for s in section_ids if s in numbers]
    if not known:
        return "Sections " + ", ".join(section_ids) if section_ids else "The whole test"
    if len(known) == 1:
        return f"Section {numbers[known[0]]} of {len(titles)}: {names[known[0]]}"
    if known == [section_id for section_id, _ in titles]:
        return f"The whole test ({len(titles)} sections)"
    listed = ", ".join(str(numbers[s]) for s in known)
    return f"Sections {listed} of {len(titles)}: " + ", ".join(names[s] for s in known)


def journal_results(journal: Journal) -> list[LocalResult]:
    """This computer's unsent result envelopes, oldest first (what app.py passes to open_console)."""
    found: list[LocalResult] = []
    attempts: dict[str, StoredAttempt] = {}
    for entry in journal.outbox().entries(kind="result"):
        if entry.state == "sent":
            continue
        if entry.attempt_id not in attempts:
            attempts[entry.attempt_id] = journal.attempt(entry.attempt_id)
        attempt = attempts[entry.attempt_id]
        envelope = ResultEnvelope.model_validate_json(entry.body)
        titles = [(s.id, s.title) for s in attempt.login.assessment.sections]
        found.append(
            LocalResult(
                key=entry.idempotency_key,
                student_name=attempt.login.student,
                section=section_label(envelope.section_ids, titles),
                waiting_since=entry.created_at,
                state=entry.state,
                last_error=entry.last_error,
                envelope=envelope,
                result_secret=attempt.result_secret,
                delivery=attempt.login.assessment,
            )
        )
    return found


def send_now_from(journal: Journal, wake_uploader: Callable[[], None]) -> Callable[[], None]:
    """What "Send now" does in the app: refused results are tried again, and the uploader wakes at once."""

    def send_now() -> None:
        retried = journal.outbox().retry_needs_attention()
        if retried:
            log.info("Staff asked to send again: %d refused result(s) back in the queue", retried)
        wake_uploader()

    return send_now


class UnsentResultsView(QWidget):
    """The staff-only list of this computer's unsent results, with "Copy result code" and "Save ... to a file"."""

    message_shown = Signal(str)

    def __init__(
        self,
        local_results: LocalResults,
        *,
        send_now: Callable[[], None] | None = None,
        choose_save_path: ChooseSavePath = ask_save_path,
        refresh_ms: int = 2000,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._read = local_results
        self._send_now = send_now
        self._choose_save_path = choose_save_path
        self.results: list[LocalResult] = []

        self.heading = label("Results waiting on this computer", name="subtitle")
        self.hint = label(HINT)
        self.table = choice_table(COLUMNS, accessible="Results waiting on this computer")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.empty = label(NOTHING_WAITING, name="saved")
        self.copy_button = button("Cop&y result code", accessible="Copy result code", primary=True)
        self.save_button = button("Save result code to a &file…", accessible="Save result code to a file")
        self.send_button = button("Send &now", accessible="Send now")
        self.send_button.setToolTip("Try the server again now, including results it refused before")
        self.send_button.setVisible(send_now is not None)
        self.refresh_button = button("Refres&h", accessible="Refresh the list")
        self.message = label(name="status")
        set_message(self.message, "")
        row = QHBoxLayout()
        for widget in (self.copy_button, self.save_button, self.send_button):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        for text in (self.heading, self.hint, self.empty):
            layout.addWidget(text)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.message)

        self.copy_button.clicked.connect(self.copy_code)
        self.save_button.clicked.connect(self.save_code)
        self.send_button.clicked.connect(self.send_now)
        self.refresh_button.clicked.connect(self.refresh)
        # The uploader may send them meanwhile: the list follows without anyone pressing Refresh.
        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    # ---- the list -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        try:
            results = sorted(self._read(), key=lambda r: r.waiting_since)
        except Exception as exc:  # a journal this version cannot read must not take the console down
            log.error("Could not read this computer's unsent results", exc_info=exc)
            self._say(
                f"Could not read the results saved on this computer: {exc} Tell IT: the details are in the player log."
            )
            return
        keep = self.selected()
        self.results = results
        self.table.setRowCount(len(results))
        for row, result in enumerate(results):
            since = f"{result.waiting_since.astimezone():%d %b %H:%M}"
            cells = (result.student_name, result.section, since, result.status())
            update_row(self.table, row, cells)
            if keep is not None and result.key == keep.key:
                self.table.setCurrentCell(row, 0)
        if results and self.selected() is None:
            self.table.setCurrentCell(0, 0)
        self.table.setVisible(bool(results))
        self.empty.setVisible(not results)
        for widget in (self.copy_button, self.save_button):
            widget.setEnabled(bool(results))

    def selected(self) -> LocalResult | None:
        row = self.table.currentRow()
        return self.results[row] if 0 <= row < len(self.results) else None

    def select(self, student_name: str) -> None:
        for row, result in enumerate(self.results):
            if result.student_name == student_name:
                self.table.setCurrentCell(row, 0)
                return
        raise LookupError(f"no unsent result of {student_name} on this computer")

    def rows(self) -> list[tuple[str, ...]]:
        return table_texts(self.table)

    # ---- copying, saving, sending -------------------------------------------------------------------

    def _chosen_code(self) -> tuple[LocalResult, str] | None:
        result = self.selected()
        if result is None:
            self._say("Choose a result in the list first (arrow keys).")
            return None
        try:
            return result, result.code()
        except ValueError as exc:
            self._say(f"No result code can be made for {result.student_name}, {result.section}: {exc}.")
            return None

    def copy_code(self) -> None:
        chosen = self._chosen_code()
        if chosen is None:
            return
        result, code = chosen
        QGuiApplication.clipboard().setText(code)
        log.info("Staff copied the result code of an unsent result (%s)", result.key)
        self._say(
            f"The result code of {result.student_name}, {result.section}, is on the clipboard. "
            'Paste it under "Result codes" on a computer that reaches the server.'
        )

    def save_code(self) -> None:
        chosen = self._chosen_code()
        if chosen is None:
            return
        result, code = chosen
        path = self._choose_save_path(self, result.file_name())
        if path is None:
            return
        try:
            path.write_text(code + "\n", encoding="utf-8")
        except OSError as exc:
            self._say(
                f"The result code could not be saved to {path} ({exc.strerror or exc}). "
                "Choose another place, such as a USB stick, or copy it instead."
            )
            return
        log.info("Staff saved the result code of an unsent result (%s) to %s", result.key, path)
        self._say(f"The result code of {result.student_name}, {result.section}, is saved in {path}.")

    def send_now(self) -> None:
        if self._send_now is None:
            return
        self._send_now()
        self._say("Sending now. The list shows what is still waiting.")
        self.refresh()

    def _say(self, text: str) -> None:
        set_message(self.message, text)
        self.message_shown.emit(text)
