"""Invigilator actions: the reason dialog every action goes through, and the call that carries it out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from player.ui.widgets import label, set_message
from sync import staff_protocol as sp
from sync.client import InvigilClient
from sync.protocol import InstructionKind

log = logging.getLogger(__name__)

ActionKind = Literal["pause", "resume", "add_time", "end_section", "release", "pause_room", "resume_room"]

STUDENT_INSTRUCTIONS: dict[str, InstructionKind] = {
    "pause": "pause",
    "resume": "resume",
    "add_time": "add_time",
    "end_section": "end_section",
}
REASON_LABELS: dict[str, str] = {
    "toilet_break": "Toilet break",
    "technical_problem": "Technical problem",
    "illness": "Illness",
    "fire_alarm": "Fire alarm",
    "moved_machine": "Moved to another machine",
    "other": "Other (say what)",
}
ACTION_TITLES: dict[str, str] = {
    "pause": "Pause {who}",
    "resume": "Resume {who}",
    "add_time": "Add time for {who}",
    "end_section": "End {who}'s section",
    "release": "Release {who}'s code to another machine",
    "pause_room": "Pause the whole room",
    "resume_room": "Resume the whole room",
}


@dataclass(frozen=True)
class ActionRequest:
    kind: ActionKind
    reason_kind: sp.ReasonKind
    reason: str
    seconds: int | None = None
    allocation_id: str | None = None
    """The student acted on; None for the room actions."""
    student_name: str = ""


class ReasonDialog(QDialog):
    """Asks why (a kind from the short list, plus free text; text is required for "Other") and, for
    "add time", how many minutes. `request()` gives the ActionRequest once accepted."""

    def __init__(
        self,
        kind: ActionKind,
        *,
        student_name: str = "",
        allocation_id: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.kind = kind
        self._student_name = student_name
        self._allocation_id = allocation_id
        title = ACTION_TITLES[kind].format(who=student_name or "the student")
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setMinimumWidth(520)  # room for a reason in the staff member's own words
        self.heading = label(title, name="subtitle")
        self.reason_kind = QComboBox()
        self.reason_kind.setAccessibleName("Reason")
        for value, text in REASON_LABELS.items():
            self.reason_kind.addItem(text, value)
        if kind == "release":
            self.reason_kind.setCurrentIndex(list(REASON_LABELS).index("moved_machine"))
        self.reason_text = QLineEdit()
        self.reason_text.setAccessibleName("Reason, in your words")
        self.reason_text.setMaxLength(sp.MAX_REASON_CHARS)
        self.minutes = QSpinBox()
        self.minutes.setRange(sp.MIN_ADD_SECONDS // 60, sp.MAX_ADD_SECONDS // 60)
        self.minutes.setValue(5)
        self.minutes.setSuffix(" min")
        self.minutes.setAccessibleName("Minutes to add")
        self.message = label(name="error", accessible="No message")
        self.message.hide()
        form = QFormLayout()
        for text, field in (("&Reason", self.reason_kind), ("&Details", self.reason_text)):
            caption = label(text, accessible=text.replace("&", ""))
            caption.setBuddy(field)
            form.addRow(caption, field)
        if kind == "add_time":
            caption = label("&Minutes to add", accessible="Minutes to add")
            caption.setBuddy(self.minutes)
            form.addRow(caption, self.minutes)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(title)
        self.ok_button.setAccessibleName(title)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAccessibleName("Cancel")
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.reason_kind.setFocus()

    def choose_reason(self, reason_kind: sp.ReasonKind, text: str = "") -> None:
        self.reason_kind.setCurrentIndex(self.reason_kind.findData(reason_kind))
        self.reason_text.setText(text)

    def accept(self) -> None:
        if self.reason_kind.currentData() == "other" and not self.reason_text.text().strip():
            set_message(self.message, 'With "Other", say what happened in Details.')
            self.reason_text.setFocus()
            return
        super().accept()

    def request(self) -> ActionRequest:
        return ActionRequest(
            kind=self.kind,
            reason_kind=self.reason_kind.currentData(),
            reason=self.reason_text.text().strip(),
            seconds=self.minutes.value() * 60 if self.kind == "add_time" else None,
            allocation_id=self._allocation_id,
            student_name=self._student_name,
        )


def perform(client: InvigilClient, token: str, request: ActionRequest, *, sitting_id: str) -> str:
    """Carry out one action (on a worker thread); returns the sentence to show once it is done."""
    if request.kind in ("pause_room", "resume_room"):
        room_kind: sp.RoomActionKind = "pause" if request.kind == "pause_room" else "resume"
        receipts = client.act_on_room(
            token, sitting_id, room_kind, reason_kind=request.reason_kind, reason=request.reason
        )
        verb = "Paused" if room_kind == "pause" else "Resumed"
        return f"{verb} {len(receipts)} student{'s' if len(receipts) != 1 else ''}."
    if request.allocation_id is None:
        raise ValueError(f"{request.kind} needs a student")
    if request.kind == "release":
        client.release(token, request.allocation_id, request.reason, reason_kind=request.reason_kind)
        return (
            f"Released {request.student_name}'s code: they can now log in on another machine, "
            "and the old machine cannot continue."
        )
    if request.kind not in STUDENT_INSTRUCTIONS:
        raise ValueError(f"{request.kind} is not an action on one student")
    receipt = client.act(
        token,
        request.allocation_id,
        STUDENT_INSTRUCTIONS[request.kind],
        reason_kind=request.reason_kind,
        reason=request.reason,
        seconds=request.seconds,
    )
    done = {
        "pause": "Paused {who}.",
        "resume": "Resumed {who}.",
        "add_time": "Added {minutes} minutes for {who}.",
        "end_section": "Ended {who}'s section.",
    }[request.kind]
    return done.format(who=receipt.student_name, minutes=(request.seconds or 0) // 60) + (
        " Their computer gets it with its next heartbeat."
    )
