"""The server's tables (SQLAlchemy 2), written to run on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from sync.server.ids import new_id


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone (portable) and always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class School(Base):
    __tablename__ = "schools"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffToken(Base):
    __tablename__ = "staff_tokens"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    staff: Mapped[Staff] = relationship()


class Student(Base):
    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("school_id", "unique_id", name="uq_students_school_unique_id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    unique_id: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    groups: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_time_percent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Assessment(Base):
    """A loaded content package; the manifest (with keys) never leaves the server."""

    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("package_id", "version", name="uq_assessments_package_version"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    manifest_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Media(Base):
    __tablename__ = "media"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    mime_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AssessmentMedia(Base):
    """Which media belong to which assessment (so an attempt can fetch only its own)."""

    __tablename__ = "assessment_media"
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256"), primary_key=True)


class Credit(Base):
    __tablename__ = "credits"
    __table_args__ = (UniqueConstraint("school_id", "package_id", name="uq_credits_school_package"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    package_id: Mapped[str] = mapped_column(String(100))
    balance: Mapped[int] = mapped_column(Integer, default=0)
    expires_on: Mapped[date | None] = mapped_column(Date)


class Sitting(Base):
    __tablename__ = "sittings"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"))
    name: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    """Set when the sitting's closing has been applied (credits refunded, extensions granted)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    assessment: Mapped[Assessment] = relationship()
    allocations: Mapped[list[Allocation]] = relationship(back_populates="sitting", order_by="Allocation.id")


class Allocation(Base):
    """One student in one sitting, with their access code (stored only as a keyed hash and sealed copy)."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("sitting_id", "student_id", name="uq_allocations_sitting_student"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    sitting_id: Mapped[str] = mapped_column(ForeignKey("sittings.id"), index=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id"), index=True)
    code_lookup: Mapped[str] = mapped_column(String(64), unique=True)
    code_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    credit_refunded: Mapped[bool] = mapped_column(Boolean, default=False)
    extended_until: Mapped[datetime | None]
    sitting: Mapped[Sitting] = relationship(back_populates="allocations")
    student: Mapped[Student] = relationship()
    attempt: Mapped[Attempt | None] = relationship(back_populates="allocation")


class Attempt(Base):
    __tablename__ = "attempts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    allocation_id: Mapped[str] = mapped_column(ForeignKey("allocations.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    released_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    """The token of the machine staff last released the attempt from: still accepted for results only (its
    finished answers must not be lost), never for progress. Set by `sittings.release_code`."""
    result_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    machine_id: Mapped[str | None] = mapped_column(String(160))
    """The machine that holds the attempt; None once staff released it to another machine."""
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    checkpoint: Mapped[dict[str, Any] | None]
    outbox_depth: Mapped[int] = mapped_column(Integer, default=0)
    # The live state the player last reported in a heartbeat, for the invigilator's room view.
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    section_id: Mapped[str | None] = mapped_column(String(100))
    section_title: Mapped[str | None] = mapped_column(String(200))
    item_index: Mapped[int | None] = mapped_column(Integer)
    item_count: Mapped[int | None] = mapped_column(Integer)
    remaining_seconds: Mapped[int | None] = mapped_column(Integer)
    item_id: Mapped[str | None] = mapped_column(String(100))
    machine_name: Mapped[str | None] = mapped_column(String(64))
    answered_count: Mapped[int | None] = mapped_column(Integer)
    question_count: Mapped[int | None] = mapped_column(Integer)
    audio: Mapped[str] = mapped_column(String(20), default="not_checked", server_default="not_checked")
    resumed_at: Mapped[datetime | None]
    reported_finished_at: Mapped[datetime | None]
    """When a machine first said the student had finished there (results may still be on their way)."""
    app_version: Mapped[str | None] = mapped_column(String(40))
    readiness: Mapped[str | None] = mapped_column(String(200))
    """The machine's readiness check in one line ("Ready" or its worst problems), as its player last reported."""
    left_window_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """The most times the student left the test window that a player has reported; each rise is in the log."""
    allocation: Mapped[Allocation] = relationship(back_populates="attempt")


RELEASED_TOKEN_PREFIX = "released:"  # noqa: S105 - a marker, not a secret
"""What a release writes over an attempt's token hash (matches no token, so the old machine is cut off)."""


class Result(Base):
    __tablename__ = "results"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(36), unique=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="received")
    error: Mapped[str | None] = mapped_column(Text)
    marks: Mapped[dict[str, Any] | None]
    marked_at: Mapped[datetime | None]
    attempt: Mapped[Attempt] = relationship()


class HandMark(Base):
    """A score given by hand to one answer (an extended-text item of one result). Every mark is kept: the newest
    of a result's item counts, the older ones are its history (a re-mark adds a row, never overwrites one)."""

    __tablename__ = "hand_marks"
    __table_args__ = (Index("ix_hand_marks_result_item", "result_id", "item_id"),)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    """Orders the marks of one answer, even two given in the same instant; the id a re-mark names as replaced."""
    result_id: Mapped[str] = mapped_column(ForeignKey("results.id"))
    item_id: Mapped[str] = mapped_column(String(64))
    score_hundredths: Mapped[int] = mapped_column(Integer)
    """The score in hundredths of a point: exact, as points have two decimals (content-format.md)."""
    max_hundredths: Mapped[int] = mapped_column(Integer)
    """What the item was out of when marked, so a mark still reads right if the package is repaired later."""
    marker: Mapped[str] = mapped_column(String(200))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    marked_at: Mapped[datetime]


class LoginFailure(Base):
    """Failed access-code logins, kept in the database so limits hold across server workers."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_scope_key_at", "scope", "key", "at"),
        # Every failure trims the rows that left the window: without this, a scan of the whole table each time.
        Index("ix_login_failures_at", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]


class KioskExitCode(Base):
    """A one-time code that lets one machine leave kiosk mode (sync/server/kiosk_exit.py): only its keyed hash."""

    __tablename__ = "kiosk_exit_codes"
    __table_args__ = (Index("ix_kiosk_exit_codes_machine", "machine_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    machine_id: Mapped[str] = mapped_column(String(160))
    code_hash: Mapped[str] = mapped_column(String(64))
    """Keyed (the server key, with the machine id), so a copy of the database cannot be searched for the code."""
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    staff_name: Mapped[str] = mapped_column(String(200))
    sitting_id: Mapped[str | None] = mapped_column(String(36))
    allocation_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    replaced_at: Mapped[datetime | None]
    """A newer code for the same machine was made: this one no longer works."""


class Instruction(Base):
    """An invigilator's instruction to one attempt, delivered once in a heartbeat reply."""

    __tablename__ = "instructions"
    __table_args__ = (Index("ix_instructions_attempt_delivered", "attempt_id", "delivered_at"),)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    """Keeps instructions in the order given, even when two share a timestamp (pause, then resume)."""
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id"))
    kind: Mapped[str] = mapped_column(String(20))
    seconds: Mapped[int | None] = mapped_column(Integer)
    section_id: Mapped[str | None] = mapped_column(String(100))
    reason_kind: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    attempt: Mapped[Attempt] = relationship()


class Incident(Base):
    """Something that happened in a sitting (power cut, fire alarm...), with the students it affected."""

    __tablename__ = "incidents"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    sitting_id: Mapped[str] = mapped_column(ForeignKey("sittings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    students: Mapped[list[IncidentStudent]] = relationship(
        cascade="all, delete-orphan", order_by="IncidentStudent.allocation_id"
    )


class IncidentStudent(Base):
    __tablename__ = "incident_students"
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    allocation_id: Mapped[str] = mapped_column(ForeignKey("allocations.id"), primary_key=True)
    allocation: Mapped[Allocation] = relationship()


class ManualEntry(Base):
    """Values marked by hand for one allocation (the dictation's "Exact"), with comments."""

    __tablename__ = "manual_entries"
    allocation_id: Mapped[str] = mapped_column(ForeignKey("allocations.id"), primary_key=True)
    typed_dictation: Mapped[str | None] = mapped_column(String(100))
    written_dictation: Mapped[str | None] = mapped_column(String(100))
    comments: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Evidence(Base):
    """A scan or photo of written work (PNG, JPEG or PDF), kept in the database so workers stay stateless."""

    __tablename__ = "evidence"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    """Keeps files in upload order, even when two arrive in the same instant."""
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    allocation_id: Mapped[str] = mapped_column(ForeignKey("allocations.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    mime_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school_id: Mapped[str | None] = mapped_column(ForeignKey("schools.id"), index=True)
    sitting_id: Mapped[str | None] = mapped_column(String(36), index=True)
    """The sitting the action belongs to, so a sitting's log is one query (no foreign key: logs outlive rows)."""
    allocation_id: Mapped[str | None] = mapped_column(String(36))
    reason_kind: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(String(500))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    actor: Mapped[str] = mapped_column(String(200))
    """Who acted: a staff username, "cli" for the server command line, or "player" for what a student's player
    reported (a play given back)."""
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
