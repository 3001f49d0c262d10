"""The end of the sitting: says where the answers are, offers the result code while they are unsent, then hands
the computer back to an empty screen."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPlainTextEdit, QVBoxLayout, QWidget

from player.ui.qr_view import QrCodeParts
from player.ui.widgets import ChooseSavePath, ask_save_path, button, centred_column, label, set_message
from sync.error_catalogue import Problem, number_for, problem

if TYPE_CHECKING:
    # Types only: the finished screen is built before anyone finishes; player.unsent_results loads the wire types.
    from player.ui.result_slip import ResultSlip
    from player.unsent_results import UnsentResult

log = logging.getLogger(__name__)

SAVED_HERE = "Your answers are saved on this computer and will be sent automatically."
SENT = "All your answers have been sent."
CODE_HINT = (
    "If this computer cannot reach the server, your invigilator can scan the QR code, copy the result code "
    "or save it to a file, and hand it in from another computer."
)
COLUMN_WIDTH = 960
"""Wider than the other screens: the code and its QR code side by side must fit a 1024x700 window."""


@dataclass(frozen=True)
class ResultCodeText:
    """One unsent result envelope as a result code, labelled for people."""

    label: str
    """E.g. "Section 2 of 3: Short answers"."""
    code: str
    """"" when none can be made (then `problem` says why, and there is nothing to copy or save)."""
    file_name: str
    """Suggested file name, e.g. "result-code-ada-lovelace-section-2-of-3-short-answers.txt"."""
    key: str = ""
    """The envelope's idempotency key: the same key is the same envelope (and, in format 3, the same code)."""
    problem: Problem | None = None
    """Why there is no code (numbered), when there is none."""
    student_name: str = ""
    assessment: str = ""
    """The test's title from its delivery form, for the results slip."""
    made_at: datetime | None = None
    """When the result was made (its section's end), for the results slip."""

    @classmethod
    def of(cls, result: UnsentResult) -> ResultCodeText:
        """The result's code, labelled and named as the console does it (player.unsent_results), or why none."""
        from player.unsent_results import NoResultCode

        problem: Problem | None = None
        try:
            code = result.code()
        except NoResultCode as exc:
            code, problem = "", Problem(str(exc), number_for("result.no_code"))
        return cls(
            label=result.section,
            code=code,
            file_name=result.file_name(),
            key=result.key,
            problem=problem,
            student_name=result.student_name,
            assessment=result.assessment_title,
            made_at=result.made_at,
        )

    def slip(self) -> ResultSlip:
        from player.ui.result_slip import ResultSlip

        return ResultSlip(self.student_name, self.assessment, self.label, self.made_at, self.code)


class FinishedScreen(QWidget):
    done = Signal()

    def __init__(self, parent: QWidget | None = None, *, choose_save_path: ChooseSavePath = ask_save_path) -> None:
        super().__init__(parent)
        self.choose_save_path = choose_save_path
        """Asks where to save a code; tests replace it (a file dialog cannot be answered offscreen)."""
        self._codes: list[ResultCodeText] = []
        self.heading = label("You have finished the test", name="title")
        self.delivery = label(SAVED_HERE, name="subtitle")
        self.code_hint = label(CODE_HINT)
        self.code_choice = QComboBox()
        self.code_choice.setAccessibleName("Result code for")
        self.code_choice.currentIndexChanged.connect(self._show_chosen)
        self.code_view = QPlainTextEdit()
        self.code_view.setObjectName("resultCode")
        self.code_view.setReadOnly(True)
        self.code_view.setTabChangesFocus(True)
        self.code_view.setAccessibleName("Result code")
        self.qr = QrCodeParts()
        self.copy_button = button("&Copy result code")
        self.copy_button.clicked.connect(self.copy_code)
        self.save_button = button("&Save result code to a file…", accessible="Save result code to a file")
        self.save_button.clicked.connect(self.save_code)
        self.slip_button = button("Save &results slip (PDF)…", accessible="Save results slip as a PDF")
        self.slip_button.setToolTip("A page to print with each result code and its QR code, for the invigilator")
        self.slip_button.clicked.connect(self.save_slip)
        self.code_message = label(name="saved")
        self.hint = label("Choose Finished so the next student can use this computer.")
        self.finish_button = button("&Finished", primary=True)
        self.finish_button.clicked.connect(self.done)
        actions = QHBoxLayout()
        actions.addWidget(self.copy_button)
        actions.addWidget(self.save_button)
        actions.addWidget(self.slip_button)
        actions.addStretch(1)
        self._code_widgets: tuple[QWidget, ...] = (
            self.code_hint,
            self.code_choice,
            self.code_view,
            self.copy_button,
            self.save_button,
            self.slip_button,
        )
        text_column = QVBoxLayout()
        text_column.addWidget(self.code_view, 1)
        text_column.addLayout(self.qr.steps)
        qr_column = QVBoxLayout()
        qr_column.addWidget(self.qr.symbol)
        qr_column.addWidget(self.qr.problem)
        code_row = QHBoxLayout()
        code_row.addLayout(text_column, 1)
        code_row.addLayout(qr_column)
        layout = centred_column(self, max_width=COLUMN_WIDTH)
        layout.addStretch(1)
        for widget in (self.heading, self.delivery, self.code_hint, self.code_choice):
            layout.addWidget(widget)
        layout.addLayout(code_row)
        layout.addLayout(actions)
        for tail in (self.code_message, self.hint, self.finish_button):
            layout.addWidget(tail)
        layout.addStretch(2)
        self.setTabOrder(self.finish_button, self.code_choice)
        self.setTabOrder(self.code_choice, self.code_view)
        self.setTabOrder(self.code_view, self.copy_button)
        self.setTabOrder(self.copy_button, self.save_button)
        self.setTabOrder(self.save_button, self.slip_button)
        self.setTabOrder(self.slip_button, self.qr.previous_button)
        self.setTabOrder(self.qr.previous_button, self.qr.next_button)
        # Hidden until there are codes (set_codes([]) would see "no change" and leave them on show, empty).
        for hidden in self._code_widgets:
            hidden.setVisible(False)
        set_message(self.code_message, "")

    def set_delivery_state(self, *, sent: bool) -> None:
        """True once the server holds every answer of this sitting."""
        self.delivery.setText(SENT if sent else SAVED_HERE)
        self.delivery.setAccessibleName(self.delivery.text())
        if sent:
            self.set_codes([])

    def is_sent(self) -> bool:
        return self.delivery.text() == SENT

    def set_codes(self, codes: Sequence[ResultCodeText]) -> None:
        """The result codes of the envelopes still on this computer; none hides the code controls."""
        codes = list(codes)
        if [(c.key, c.label) for c in codes] == [(c.key, c.label) for c in self._codes]:
            # Same envelopes (a format-2 code would differ only by its random nonce): keep what
            # staff may be reading or have selected.
            return
        self._codes = codes
        self.code_choice.blockSignals(True)
        self.code_choice.clear()
        self.code_choice.addItems([c.label for c in codes])
        self.code_choice.blockSignals(False)
        for widget in self._code_widgets:
            widget.setVisible(bool(codes))
        # One code: nothing to choose between.
        self.code_choice.setVisible(len(codes) > 1)
        if not codes:
            set_message(self.code_message, "")
        self._show_chosen()

    def codes(self) -> list[ResultCodeText]:
        return list(self._codes)

    def chosen(self) -> ResultCodeText | None:
        index = self.code_choice.currentIndex()
        return self._codes[index] if 0 <= index < len(self._codes) else None

    def _show_chosen(self) -> None:
        chosen = self.chosen()
        self.code_view.setPlainText(chosen.code if chosen else "")
        self.qr.show_code(
            chosen.code if chosen else "", subject=f"the result code for {chosen.label}" if chosen else ""
        )
        problem = chosen.problem if chosen is not None else None
        for widget in (self.copy_button, self.save_button):
            widget.setEnabled(chosen is not None and problem is None)
        self.slip_button.setEnabled(any(c.code for c in self._codes))
        if problem is not None:
            set_message(self.code_message, problem)
        elif self.code_message.text() in {c.problem.text for c in self._codes if c.problem is not None}:
            set_message(self.code_message, "")

    def copy_code(self) -> None:
        chosen = self.chosen()
        if chosen is None or chosen.problem:
            return
        QGuiApplication.clipboard().setText(chosen.code)
        set_message(self.code_message, f"The result code for {chosen.label} is on the clipboard.")

    def save_code(self) -> None:
        chosen = self.chosen()
        if chosen is None or chosen.problem:
            return
        path = self.choose_save_path(self, chosen.file_name)
        if path is None:
            return
        from player.ui.result_code_files import saved_sentence, write_code_files

        try:
            saved = write_code_files(path, chosen.code)
        except OSError as exc:
            log.warning("Result code not saved to %s: %s", path, exc)
            set_message(
                self.code_message,
                problem(
                    "result.save_failed",
                    f"The result code could not be saved to {path} ({exc.strerror or exc}). "
                    "Choose another place, such as a USB stick, or copy it instead.",
                ),
            )
            return
        log.info("Result code for %s saved to %s (%d QR code images)", chosen.label, path, len(saved.images))
        set_message(self.code_message, saved_sentence(f"The result code for {chosen.label}", saved))

    def save_slip(self) -> None:
        """Every code of this sitting on a results slip (a PDF, one page or more per code) to print for staff."""
        codes = [c for c in self._codes if c.code]
        if not codes:
            return
        from player.ui.paper import pages_text
        from player.ui.result_slip import ResultSlipError, write_result_slips_pdf
        from player.unsent_results import slip_file_name

        student = codes[0].student_name
        path = self.choose_save_path(self, slip_file_name(student, codes[0].label if len(codes) == 1 else ""))
        if path is None:
            return
        try:
            pages = write_result_slips_pdf(path, [c.slip() for c in codes])
        except (OSError, ResultSlipError) as exc:
            log.warning("Results slip not saved to %s: %s", path, exc)
            reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
            set_message(
                self.code_message,
                problem(
                    "result.save_failed",
                    f"The results slip could not be saved to {path} ({reason}). "
                    "Choose another place, such as a USB stick, or save the result code to a file instead.",
                ),
            )
            return
        log.info("Results slip of %d code(s) saved to %s", len(codes), path)
        several = f"all {len(codes)} result codes" if len(codes) > 1 else "the result code"
        set_message(
            self.code_message,
            f"The results slip with {several} ({pages_text(pages)}) is saved in {path}. Print it for the invigilator.",
        )
