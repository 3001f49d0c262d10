"""Hand marking: one item at a time, each student's answer as they wrote it, a score from 0 to the item's maximum."""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from player.ui.console.dates import local_time
from player.ui.console.server_calls import call_server, error_sentence
from player.ui.console.sitting_tab import SittingTab
from player.ui.console.sittings import SittingContext
from player.ui.widgets import button, label
from sync import marking_protocol as mp
from sync.client import Refused
from sync.error_catalogue import problem

log = logging.getLogger(__name__)


def _points(value: float) -> str:
    return f"{value:g}"


def parse_score(text: str, max_score: float) -> float | str:
    """The score typed (a comma taken as the decimal point), or the sentence saying why it is not one."""
    ask = f"Type the score as a number from 0 to {_points(max_score)}, such as 2 or 2.5"
    cleaned = text.strip().replace(",", ".")
    if not cleaned:
        return f"{ask}."
    try:
        score = float(cleaned)
    except ValueError:
        return f"{ask}; {text.strip()!r} is not a number."
    if not math.isfinite(score) or not 0 <= score <= max_score:
        return f"{ask}; {text.strip()} is outside that range."
    if round(score, 2) != score:
        return f"{ask}; scores have at most two decimals."
    return score


def mark_sentence(answer: mp.HandMarkAnswer, max_score: float) -> str:
    if answer.mark is not None:
        m = answer.mark
        return f"Marked {_points(m.score)} of {_points(max_score)} by {m.marker}, {local_time(m.marked_at)}."
    if answer.still_sitting:
        return f"{answer.student_name} is still sitting the test: mark this answer once they have finished."
    return "Not marked yet."


class HandMarkingView(SittingTab):
    """Choose an item, then go through the students' answers to it with Previous and Next; "Save mark" (or Enter
    in the score box) saves and moves on to the next student."""

    loaded = Signal(object)  # HandMarkingSheet, each time it arrives
    saved = Signal(object)  # HandMarkOut, after the server stored it

    def __init__(self, context: SittingContext, *, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._sheet: mp.HandMarkingSheet | None = None
        self._item_index = 0
        self._position = 0
        self._busy = False
        self._keep_error = False
        """A refused mark stays on screen while the refreshed answers arrive."""

        self.items = QComboBox()
        self.items.setAccessibleName("Item to mark")
        # An item's prompt may be a paragraph: the box takes the width it is given instead of widening the window.
        self.items.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.items.setMinimumContentsLength(20)
        self.items.currentIndexChanged.connect(self._item_chosen)
        self.progress = label(name="status", accessible="Marking progress")
        self.student = label("", name="subtitle", accessible="Student")
        self.prompt = label(accessible="Question")
        self.guidance = label(accessible="Marking guidance")
        self.answer = QPlainTextEdit()
        self.answer.setReadOnly(True)
        self.answer.setAccessibleName("Answer as the student wrote it")
        self.current = label(accessible="Current mark")
        self.score_edit = QLineEdit()
        self.score_edit.setAccessibleName("Score")
        self.score_edit.setMaxLength(10)
        self.score_edit.returnPressed.connect(self.save)
        self.out_of = label(wrap=False, accessible="Out of")
        self.save_button = button("Save &mark", accessible="Save the mark and go to the next student", primary=True)
        self.save_button.clicked.connect(self.save)
        self.previous_button = button("&Previous student")
        self.previous_button.clicked.connect(lambda: self._move(-1))
        self.next_button = button("&Next student")
        self.next_button.clicked.connect(lambda: self._move(1))
        self.refresh_button = button("Re&fresh", accessible="Load the answers and marks again")
        self.refresh_button.clicked.connect(self.refresh)

        top = QHBoxLayout()
        item_label = label("I&tem", wrap=False)
        item_label.setBuddy(self.items)
        top.addWidget(item_label)
        top.addWidget(self.items, 1)
        top.addWidget(self.refresh_button)
        score_row = QHBoxLayout()
        score_label = label("&Score", wrap=False)
        score_label.setBuddy(self.score_edit)
        score_row.addWidget(score_label)
        score_row.addWidget(self.score_edit)
        score_row.addWidget(self.out_of)
        score_row.addWidget(self.save_button)
        score_row.addStretch(1)
        moves = QHBoxLayout()
        moves.addWidget(self.previous_button)
        moves.addWidget(self.next_button)
        moves.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(label(f"Hand marking: {context.sitting_name}", name="subtitle"))
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.prompt)
        layout.addWidget(self.guidance)
        layout.addWidget(self.student)
        layout.addWidget(self.answer, 1)
        layout.addWidget(self.current)
        layout.addLayout(score_row)
        layout.addLayout(moves)
        layout.addWidget(self.message)
        layout.addWidget(self.error)
        self._show_answer()
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        # Results keep arriving and colleagues keep marking while the tab is hidden.
        super().showEvent(event)
        if not self._busy:
            self.refresh()

    # ---- loading ----

    def refresh(self) -> None:
        token, sitting_id = self._context.token, self._context.sitting_id
        self._set_busy(True)
        call_server(
            self._context,
            lambda c: c.hand_marking(token, sitting_id),
            owner=self,
            on_done=self._show_sheet,
            on_error=self._load_failed,
        )

    def _show_sheet(self, sheet: mp.HandMarkingSheet) -> None:
        shown_item, shown_answer = self._item(), self._answer()
        keep_item = shown_item.item_id if shown_item is not None else None
        keep_result = shown_answer.result_id if shown_answer is not None else None
        self._sheet = sheet
        self.items.blockSignals(True)
        self.items.clear()
        for item in sheet.items:
            self.items.addItem(f"{item.section_title}: {item.prompt} (out of {_points(item.max_score)})")
        self.items.blockSignals(False)
        ids = [item.item_id for item in sheet.items]
        self._item_index = ids.index(keep_item) if keep_item in ids else 0
        self.items.setCurrentIndex(self._item_index if ids else -1)
        answers = self._answers()
        results = [a.result_id for a in answers]
        self._position = results.index(keep_result) if keep_result in results else self._first_unmarked()
        self._set_busy(False)
        self._show_answer()
        if not sheet.items:
            self._say("This test has no answers marked by hand (extended text).")
        elif not self._keep_error:
            self._say(self._progress_sentence())
        self._keep_error = False
        self.loaded.emit(sheet)

    def _load_failed(self, exc: Exception) -> None:
        self._set_busy(False)
        self._show_answer()
        self._fail(error_sentence(exc, doing="load the answers to mark by hand"))

    # ---- moving ----

    def _item(self) -> mp.HandMarkItem | None:
        sheet = self._sheet
        return sheet.items[self._item_index] if sheet and 0 <= self._item_index < len(sheet.items) else None

    def _answers(self) -> list[mp.HandMarkAnswer]:
        item = self._item()
        return item.answers if item is not None else []

    def _answer(self) -> mp.HandMarkAnswer | None:
        answers = self._answers()
        return answers[self._position] if 0 <= self._position < len(answers) else None

    def _first_unmarked(self) -> int:
        return next((n for n, a in enumerate(self._answers()) if a.mark is None and not a.still_sitting), 0)

    def _item_chosen(self, index: int) -> None:
        self._item_index = index
        self._position = self._first_unmarked()
        self._show_answer()
        self._say(self._progress_sentence())

    def _move(self, step: int) -> None:
        self._position = max(0, min(len(self._answers()) - 1, self._position + step))
        self._show_answer()

    def select_student(self, name: str) -> None:
        """Show `name`'s answer to the current item (by the student's name as listed)."""
        for n, answer in enumerate(self._answers()):
            if answer.student_name == name:
                self._position = n
                self._show_answer()
                return
        raise LookupError(f"no answer from {name!r} to this item")

    def _progress_sentence(self) -> str:
        answers = self._answers()
        done = sum(1 for a in answers if a.mark is not None)
        if not answers:
            return "No answers to this item need marking yet."
        return f"{done} of {len(answers)} answers to this item marked by hand."

    def _show_answer(self) -> None:
        item, answer = self._item(), self._answer()
        answers = self._answers()
        self.progress.setText(self._progress_sentence() if item is not None else "")
        self.prompt.setText(item.prompt if item is not None else "")
        self.guidance.setText(f"Guidance: {item.guidance}" if item is not None and item.guidance else "")
        self.guidance.setVisible(bool(item is not None and item.guidance))
        self.out_of.setText(f"out of {_points(item.max_score)}" if item is not None else "")
        if item is None or answer is None:
            self.student.setText("No answer to mark")
            self.answer.setPlainText("")
            self.current.setText("")
            self.score_edit.clear()
        else:
            self.student.setText(
                f"{answer.student_name} ({answer.unique_id}): answer {self._position + 1} of {len(answers)}"
            )
            self.answer.setPlainText(answer.answer)  # as written: line breaks and spaces kept, nothing reflowed
            self.current.setText(mark_sentence(answer, item.max_score))
            self.score_edit.setText(_points(answer.mark.score) if answer.mark is not None else "")
        markable = answer is not None and not answer.still_sitting and not self._busy
        self.score_edit.setEnabled(markable)
        self.save_button.setEnabled(markable)
        self.previous_button.setEnabled(not self._busy and self._position > 0)
        self.next_button.setEnabled(not self._busy and self._position < len(answers) - 1)
        if markable:
            self.score_edit.setFocus()
            self.score_edit.selectAll()

    # ---- saving ----

    def save(self) -> None:
        item, answer = self._item(), self._answer()
        if item is None or answer is None or self._busy or not self.save_button.isEnabled():
            return
        score = parse_score(self.score_edit.text(), item.max_score)
        if isinstance(score, str):
            self._fail(problem("console.input_needed", score))
            return
        replaces = answer.mark.id if answer.mark is not None else None
        token, result_id, item_id = self._context.token, answer.result_id, item.item_id
        name = answer.student_name
        self._set_busy(True)
        self._say(f"Saving {name}'s mark...")
        call_server(
            self._context,
            lambda c: c.give_hand_mark(token, result_id, item_id, score, replaces=replaces),
            owner=self,
            on_done=self._saved,
            on_error=lambda exc: self._save_failed(exc, name=name),
        )

    def _saved(self, mark: mp.HandMarkOut) -> None:
        sheet, item = self._sheet, self._item()
        self._set_busy(False)
        if sheet is None or item is None:
            return
        answers = [a.model_copy(update={"mark": mark}) if a.result_id == mark.result_id else a for a in item.answers]
        items = list(sheet.items)
        items[self._item_index] = item.model_copy(update={"answers": answers})
        self._sheet = sheet.model_copy(update={"items": items})
        student = next(a.student_name for a in answers if a.result_id == mark.result_id)
        said = f"Saved: {student}, {_points(mark.score)} of {_points(mark.max_score)}."
        if self._position < len(answers) - 1:
            self._position += 1
        elif all(a.mark is not None for a in answers):
            said += " Every answer to this item is marked."
            if self._item_index < len(items) - 1:
                said += " Choose the next item above."
        self._show_answer()
        self._say(said)
        self.saved.emit(mark)

    def _save_failed(self, exc: Exception, *, name: str) -> None:
        self._set_busy(False)
        self._show_answer()
        self._fail(error_sentence(exc, doing=f"save {name}'s mark"))
        if isinstance(exc, Refused) and exc.status == 409:
            # Someone marked it meanwhile (or the student is back in the test): show what the server holds now,
            # keeping the refusal on screen.
            self._keep_error = True
            self.refresh()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.refresh_button.setEnabled(not busy)
        if busy:
            for widget in (self.score_edit, self.save_button, self.previous_button, self.next_button):
                widget.setEnabled(False)
