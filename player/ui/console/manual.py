"""Manual dictation entries per student: typed and written dictation values, comments, and evidence uploads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from player.ui.console.dates import local_time
from player.ui.console.server_calls import call_server, error_sentence
from player.ui.console.sitting_tab import SittingTab
from player.ui.console.sittings import SittingContext
from player.ui.widgets import button, caption, label
from sync import staff_protocol as sp
from sync.error_catalogue import problem

log = logging.getLogger(__name__)

ChooseOpenPath = Callable[[QWidget], Path | None]
"""Asks for a file to read (parent) -> the path, or None when cancelled; tests pass their own."""


def ask_open_evidence(parent: QWidget) -> Path | None:
    name, _ = QFileDialog.getOpenFileName(
        parent, "Choose a scan or photo of the written work", "", "Scans and photos (*.png *.jpg *.jpeg *.pdf)"
    )
    return Path(name) if name else None


MAX_VALUE_CHARS = 100
MAX_COMMENT_CHARS = 4000


def _with_scale(edit: QLineEdit, scale: QWidget) -> QWidget:
    """The box with its scale beside it, as one field: the row's "&" caption then focuses the box (focus proxy)."""
    field = QWidget()
    row = QHBoxLayout(field)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(scale)
    field.setFocusProxy(edit)
    return field


def _value(text: str) -> str | None:
    # An empty box clears the value on the server, rather than storing "".
    return text.strip() or None


class ManualEntriesView(SittingTab):
    """Students on the left; the selected student's hand-marked values, comments and evidence on the right."""

    loaded = Signal(object)  # ManualEntryOut, after a student's entries arrive
    saved = Signal(object)  # ManualEntryOut, after the server stored them
    evidence_added = Signal(object)  # EvidenceOut

    def __init__(
        self,
        context: SittingContext,
        *,
        choose_evidence: ChooseOpenPath = ask_open_evidence,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(context, parent)
        self._choose_evidence = choose_evidence
        self._allocation_id: str | None = None
        self._dictation_max: float | None = None
        self._student_name = ""

        self.students = QListWidget()
        self.students.setAccessibleName("Students")
        self.students.currentItemChanged.connect(self._student_chosen)
        self.heading = label("Choose a student", name="subtitle")
        self.typed_edit = QLineEdit()
        self.typed_edit.setAccessibleName("Typed dictation")
        self.written_edit = QLineEdit()
        self.written_edit.setAccessibleName("Written dictation")
        for edit in (self.typed_edit, self.written_edit):
            edit.setMaxLength(MAX_VALUE_CHARS)
        self.comments_edit = QPlainTextEdit()
        self.comments_edit.setAccessibleName("Comments")
        self.comments_edit.setTabChangesFocus(True)
        self.save_button = button("&Save", primary=True)
        self.save_button.clicked.connect(self.save)
        self.evidence_list = QListWidget()
        self.evidence_list.setAccessibleName("Evidence of written work")
        self.add_evidence_button = button("Add &evidence...", accessible="Add evidence of written work")
        self.add_evidence_button.clicked.connect(self.add_evidence)

        # The scale is the test's: its dictation items' points together (the server refuses anything else).
        self.typed_scale = label(wrap=False, accessible="Typed dictation scale")
        self.written_scale = label(wrap=False, accessible="Written dictation scale")
        form = QFormLayout()
        form.addRow(caption("&Typed dictation", self.typed_edit), _with_scale(self.typed_edit, self.typed_scale))
        form.addRow(
            caption("&Written dictation", self.written_edit), _with_scale(self.written_edit, self.written_scale)
        )
        form.addRow(caption("&Comments", self.comments_edit), self.comments_edit)
        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addLayout(form)
        right.addWidget(self.save_button, alignment=Qt.AlignmentFlag.AlignLeft)
        right.addWidget(label("Evidence of written work (PNG, JPEG or PDF, at most 10 MB)"))
        right.addWidget(self.evidence_list)
        right.addWidget(self.add_evidence_button, alignment=Qt.AlignmentFlag.AlignLeft)
        right.addWidget(self.message)
        right.addWidget(self.error)
        layout = QHBoxLayout(self)
        layout.addWidget(self.students, 1)
        layout.addLayout(right, 2)
        self._set_editable(False)
        self.refresh_students()

    # ---- loading ----

    def refresh_students(self) -> None:
        sitting_id = self._context.sitting_id
        call_server(
            self._context,
            lambda c: c.room(self._context.token, sitting_id),
            owner=self,
            on_done=self._show_students,
            on_error=lambda exc: self._failed(exc, doing="load the students"),
        )

    def _show_students(self, room: sp.RoomView) -> None:
        keep = self._allocation_id
        self.students.clear()
        for student in sorted(room.students, key=lambda s: s.student_name.casefold()):
            item = QListWidgetItem(f"{student.student_name} ({student.unique_id})")
            item.setData(Qt.ItemDataRole.UserRole, (student.allocation_id, student.student_name))
            self.students.addItem(item)
            if student.allocation_id == keep:
                self.students.setCurrentItem(item)

    def select_student(self, allocation_id: str) -> None:
        for row in range(self.students.count()):
            item = self.students.item(row)
            if item.data(Qt.ItemDataRole.UserRole)[0] == allocation_id:
                self.students.setCurrentItem(item)
                return
        raise LookupError(f"allocation {allocation_id} is not in this sitting's list of students")

    def _student_chosen(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        self._allocation_id, self._student_name = item.data(Qt.ItemDataRole.UserRole)
        self.heading.setText(self._student_name)
        self._set_editable(False)
        self._say(f"Loading {self._student_name}'s entries...")
        allocation_id = self._allocation_id
        call_server(
            self._context,
            lambda c: c.manual(self._context.token, allocation_id),
            owner=self,
            on_done=self._show_entry,
            on_error=lambda exc: self._failed(exc, doing=f"load {self._student_name}'s entries"),
        )

    def _show_entry(self, entry: sp.ManualEntryOut) -> None:
        if entry.allocation_id != self._allocation_id:
            return  # the invigilator moved on to another student while this one loaded
        self.typed_edit.setText(entry.typed_dictation or "")
        self.written_edit.setText(entry.written_dictation or "")
        self.comments_edit.setPlainText(entry.comments or "")
        self._dictation_max = entry.dictation_max
        scale = "" if entry.dictation_max is None else f"out of {entry.dictation_max:g}"
        for scale_label in (self.typed_scale, self.written_scale):
            scale_label.setText(scale or "(this test has no dictation)")
        self.evidence_list.clear()
        for evidence in entry.evidence:
            self._list_evidence(evidence)
        self._set_editable(True)
        when = f"Last saved by {entry.updated_by}, {local_time(entry.updated_at)}." if entry.updated_at else ""
        self._say(when or "Nothing entered yet.")
        self.loaded.emit(entry)

    def _list_evidence(self, evidence: sp.EvidenceOut) -> None:
        size_kb = max(1, round(evidence.size / 1024))
        text = f"{evidence.filename} ({size_kb} KB, {local_time(evidence.uploaded_at)}, {evidence.uploaded_by})"
        self.evidence_list.addItem(text)

    # ---- saving ----

    def save(self) -> None:
        allocation_id = self._allocation_id
        if allocation_id is None:
            self._fail(problem("console.input_needed", "Choose a student first."))
            return
        comments = self.comments_edit.toPlainText()
        if len(comments) > MAX_COMMENT_CHARS:
            self._fail(
                problem(
                    "console.input_needed",
                    f"The comments are {len(comments)} characters long; keep them under {MAX_COMMENT_CHARS} and "
                    "save again.",
                )
            )
            return
        entry = sp.ManualEntryIn(
            typed_dictation=_value(self.typed_edit.text()),
            written_dictation=_value(self.written_edit.text()),
            comments=_value(comments),
        )
        name = self._student_name
        self._set_editable(False)
        self._say(f"Saving {name}'s entries...")
        call_server(
            self._context,
            lambda c: c.save_manual(self._context.token, allocation_id, entry),
            owner=self,
            on_done=self._saved,
            on_error=lambda exc: self._failed(exc, doing=f"save {name}'s entries", editable=True),
        )

    def _saved(self, entry: sp.ManualEntryOut) -> None:
        self._set_editable(True)
        self._say(f"Saved {entry.student_name}'s entries at {local_time(entry.updated_at)}.")
        self.saved.emit(entry)

    def add_evidence(self) -> None:
        allocation_id = self._allocation_id
        if allocation_id is None:
            self._fail(problem("console.input_needed", "Choose a student first."))
            return
        path = self._choose_evidence(self)
        if path is None:
            return
        name = self._student_name
        self._set_editable(False)
        self._say(f"Uploading {path.name}...")
        call_server(
            self._context,
            lambda c: c.upload_evidence(self._context.token, allocation_id, path),
            owner=self,
            on_done=self._evidence_added,
            on_error=lambda exc: self._failed(exc, doing=f"upload {path.name} for {name}", editable=True),
        )

    def _evidence_added(self, evidence: sp.EvidenceOut) -> None:
        self._set_editable(True)
        self._list_evidence(evidence)
        self._say(f"Uploaded {evidence.filename}.")
        self.evidence_added.emit(evidence)

    # ---- messages ----

    def _set_editable(self, editable: bool) -> None:
        for widget in (self.comments_edit, self.save_button):
            widget.setEnabled(editable)
        for edit in (self.typed_edit, self.written_edit):
            edit.setEnabled(editable and self._dictation_max is not None)
        self.add_evidence_button.setEnabled(editable)

    def _failed(self, exc: Exception, *, doing: str, editable: bool = False) -> None:
        if editable:
            self._set_editable(True)
        self._fail(error_sentence(exc, doing=doing))
