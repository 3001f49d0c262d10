"""Wire types of the invigilator's actions (the staff API; sync.staff_protocol re-exports them): the reasons, and
actions on one student or on the whole room. Bounded as all staff input is (see sync.staff_protocol)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, ValidationInfo, field_validator

from sync.protocol import Id, InstructionKind, NoNul, WireModel

ReasonKind = Literal[
    "toilet_break",
    "technical_problem",
    "illness",
    "fire_alarm",
    "moved_machine",
    "other",
    "break_over",
    "problem_fixed",
    "alarm_over",
    "access_arrangement",
    "finished_early",
    "malpractice",
    "room_timetable",
]
REASON_KINDS: tuple[str, ...] = get_args(ReasonKind)
RoomActionKind = Literal["pause", "resume", "add_time", "end_section"]
ActionKind = Literal[
    "pause",
    "resume",
    "add_time",
    "end_section",
    "release",
    "pause_room",
    "resume_room",
    "add_time_room",
    "end_section_room",
]
"""Every invigilator action, as the reason lists and the console name them (`_room`: for the whole room)."""
WHOLE_ROOM: dict[RoomActionKind, ActionKind] = {
    "pause": "pause_room",
    "resume": "resume_room",
    "add_time": "add_time_room",
    "end_section": "end_section_room",
}
"""A room action's name among all actions."""
REASONS_FOR: dict[ActionKind, tuple[ReasonKind, ...]] = {
    "pause": ("toilet_break", "illness", "technical_problem", "fire_alarm", "other"),
    "resume": ("break_over", "problem_fixed", "alarm_over", "other"),
    "add_time": ("technical_problem", "illness", "access_arrangement", "fire_alarm", "other"),
    "end_section": ("finished_early", "malpractice", "illness", "technical_problem", "other"),
    "release": ("moved_machine", "technical_problem", "other"),
    "pause_room": ("fire_alarm", "technical_problem", "other"),
    "resume_room": ("alarm_over", "problem_fixed", "other"),
    "add_time_room": ("fire_alarm", "technical_problem", "other"),
    "end_section_room": ("room_timetable", "fire_alarm", "other"),
}
"""The reasons that make sense for each action: the console offers these, and the server takes no other (a
"toilet break" that ends a section would make the sitting's log say something false)."""
_ACTION_WORDS: dict[ActionKind, str] = {
    "pause": "pause a student",
    "resume": "resume a student",
    "add_time": "add time for a student",
    "end_section": "end a student's section",
    "release": "release a student's code",
    "pause_room": "pause the whole room",
    "resume_room": "resume the whole room",
    "add_time_room": "add time for the whole room",
    "end_section_room": "end a section for the whole room",
}
MAX_REASON_CHARS = 500
MIN_ADD_SECONDS = 60
MAX_ADD_SECONDS = 3600


def reason_refused(action: ActionKind, reason_kind: str) -> str | None:
    """Why `reason_kind` cannot be the reason for `action`, in words; None when it can."""
    allowed = REASONS_FOR[action]
    if reason_kind in allowed:
        return None
    listed = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
    return (
        f'"{reason_kind}" is not a reason to {_ACTION_WORDS[action]}; the reason_kind must be one of {listed} '
        '(with "other", say what happened in reason). Nothing was changed.'
    )


class Reasoned(WireModel):
    """Every invigilator action carries a reason: a kind from the short list, and free text (needed for "other")."""

    reason_kind: ReasonKind
    reason: Annotated[str, Field(max_length=MAX_REASON_CHARS), NoNul] = Field(default="", validate_default=True)

    @field_validator("reason")
    @classmethod
    def _reason_for_other(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("reason_kind") == "other" and not value.strip():
            raise ValueError('say what happened: a reason is required when the reason kind is "other"')
        return value.strip()


class ReleaseRequest(Reasoned):
    """Release a student's code so the attempt continues on another machine."""


def _check_added_seconds(value: int | None, kind: object) -> int | None:
    if kind == "add_time":
        if value is None:
            raise ValueError(f"add_time needs seconds ({MIN_ADD_SECONDS} to {MAX_ADD_SECONDS})")
        if not MIN_ADD_SECONDS <= value <= MAX_ADD_SECONDS:
            raise ValueError(
                f"add between {MIN_ADD_SECONDS} and {MAX_ADD_SECONDS} seconds (1 to 60 minutes), not {value}"
            )
    elif value is not None:
        raise ValueError(f"seconds is only for add_time, not for {kind}")
    return value


AddedSeconds = (
    # The range is checked by _check_added_seconds (with a message in minutes); the schema says it too.
    Annotated[int, Field(json_schema_extra={"minimum": MIN_ADD_SECONDS, "maximum": MAX_ADD_SECONDS})] | None
)


class ActionIn(Reasoned):
    """An action on one student: pause, resume, add time (seconds 60..3600) or end their current section."""

    kind: InstructionKind
    seconds: AddedSeconds = Field(default=None, validate_default=True)

    @field_validator("seconds")
    @classmethod
    def _seconds_for_add_time(cls, value: int | None, info: ValidationInfo) -> int | None:
        return _check_added_seconds(value, info.data.get("kind"))


class RoomActionIn(Reasoned):
    """An action on the whole room: pause everyone in progress, resume everyone paused, add time (seconds 60..3600)
    for everyone with an open attempt, or end one section (`section_id`) for everyone in it."""

    kind: RoomActionKind
    seconds: AddedSeconds = Field(default=None, validate_default=True)
    section_id: Id | None = Field(default=None, validate_default=True)
    """end_section only: the section to end, as the console names it (students elsewhere are left alone)."""

    @field_validator("seconds")
    @classmethod
    def _seconds_for_add_time(cls, value: int | None, info: ValidationInfo) -> int | None:
        return _check_added_seconds(value, info.data.get("kind"))

    @field_validator("section_id")
    @classmethod
    def _section_for_end_section(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind == "end_section" and not value:
            raise ValueError("end_section for the room needs section_id: the section to end")
        if kind != "end_section" and value is not None:
            raise ValueError(f"section_id is only for end_section, not for {kind}")
        return value


class ActionReceipt(WireModel):
    instruction_id: str
    kind: InstructionKind
    student_name: str
    allocation_id: str
