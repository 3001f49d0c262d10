"""Wire types of the staff API (console and scripts); the player's types are in sync.protocol."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from sync.protocol import WireModel

Role = Literal["admin", "teacher", "invigilator"]


class StaffLoginRequest(WireModel):
    username: str = Field(min_length=1, max_length=100)
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
    unique_id: str = Field(min_length=1, max_length=100)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    groups: list[str] = Field(default_factory=list)
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


class SittingIn(WireModel):
    assessment: str
    """An assessment id, a package id (newest version) or `package_id@version`."""
    name: str = Field(min_length=1, max_length=200)
    window_start: datetime
    window_end: datetime
    student_ids: list[str]


class SittingPatch(WireModel):
    name: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    add_student_ids: list[str] = Field(default_factory=list)
    remove_student_ids: list[str] = Field(default_factory=list)


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


class ReleaseRequest(WireModel):
    reason: str = Field(default="", max_length=500)


class ResultOut(WireModel):
    id: str
    attempt_id: str
    student_name: str
    status: str
    error: str | None
    received_at: datetime
    marks: dict[str, object] | None


class ResultCodeIn(WireModel):
    code: str = Field(max_length=2_000_000)
    """A result code as shown on the student's computer or saved to a file; spacing, case and hyphens do not matter."""


class ResultCodeReceipt(WireModel):
    """What became of a submitted result code: whose result it is, and whether it was new."""

    result_id: str
    student_name: str
    sitting_name: str
    section_ids: list[str]
    duplicate: bool
    """True when the server already held these results (uploaded, or the code submitted before): nothing changed."""
    status: Literal["received", "marking", "marked", "marking_failed"]
