"""Wire types between player and server (pydantic), the API version, and the delivery form of an assessment.

The delivery form is what a player receives: it never contains answer keys or scoring rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "v1"
API_PREFIX = f"/api/{API_VERSION}"

ItemType = Literal["single_choice", "multiple_choice", "short_text", "extended_text", "dictation"]
MediaRole = Literal["image", "audio"]
MAX_BATCH_ENVELOPES = 200
"""The most result envelopes one batch upload may carry."""


class WireModel(BaseModel):
    """Base for wire types: unknown fields are refused so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- delivery form (no keys) ------------------------------------------------------------------


class MediaRef(WireModel):
    """A media file referenced by content hash; fetched from /media/{sha256}."""

    role: MediaRole
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    filename: str
    mime_type: str
    size: int = Field(ge=0)


class ChoiceOption(WireModel):
    id: str
    text: str


class DeliveryItem(WireModel):
    id: str
    type: ItemType
    prompt: str
    options: list[ChoiceOption] = Field(default_factory=list)
    media: list[MediaRef] = Field(default_factory=list)
    max_plays: int | None = None
    """For items with audio: how often the student may play it (None: unlimited)."""
    max_length: int | None = None
    """For text items: the longest answer accepted, in characters."""


class DeliverySection(WireModel):
    id: str
    title: str
    instructions: str = ""
    time_limit_seconds: int = Field(gt=0)
    items: list[DeliveryItem]


class DeliveryAssessment(WireModel):
    id: str
    version: str
    content_hash: str
    title: str
    sections: list[DeliverySection]


# ---- answers -----------------------------------------------------------------------------------

AnswerValue = str | list[str]
"""single_choice: an option id; multiple_choice: option ids; text and dictation items: the text."""


# ---- login -------------------------------------------------------------------------------------


class LoginRequest(WireModel):
    access_code: str = Field(max_length=64)
    machine_id: str | None = Field(default=None, max_length=128)


class Accommodations(WireModel):
    extra_time_percent: int = Field(default=0, ge=0, le=400)


class LoginResponse(WireModel):
    attempt_id: str
    attempt_token: str = Field(repr=False)
    student: str
    """The student's display name, for the "Is this you?" screen."""
    sitting_name: str
    window_end: datetime
    accommodations: Accommodations
    assessment: DeliveryAssessment
    result_secret: str = Field(repr=False)
    """URL-safe base64 key (32 bytes) for the offline result code of this attempt."""
    checkpoint: Checkpoint | None = None
    """The latest checkpoint the server holds, when the attempt is resumed."""


class ErrorBody(WireModel):
    """Every refusal from the API: a stable machine-readable code and a sentence a person can act on."""

    error: str
    message: str
    retry_after_seconds: int | None = None


# ---- progress, heartbeats, results -----------------------------------------------------------------


class Checkpoint(WireModel):
    section_id: str
    item_id: str
    remaining_seconds: int = Field(ge=0)
    taken_at: datetime
    plays: dict[str, int] = Field(default_factory=dict)


class Heartbeat(WireModel):
    """Where the player is, sent every few seconds; the reply carries the invigilator's instructions."""

    section_id: str | None = None
    section_title: str | None = Field(default=None, max_length=200)
    item_id: str | None = None
    item_index: int | None = Field(default=None, ge=1)
    """1-based position of the current item within its section."""
    item_count: int | None = Field(default=None, ge=0)
    remaining_seconds: int | None = None
    paused: bool = False
    """True while the player shows "Paused by your invigilator" (its clock stopped)."""
    finished: bool = False
    """True once the student has finished on this machine (results may still be waiting in the outbox)."""
    outbox_depth: int = Field(default=0, ge=0)
    machine_id: str | None = Field(default=None, max_length=128)


InstructionKind = Literal["pause", "resume", "add_time", "end_section"]


class Instruction(WireModel):
    """An invigilator's instruction; the player applies each id once, so a repeated delivery is harmless."""

    id: str
    kind: InstructionKind
    seconds: int | None = None
    """add_time: the seconds to add to the current section's clock."""
    section_id: str | None = None
    """end_section: the section to end (ignored by the player if it has already moved on)."""
    reason: str = ""


class HeartbeatReply(WireModel):
    instructions: list[Instruction] = Field(default_factory=list)
    """Instructions not delivered before, oldest first."""


class AnswerRecord(WireModel):
    item_id: str
    value: AnswerValue
    answered_at: datetime


class ResultEnvelope(WireModel):
    """A section's (or the whole sitting's) final answers, sent exactly once by idempotency key."""

    idempotency_key: str = Field(pattern=r"^[0-9a-f-]{36}$")
    attempt_id: str
    section_ids: list[str]
    answers: list[AnswerRecord]
    finished_at: datetime
    final: bool = True
    """True when this envelope ends the attempt (the last section)."""


class ResultReceipt(WireModel):
    result_id: str
    idempotency_key: str
    status: Literal["received", "marking", "marked", "marking_failed"]
    duplicate: bool
    """True when the server already held this envelope (nothing new was stored)."""


class ResultBatch(WireModel):
    """Several envelopes of one attempt in one request, stored in one transaction (the uploader's drain)."""

    envelopes: list[ResultEnvelope] = Field(min_length=1, max_length=MAX_BATCH_ENVELOPES)


class BatchItemReceipt(WireModel):
    """What became of one envelope of a batch: a receipt, or the refusal that envelope alone got."""

    idempotency_key: str
    status: int
    """The HTTP status the envelope would have had on its own: 200 stored (or already held), 409, 422..."""
    receipt: ResultReceipt | None = None
    error: ErrorBody | None = None


class ResultBatchReply(WireModel):
    items: list[BatchItemReceipt]
    """One per envelope sent, in the same order."""


# ---- the sitting's log, written by the console ---------------------------------------------------

SittingLogAction = Literal["export_results", "export_incidents", "print_slips"]
LogDetailValue = Annotated[str, Field(max_length=500)] | int | float | bool | None


class SittingLogEventIn(WireModel):
    """Something the console did with a sitting's data (an export, printed slips), for the sitting's log."""

    action: SittingLogAction
    detail: dict[Annotated[str, Field(max_length=50)], LogDetailValue] = Field(default_factory=dict, max_length=20)
    """A few facts about it, e.g. {"rows": 30, "file": "results.csv"}; at most 20 keys, strings up to 500."""


LoginResponse.model_rebuild()
