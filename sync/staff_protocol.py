"""Wire types of the staff API (console and scripts); the player's types are in sync.protocol.

What staff send is bounded as the player's input is (see sync.protocol): every string has a length limit (which
also refuses text that is not valid UTF-8), and every string the server keeps or looks up is `NoNul`; every
integer has a range, every time a zone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, get_args

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator

from sync import resultcode
from sync.protocol import MAX_ID_CHARS, AudioStatus, Id, InstructionKind, NoNul, Title, WireModel, WireTime

# The actions' types live in sync.staff_actions; every type of the staff API is reachable here as sp.<name>.
from sync.staff_actions import MAX_ADD_SECONDS as MAX_ADD_SECONDS
from sync.staff_actions import MAX_REASON_CHARS as MAX_REASON_CHARS
from sync.staff_actions import MIN_ADD_SECONDS as MIN_ADD_SECONDS
from sync.staff_actions import REASON_KINDS as REASON_KINDS
from sync.staff_actions import REASONS_FOR as REASONS_FOR
from sync.staff_actions import WHOLE_ROOM as WHOLE_ROOM
from sync.staff_actions import ActionIn as ActionIn
from sync.staff_actions import ActionKind as ActionKind
from sync.staff_actions import ActionReceipt as ActionReceipt
from sync.staff_actions import Reasoned as Reasoned
from sync.staff_actions import ReasonKind as ReasonKind
from sync.staff_actions import ReleaseRequest as ReleaseRequest
from sync.staff_actions import RoomActionIn as RoomActionIn
from sync.staff_actions import RoomActionKind as RoomActionKind
from sync.staff_actions import reason_refused as reason_refused

Role = Literal["admin", "teacher", "invigilator"]

StudentState = Literal[
    "not_started", "in_progress", "paused", "finished_sent", "finished_waiting", "marked", "released"
]
IncidentKind = Literal["power_cut", "illness", "fire_alarm", "network", "other"]
INCIDENT_KINDS: tuple[str, ...] = get_args(IncidentKind)
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
"""The largest evidence file (scan or photo of written work) the server accepts: 10 MB."""
EVIDENCE_TYPES: dict[str, str] = {"image/png": ".png", "image/jpeg": ".jpg", "application/pdf": ".pdf"}
"""Accepted evidence MIME types and their usual file suffix."""
ONLINE_WITHIN_SECONDS = 30
"""A player counts as online when its last heartbeat reached the server at most this many seconds ago."""
MAX_SITTING_STUDENTS = 2_000
"""The most students one sitting request (or incident) may name."""
MAX_GROUPS = 50
Name = Annotated[str, Field(min_length=1, max_length=100), NoNul]
Note = Annotated[str, Field(max_length=4000), NoNul]
DictationValue = Annotated[str, Field(max_length=100), NoNul]


class StaffLoginRequest(WireModel):
    username: Name
    password: str = Field(min_length=1, max_length=500)


class StaffInfo(WireModel):
    id: str
    username: str
    display_name: str
    role: Role
    school_id: str
    school_name: str


class StaffLoginResponse(WireModel):
    token: str
    expires_at: datetime
    staff: StaffInfo


class StudentIn(WireModel):
    unique_id: Name
    first_name: Name
    last_name: Name
    date_of_birth: date | None = None
    groups: list[Name] = Field(default_factory=list, max_length=MAX_GROUPS)
    extra_time_percent: int = Field(default=0, ge=0, le=400)


class StudentOut(WireModel):
    id: str
    unique_id: str
    first_name: str
    last_name: str
    date_of_birth: date | None
    groups: list[str]
    extra_time_percent: int
    active: bool


class StudentPatch(WireModel):
    active: bool


class CreditOut(WireModel):
    package_id: str
    balance: int
    expires_on: date | None


class AssessmentOut(WireModel):
    id: str
    package_id: str
    version: str
    title: str


PACKAGE_TYPES = ("application/zip", "application/x-zip-compressed", "application/octet-stream")
"""The Content-Types a content package upload (`POST /staff/assessments`, the zip as the raw body) may carry."""


MAX_UNTIMED_SECTION_MINUTES = 24 * 60
"""The most minutes an upload may give each untimed section of a QTI package (`?untimed_section_minutes=`)."""


class AssessmentLoaded(AssessmentOut):
    """An uploaded content package, as stored: 201 when it was new, 200 when this very content was already
    loaded (`already_loaded`)."""

    sections: int
    items: int
    content_hash: str
    already_loaded: bool


class SittingIn(WireModel):
    assessment: Annotated[str, Field(min_length=1, max_length=2 * MAX_ID_CHARS + 1), NoNul]
    """An assessment id, a package id (newest version) or `package_id@version`."""
    name: Annotated[str, Field(min_length=1, max_length=200), NoNul]
    window_start: WireTime
    """With its time zone: a sitting's window is the same instant for the server wherever it runs."""
    window_end: WireTime
    student_ids: list[Id] = Field(max_length=MAX_SITTING_STUDENTS)


class SittingPatch(WireModel):
    name: Title | None = None
    window_start: WireTime | None = None
    window_end: WireTime | None = None
    add_student_ids: list[Id] = Field(default_factory=list, max_length=MAX_SITTING_STUDENTS)
    remove_student_ids: list[Id] = Field(default_factory=list, max_length=MAX_SITTING_STUDENTS)


class AllocationOut(WireModel):
    id: str
    student_id: str
    student_name: str
    state: str
    extended_until: datetime | None


class SittingOut(WireModel):
    id: str
    name: str
    assessment_id: str
    assessment_title: str
    window_start: datetime
    window_end: datetime
    closed_at: datetime | None
    editable: bool
    allocations: list[AllocationOut]


class NewCode(WireModel):
    allocation_id: str
    student_id: str
    code: str


class SittingCreated(WireModel):
    sitting: SittingOut
    codes: list[NewCode]


class CodeSlipOut(WireModel):
    allocation_id: str
    student_name: str
    unique_id: str
    code: str
    state: str


class RoomCounts(WireModel):
    not_started: int
    in_progress: int
    paused: int
    finished: int
    """finished_sent, finished_waiting and marked together."""
    offline: int
    """Students with an open attempt (in progress, paused or finished_waiting) whose machine is silent."""
    waiting_to_send: int
    """Students whose machine last reported unsent results (outbox_depth > 0)."""


class RoomStudent(WireModel):
    allocation_id: str
    attempt_id: str | None
    student_name: str
    unique_id: str
    state: StudentState
    machine_id: str | None
    section_id: str | None
    section_title: str | None
    item_index: int | None
    item_count: int | None
    remaining_seconds: int | None
    last_seen_at: datetime | None
    online: bool
    """A heartbeat reached the server within ONLINE_WITHIN_SECONDS (by the server's clock)."""
    outbox_depth: int
    paused: bool
    extra_time_seconds: int
    """Time added by invigilators (add_time), in seconds."""
    extra_time_percent: int = 0
    """The student's access arrangement: extra time on every section, in percent."""
    machine_name: str | None = None
    """What the machine calls itself (its host name unless configured); None before its first heartbeat."""
    answered_count: int | None = None
    question_count: int | None = None
    """Items answered in the whole test, and the items it has (from the last heartbeat)."""
    audio: AudioStatus = "not_checked"
    resumed_at: datetime | None = None
    """When the player last started again with this test open (a crash, a power cut, a restart), by its clock."""
    pending: list[InstructionKind] = Field(default_factory=list)
    """Instructions given that the student's computer has not collected yet, oldest first."""
    app_version: str | None = None
    """The version of Invigil the student's computer runs (from its heartbeats); None before the first."""
    readiness: str | None = None
    """The machine's readiness check in one line: "Ready", or its worst problems; None until it has reported one."""
    left_window_count: int = 0
    """Times the student left the test window in this sitting (focus lost, another app raised)."""


class RoomView(WireModel):
    sitting_id: str
    sitting_name: str
    assessment_title: str
    window_end: datetime
    counts: RoomCounts
    students: list[RoomStudent]
    server_time: datetime
    """The server's clock when the view was made (last_seen_at is on the same clock)."""


class LogEntry(WireModel):
    at: datetime
    actor: str
    action: str
    student_name: str | None
    reason_kind: str | None
    reason: str | None
    detail: dict[str, object]


class ManualEntryIn(WireModel):
    """Values marked by hand for the dictation section, and comments; None clears a value. A dictation value is a
    number from 0 to the test's dictation points (`ManualEntryOut.dictation_max`), such as "8" or "7.5"."""

    typed_dictation: DictationValue | None = None
    written_dictation: DictationValue | None = None
    comments: Note | None = None


class EvidenceOut(WireModel):
    id: str
    filename: str
    mime_type: str
    size: int
    uploaded_at: datetime
    uploaded_by: str


class ManualEntryOut(WireModel):
    allocation_id: str
    student_name: str
    typed_dictation: str | None
    written_dictation: str | None
    comments: str | None
    updated_by: str | None
    updated_at: datetime | None
    evidence: list[EvidenceOut]
    dictation_max: float | None = None
    """The scale of the dictation values: the points of the test's dictation items together (None: it has none)."""


class IncidentIn(WireModel):
    kind: IncidentKind
    occurred_at: WireTime
    """When it happened, with its time zone (a naive time would be ambiguous)."""
    allocation_ids: list[Id] = Field(default_factory=list, max_length=MAX_SITTING_STUDENTS)
    """Students affected, as allocations of this sitting (may be empty: the whole room)."""
    note: Note = ""

    @field_validator("note")
    @classmethod
    def _note_for_other(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("kind") == "other" and not value.strip():
            raise ValueError('say what happened: a note is required when the incident kind is "other"')
        return value.strip()


class IncidentOut(WireModel):
    id: str
    kind: IncidentKind
    occurred_at: AwareDatetime
    """When it happened, with its time zone (a naive time would be ambiguous)."""
    allocation_ids: list[str]
    students: list[str]
    note: str
    recorded_by: str
    recorded_at: datetime


class SectionScore(WireModel):
    section_id: str
    title: str
    score: float
    """Hand marks included: an answer still to be marked by hand counts 0 until it is."""
    max_score: float
    needs_manual: bool
    """Some answer of the section still waits for a person's mark."""
    hand_marks_needed: int = 0
    """Answers of the section that a person must mark (extended text, not left blank)."""
    hand_marks_done: int = 0


class ResultOut(WireModel):
    id: str
    attempt_id: str
    allocation_id: str
    student_name: str
    unique_id: str
    status: str
    error: str | None
    received_at: datetime
    marks: dict[str, object] | None
    """The marks with hand marks in (an item marked by hand has its score and `hand_mark`: score, marker, time)."""
    section_scores: list[SectionScore] = Field(default_factory=list)
    """Scores of the sections this result carries (empty until marked)."""
    manual: ManualEntryOut | None = None
    """The allocation's manual entries (dictation values, comments, evidence), if any were made."""


class ResultCodeIn(WireModel):
    code: str = Field(max_length=resultcode.MAX_TEXT_LENGTH)
    """A result code as shown on the student's computer or saved to a file; spacing, case and hyphens do not matter."""

    @field_validator("code", mode="before")
    @classmethod
    def _not_longer_than_any_code(cls, value: object) -> object:
        # Before max_length, so the refusal says what to do in the codec's words, not pydantic's.
        if isinstance(value, str):
            try:
                resultcode.refuse_if_too_long(value)
            except resultcode.ResultCodeError as exc:
                raise ValueError(exc.message) from None
        return value


class ResultCodeReceipt(WireModel):
    """What became of a submitted result code: whose result it is, and whether it was new."""

    result_id: str
    student_name: str
    sitting_name: str
    section_ids: list[str]
    duplicate: bool
    """True when the server already held these results (uploaded, or the code submitted before): nothing changed."""
    status: Literal["received", "marking", "marked", "marking_failed"]
