"""Invigilator actions: the reason dialog every action goes through, and the call that carries it out."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

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

ActionKind = sp.ActionKind

STUDENT_INSTRUCTIONS: dict[str, InstructionKind] = {
    "pause": "pause",
    "resume": "resume",
    "add_time": "add_time",
    "end_section": "end_section",
}
ROOM_ACTIONS: dict[str, sp.RoomActionKind] = {
    "pause_room": "pause",
    "resume_room": "resume",
    "add_time_room": "add_time",
    "end_section_room": "end_section",
}
REASON_LABELS: dict[str, str] = {
    "toilet_break": "Toilet break",
    "technical_problem": "Technical problem",
    "illness": "Illness",
    "fire_alarm": "Fire alarm or evacuation",
    "moved_machine": "Moved to another machine",
    "break_over": "Break over: back at the desk",
    "problem_fixed": "Problem fixed",
    "alarm_over": "Alarm or disruption over",
    "access_arrangement": "Access arrangement",
    "finished_early": "Finished early: asked to move on",
    "malpractice": "Suspected malpractice",
    "room_timetable": "The room moves on together",
    "other": "Other (say what)",
}
REASONS_FOR = sp.REASONS_FOR
"""The reasons that make sense for each action (the server takes no other); none is chosen until the invigilator
picks one (or types one)."""
ACTION_TITLES: dict[str, str] = {
    "pause": "Pause {who}",
    "resume": "Resume {who}",
    "add_time": "Add time for {who}",
    "end_section": "End {who}'s section",
    "release": "Release {who}'s code to another machine",
    "pause_room": "Pause the whole room",
    "resume_room": "Resume the whole room",
    "add_time_room": "Add time for the whole room",
    "end_section_room": "End a section for the whole room",
}
NO_REASON = "Choose a reason from the list, or type one in Details."


@dataclass(frozen=True)
class RoomSection:
    """A section students in the room are in now, for ending it for all of them."""

    section_id: str
    title: str
    students: int


@dataclass(frozen=True)
class ActionRequest:
    kind: ActionKind
    reason_kind: sp.ReasonKind
    reason: str
    seconds: int | None = None
    allocation_id: str | None = None
    """The student acted on; None for the room actions."""
    student_name: str = ""
    section_id: str | None = None
    """end_section_room: the section ended for everyone in it."""
    section_title: str = ""


def final_warning(kind: ActionKind, *, who: str, section: str, students: int = 0) -> str:
    """What ending a section means, said before it is done: it cannot be undone."""
    if kind == "end_section_room":
        many = f"{students} student{'s' if students != 1 else ''}"
        return (
            f"This is final: the {many} in {section} move on and cannot go back to it. "
            "Their answers to it are kept and sent."
        )
    return (
        f"This is final: {who} moves on from {section} and cannot go back to it. Their answers to it are kept and sent."
    )


class ReasonDialog(QDialog):
    """Asks why (a reason that fits the action, none chosen at first, or the invigilator's own words in Details;
    "Other" needs Details) and, to add time, how many minutes. Ending a section names the section and says it is
    final; for the whole room it asks which section. `request()` gives the ActionRequest once accepted."""

    def __init__(
        self,
        kind: ActionKind,
        *,
        student_name: str = "",
        allocation_id: str | None = None,
        section_title: str = "",
        sections: Sequence[RoomSection] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.kind = kind
        self._student_name = student_name
        self._allocation_id = allocation_id
        self._section_title = section_title
        self._sections = list(sections)
        title = ACTION_TITLES[kind].format(who=student_name or "the student")
        if kind == "end_section" and section_title:
            title = f"End {student_name or 'the student'}'s section: {section_title}"
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setMinimumWidth(600)  # room for a reason in the staff member's own words, and a section's name
        self.heading = label(title, name="subtitle")
        self.warning = label(accessible="What this means")
        self.warning.setWordWrap(True)
        self.warning.hide()
        self.section = QComboBox()
        self.section.setAccessibleName("Section to end")
        for section in self._sections:
            many = f"{section.students} student{'s' if section.students != 1 else ''}"
            self.section.addItem(f"{section.title} ({many} in it now)", section.section_id)
        self.reason_kind = QComboBox()
        self.reason_kind.setAccessibleName("Reason")
        for value in REASONS_FOR[kind]:
            self.reason_kind.addItem(REASON_LABELS[value], value)
        # No reason is chosen for the invigilator: the log must say what they said, not what the list began with.
        self.reason_kind.setPlaceholderText("Choose a reason…")
        self.reason_kind.setCurrentIndex(-1)
        self.reason_text = QLineEdit()
        self.reason_text.setAccessibleName("Reason, in your words")
        self.reason_text.setPlaceholderText("Or type the reason here")
        self.reason_text.setMaxLength(sp.MAX_REASON_CHARS)
        self.minutes = QSpinBox()
        self.minutes.setRange(sp.MIN_ADD_SECONDS // 60, sp.MAX_ADD_SECONDS // 60)
        self.minutes.setValue(5)
        self.minutes.setSuffix(" min")
        self.minutes.setAccessibleName("Minutes to add")
        self.message = label(name="error", accessible="No message")
        self.message.hide()
        form = QFormLayout()
        if kind == "end_section_room":
            self._add_row(form, "&Section", self.section)
            self.section.currentIndexChanged.connect(self._say_what_ending_means)
        self._add_row(form, "&Reason", self.reason_kind)
        self._add_row(form, "&Details", self.reason_text)
        if kind in ("add_time", "add_time_room"):
            self._add_row(form, "&Minutes to add", self.minutes)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        # The button says what it does in a few words; the heading says whose and which section.
        verb = "End the section" if kind == "end_section" else title
        self.ok_button.setText(verb)
        self.ok_button.setAccessibleName(verb)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAccessibleName("Cancel")
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.warning)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._say_what_ending_means()
        (self.section if kind == "end_section_room" else self.reason_kind).setFocus()
        self.adjustSize()  # tall enough for the wrapped warning at this width

    @staticmethod
    def _add_row(form: QFormLayout, text: str, field: QWidget) -> None:
        caption = label(text, accessible=text.replace("&", ""))
        caption.setBuddy(field)
        form.addRow(caption, field)

    def _say_what_ending_means(self) -> None:
        if self.kind == "end_section":
            section = f"the section {self._section_title}" if self._section_title else "their current section"
            text = final_warning(self.kind, who=self._student_name or "the student", section=section)
        elif self.kind == "end_section_room" and self._sections:
            chosen = self._sections[max(0, self.section.currentIndex())]
            text = final_warning(self.kind, who="", section=chosen.title, students=chosen.students)
            self.ok_button.setText(f"End {chosen.title} for {chosen.students}")
            self.ok_button.setAccessibleName(self.ok_button.text())
        else:
            return
        self.warning.setText(text)
        self.warning.show()

    def choose_reason(self, reason_kind: sp.ReasonKind | None, text: str = "") -> None:
        """Pick `reason_kind` from this action's list (None: none, the reason typed in Details alone)."""
        index = -1 if reason_kind is None else self.reason_kind.findData(reason_kind)
        if reason_kind is not None and index < 0:
            raise LookupError(f"{reason_kind} is not a reason offered for {self.kind}")
        self.reason_kind.setCurrentIndex(index)
        self.reason_text.setText(text)

    def choose_section(self, section_id: str) -> None:
        index = self.section.findData(section_id)
        if index < 0:
            raise LookupError(f"no student is in section {section_id}")
        self.section.setCurrentIndex(index)

    def accept(self) -> None:
        chosen = self.reason_kind.currentData()
        typed = self.reason_text.text().strip()
        if chosen is None and not typed:
            set_message(self.message, NO_REASON)
            self.reason_kind.setFocus()
            return
        if chosen == "other" and not typed:
            set_message(self.message, 'With "Other", say what happened in Details.')
            self.reason_text.setFocus()
            return
        super().accept()

    def request(self) -> ActionRequest:
        section = self._sections[self.section.currentIndex()] if self.kind == "end_section_room" else None
        return ActionRequest(
            kind=self.kind,
            # A reason only typed is an "other" reason in the invigilator's words.
            reason_kind=self.reason_kind.currentData() or "other",
            reason=self.reason_text.text().strip(),
            seconds=self.minutes.value() * 60 if self.kind in ("add_time", "add_time_room") else None,
            allocation_id=self._allocation_id,
            student_name=self._student_name,
            section_id=section.section_id if section else None,
            section_title=section.title if section else self._section_title,
        )


def perform(client: InvigilClient, token: str, request: ActionRequest, *, sitting_id: str) -> str:
    """Carry out one action (on a worker thread); returns the sentence to show once it is done."""
    if request.kind in ROOM_ACTIONS:
        return _perform_on_room(client, token, request, sitting_id=sitting_id)
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
    section = request.section_title or "their section"
    done = {
        "pause": "Paused {who}.",
        "resume": "Resumed {who}.",
        "add_time": "Added {minutes} minutes for {who}.",
        "end_section": "Ended {section} for {who}.",
    }[request.kind]
    return done.format(who=receipt.student_name, minutes=(request.seconds or 0) // 60, section=section) + (
        " Their computer gets it with its next heartbeat."
    )


def _perform_on_room(client: InvigilClient, token: str, request: ActionRequest, *, sitting_id: str) -> str:
    kind = ROOM_ACTIONS[request.kind]
    receipts = client.act_on_room(
        token,
        sitting_id,
        kind,
        reason_kind=request.reason_kind,
        reason=request.reason,
        seconds=request.seconds,
        section_id=request.section_id,
    )
    if not receipts:
        return {
            "pause": "Nobody is working right now, so nobody was paused.",
            "resume": "Nobody is paused, so nobody was resumed.",
            "add_time": "Nobody is working right now, so no time was added.",
            "end_section": f"Nobody is in {request.section_title} now, so it was not ended for anyone.",
        }[kind]
    many = f"{len(receipts)} student{'s' if len(receipts) != 1 else ''}"
    return {
        "pause": f"Paused {many}.",
        "resume": f"Resumed {many}.",
        "add_time": f"Added {(request.seconds or 0) // 60} minutes for {many}.",
        "end_section": f"Ended {request.section_title} for {many}.",
    }[kind] + " Their computers get it with their next heartbeat."
