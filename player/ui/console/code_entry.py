"""Where staff hand in result codes from machines that never got online: paste one, open a saved file, or read
its QR code (qr_reader.py), and it is sent to the server (the codec is sync.resultcode)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPlainTextEdit, QVBoxLayout, QWidget

from player.ui.console.problems import problem_of
from player.ui.console.qr_camera import ListCameras, system_cameras
from player.ui.console.qr_reader import ChooseImage, QrReaderPanel, ask_open_qr_image
from player.ui.console.sittings import ClientFactory, guarded
from player.ui.tasks import Report, TaskRunner
from player.ui.widgets import button, label, set_message
from sync import resultcode
from sync import staff_protocol as sp
from sync.error_catalogue import Problem, api_number, number_for, problem

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 4 * resultcode.MAX_TEXT_LENGTH
"""No saved code is bigger (at most 4 bytes a character in UTF-8); a bigger file is not a result code."""


def describe_receipt(receipt: sp.ResultCodeReceipt) -> str:
    who = f"{receipt.student_name} ({receipt.sitting_name})"
    if receipt.duplicate:
        return f"Already received: the results of {who} were already on the server. Nothing changed."
    return f"New results received for {who}. They are stored on the server."


def read_code_file(path: Path) -> str:
    """The text of a saved result code; ValueError with a sentence naming the file when it cannot be one."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{path.name} is {size:,} bytes: too big to be a result code. Choose the saved code file.")
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist any more. Choose the file again.") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not a text file, so it is not a saved result code.") from None
    except OSError as exc:
        raise ValueError(f"{path.name} cannot be read ({exc.strerror}).") from None


class CodeEntryView(QWidget):
    """The console's "Result codes" tab: one code at a time, sent on a worker thread, the receipt in words."""

    def __init__(
        self,
        *,
        client_factory: ClientFactory,
        token: Callable[[], str],
        tasks: TaskRunner,
        cameras: ListCameras = system_cameras,
        choose_image: ChooseImage = ask_open_qr_image,
    ) -> None:
        super().__init__()
        self._client_factory = client_factory
        self._token = token
        self._tasks = tasks
        self._busy = False
        self._queued: list[str] = []
        """Codes read from QR codes while a submission was out (a picture may hold several), sent in turn."""
        self.last_receipt: sp.ResultCodeReceipt | None = None
        self.heading = label("Result codes", name="subtitle")
        self.hint = label(
            "Paste the code shown on a student's computer that could not send its results, open the file it "
            "saved, or read its QR code with a camera or from a photo or screenshot. Submitting a code twice does "
            "no harm."
        )
        self.reader = QrReaderPanel(tasks=tasks, cameras=cameras, choose_image=choose_image)
        self.code_edit = QPlainTextEdit()
        self.code_edit.setAccessibleName("Result code")
        self.code_edit.setObjectName("resultCode")  # the finished screen's look: monospace, so groups line up
        self.code_edit.setTabChangesFocus(True)
        self.message = label(accessible="No message")
        self.message.hide()
        # Mnemonics clear of the tabs (Sittings, Result codes) and the header (Lock, Sign out) shown beside them.
        self.submit_button = button("Su&bmit code", accessible="Submit code", primary=True)
        self.open_button = button("Open saved &file…", accessible="Open saved file")
        self.clear_button = button("C&lear", accessible="Clear")
        row = QHBoxLayout()
        for action in (self.submit_button, self.open_button, self.clear_button):
            row.addWidget(action)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        for widget in (self.heading, self.hint, self.reader, self.code_edit, self.message):
            layout.addWidget(widget)
        layout.addLayout(row)
        self.submit_button.clicked.connect(self.submit)
        self.open_button.clicked.connect(self.choose_file)
        self.clear_button.clicked.connect(self.clear)
        self.reader.code_read.connect(self.submit_read_code)

    def clear(self) -> None:
        """Ready for the next code: the box, the queue, the parts read so far and the last code's message go."""
        self.code_edit.clear()
        self._queued.clear()
        self.reader.forget()
        # A refusal left standing would read as if it were about the next code.
        self._say("", error=False)

    def submit_read_code(self, code: str) -> None:
        """A code read from QR codes: into the box and submitted as if typed (after the one being sent, if any)."""
        if self._busy:
            if code not in self._queued:
                self._queued.append(code)
            return
        self.code_edit.setPlainText(code)
        self.submit()

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open a saved result code", "", "Result codes (*.txt);;All (*)")
        if name:
            self.load_file(Path(name))

    def load_file(self, path: Path) -> None:
        try:
            text = read_code_file(path)
        except ValueError as exc:
            self._say(problem("console.file_failed", str(exc)), error=True)
            return
        self.code_edit.setPlainText(text)
        self.submit()

    def submit(self) -> None:
        if self._busy:
            return
        code = self.code_edit.toPlainText()
        try:
            # Only the length here, on the GUI thread: it is instant, and a pasted novel is refused at once.
            resultcode.refuse_if_too_long(code)
        except resultcode.ResultCodeError as exc:
            self._refused(exc)
            return
        self._set_busy(True)
        self._say("Checking the code…", error=False)
        factory, token = self._client_factory, self._token()

        def work(report: Report) -> sp.ResultCodeReceipt:
            # The groups' check symbols are verified first (on the worker: a long code takes a moment): a typo
            # is named at once, even offline, and nothing is sent.
            resultcode.peek_attempt_id(code)
            report(1, 2)
            with factory() as client:
                return client.submit_result_code(token, code)

        checked = guarded(self, self._checked)
        self._tasks.run_reporting(
            work,
            on_progress=lambda done, total: checked((done, total)),
            on_done=guarded(self, self._received),
            on_error=guarded(self, self._refused),
        )

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for action in (self.submit_button, self.open_button, self.clear_button):
            action.setEnabled(not busy)
        self.code_edit.setReadOnly(busy)

    def _checked(self, _progress: tuple[int, int]) -> None:
        self._say("Sending…", error=False)

    def _received(self, receipt: sp.ResultCodeReceipt) -> None:
        self._set_busy(False)
        self.last_receipt = receipt
        self._say(describe_receipt(receipt), error=False)
        self._next_queued()

    def _refused(self, exc: Exception) -> None:
        self._set_busy(False)
        self._say(_code_problem(exc), error=True)
        if isinstance(exc, resultcode.ResultCodeError):
            self.code_edit.setFocus()  # the code itself is wrong: the person fixes it there
        self._next_queued()

    def _next_queued(self) -> None:
        if self._queued:
            self.submit_read_code(self._queued.pop(0))

    def _say(self, text: str | Problem, *, error: bool) -> None:
        self.message.setObjectName("error" if error else "saved")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        set_message(self.message, text)


def _code_problem(exc: Exception) -> Problem:
    """A refused result code, numbered: a mistake the console found itself has the number the server gives the
    same mistake (api.result_code_<reason>); the server's refusals carry their own."""
    if isinstance(exc, resultcode.ResultCodeError):
        return Problem(
            exc.message, api_number(f"result_code_{exc.reason}") or number_for("console.result_code_invalid")
        )
    return problem_of(exc)
