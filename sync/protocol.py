"""Wire types between player and server (pydantic), the API version, and the delivery form of an assessment.

The delivery form is what a player receives: it never contains answer keys or scoring rules.

Every string a client sends is one of the bounded types below (`Id`, `Title`, `AnswerText`, ...): a length
limit, and text that encodes as UTF-8 (pydantic checks a bounded string as a Rust string, so a lone surrogate
such as "\\ud800" is refused as `string_unicode`; tests/sync/test_protocol.py holds it to that). A string the
server keeps in a text column is also `NoNul`: PostgreSQL cannot store U+0000 in text, so it is refused on every
engine alike (answers are not: they are kept as JSON, which can hold it). Every integer a
client sends has bounds that fit the database and the field's sense, and every time a client sends is a
`WireTime`: with a time zone, and far enough from the years 1 and 9999 to convert to UTC. Types the server
only sends (the delivery form, replies) are not bounded: the server made them from checked data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

API_VERSION = "v1"
API_PREFIX = f"/api/{API_VERSION}"

ItemType = Literal["single_choice", "multiple_choice", "short_text", "extended_text", "dictation"]
MediaRole = Literal["image", "audio"]
MAX_BATCH_ENVELOPES = 200
"""The most result envelopes one batch upload may carry."""

# ---- bounds of what a client may send ----------------------------------------------------------

MAX_ID_CHARS = 100
"""Ids: attempts, sections, items, options, students, allocations (content ids have at most 64 characters)."""
MAX_TITLE_CHARS = 200
MAX_ANSWER_CHARS = 100_000
"""The longest text answer on the wire: the largest `max_length` a content package may give an item."""
DEFAULT_MAX_ANSWER_CHARS = 10_000
"""The longest text answer the server stores for an item that sets no `max_length` of its own."""
MAX_CHOICES = 200
"""The most option ids one multiple-choice answer may list."""
MAX_ANSWERS = 10_000
"""The most answers one result envelope may carry (a result code carries a whole sitting)."""
MAX_SECTIONS = 200
"""The most sections one result envelope may name."""
MAX_ITEMS = 10_000
"""Bounds item positions and counts in heartbeats, and the items a checkpoint may count plays for."""
MAX_SECONDS = 7 * 24 * 3600
"""Bounds a section's remaining time: the longest section (600 minutes) with 400 % extra time and added time
fits many times over."""
MAX_PLAYS = 1_000
MAX_APP_VERSION_CHARS = 40
MAX_READINESS_CHARS = 200
"""player.doctor.report.SUMMARY_MAX_LENGTH: a readiness summary is one line of at most this many characters."""
MAX_LEFT_WINDOW_COUNT = 100_000
MAX_OUTBOX_DEPTH = 1_000_000
EARLIEST_TIME = datetime(1, 1, 2, tzinfo=UTC)
LATEST_TIME = datetime(9999, 12, 30, tzinfo=UTC)
"""A time the server accepts lies between these instants: written in any zone, it still converts to UTC (a day
from either end of the calendar). No sense-based range: a student's computer with a wrong clock still hands in."""

NUL_REFUSED = (
    "contains a NUL character (U+0000, \\u0000 in JSON), which is not allowed in this field; remove it and send "
    "the text again"
)
"""The refusal of a string holding U+0000, after the field's name (the error type is `string_nul`)."""


def refuse_nul(value: object) -> object:
    """`value` unchanged, unless it is text holding U+0000: PostgreSQL cannot store that in a text column (SQLite
    can), so the server would fail on one engine and not the other; it is refused on both instead."""
    if isinstance(value, str) and "\x00" in value:
        raise PydanticCustomError("string_nul", NUL_REFUSED)
    return value


NoNul = BeforeValidator(refuse_nul)
"""On every string type the server keeps in (or looks up by) a text column. Put it after the type's `Field`, in
the same Annotated: a `Field` after a validator is checked in Python, where max_length says "too_long" and a
lone surrogate passes. Before the other checks, so a NUL is named as such (not as a control character)."""

Id = Annotated[str, Field(max_length=MAX_ID_CHARS), NoNul]
Title = Annotated[str, Field(max_length=MAX_TITLE_CHARS), NoNul]
MachineId = Annotated[str, Field(max_length=128), NoNul]
MAX_MACHINE_NAME_CHARS = 64
MachineName = Annotated[
    str, Field(min_length=1, max_length=MAX_MACHINE_NAME_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$"), NoNul
]
"""A machine's name for people ("room12-pc03"): its host name unless configured; no control characters, so a
hostile name cannot break the console's table or the sitting's log."""
AppVersion = Annotated[str, Field(max_length=MAX_APP_VERSION_CHARS, pattern=r"^[^\x00-\x1f\x7f]*$"), NoNul]
Readiness = Annotated[str, Field(max_length=MAX_READINESS_CHARS, pattern=r"^[^\x00-\x1f\x7f]*$"), NoNul]
"""One line of a player's report on itself, shown in the console's room: no control characters (a line break or
an escape would break the table), as for a machine name."""
AnswerText = Annotated[str, Field(max_length=MAX_ANSWER_CHARS)]
"""Not `NoNul`: answers are kept as JSON, which holds U+0000, and a student's result is never refused for one."""
OptionId = Annotated[str, Field(max_length=MAX_ID_CHARS)]
"""An option id inside an answer (kept as JSON, as the answer is): one the item lacks is refused by name later."""
Choices = Annotated[list[OptionId], Field(max_length=MAX_CHOICES, fail_fast=True)]
Seconds = Annotated[int, Field(ge=0, le=MAX_SECONDS)]
WireTime = Annotated[AwareDatetime, Field(ge=EARLIEST_TIME, le=LATEST_TIME)]
"""A time a client sends: with its time zone, and convertible to UTC."""


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


def _unset(value: object) -> bool:
    """For `exclude_if`: the ordering and choice-count fields (QTI content) are left out of the JSON while they
    hold their defaults, so a delivery form without them is byte for byte what it was before they existed (and a
    player from before them still reads it)."""
    return value is None or value is False or value == 0 or value == []


def _is_true(value: object) -> bool:
    """For `exclude_if` on `autoplay`: left out while True (its default), as in every form from before it."""
    return value is True


class ChoiceOption(WireModel):
    id: str
    text: str
    fixed: bool = Field(default=False, exclude_if=_unset)
    """When the item shuffles its options: this one keeps its place (QTI's `fixed`)."""


class DeliveryItem(WireModel):
    id: str
    type: ItemType
    prompt: str
    options: list[ChoiceOption] = Field(default_factory=list)
    media: list[MediaRef] = Field(default_factory=list)
    max_plays: int | None = None
    """For items with audio: how often the student may play it (None: unlimited)."""
    autoplay: bool = Field(default=True, exclude_if=_is_true)
    """For items with audio: it plays by itself on the first visit; False (QTI `autostart="false"`): the student
    starts it with the Play button (a play counts only then)."""
    max_length: int | None = None
    """For text items: the longest answer accepted, in characters."""
    shuffle: bool = Field(default=False, exclude_if=_unset)
    """Choice items: show the options in an order of this attempt's own (`sync.ordering`), fixed ones in place."""
    max_choices: int | None = Field(default=None, ge=1, exclude_if=_unset)
    """multiple_choice: at most this many options may be ticked (None: any number)."""
    min_choices: int = Field(default=0, ge=0, exclude_if=_unset)
    """multiple_choice: the student is told to tick at least this many (a hint; fewer is still saved and sent)."""


class DeliverySection(WireModel):
    id: str
    title: str
    instructions: str = ""
    time_limit_seconds: int = Field(gt=0)
    items: list[DeliveryItem]
    shuffle: bool = Field(default=False, exclude_if=_unset)
    """Show the items in an order of this attempt's own (`sync.ordering`), those in `fixed_items` in place."""
    fixed_items: list[str] = Field(default_factory=list, exclude_if=_unset)


class DeliveryAssessment(WireModel):
    id: str
    version: str
    content_hash: str
    title: str
    sections: list[DeliverySection]


# ---- answers -----------------------------------------------------------------------------------

AnswerValue = AnswerText | Choices
"""single_choice: an option id; multiple_choice: option ids; text and dictation items: the text."""


# ---- login -------------------------------------------------------------------------------------


class LoginRequest(WireModel):
    access_code: str = Field(max_length=64)
    machine_id: MachineId | None = None


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
    """Every refusal from the API: a stable machine-readable code, a sentence a person can act on, and the code's
    number in the error catalogue (sync/error_catalogue/, docs/errors.md) for a support call to quote."""

    # Unlike the other wire types, fields a newer server adds are ignored, not refused: a refusal's sentence must
    # still reach the person when the server is newer than this client.
    model_config = ConfigDict(extra="ignore", frozen=True)

    error: str
    message: str
    retry_after_seconds: int | None = None
    number: Annotated[str, Field(pattern=r"^INV-\d{4}$")] | None = None
    """E.g. "INV-2201"; None from a server older than the catalogue, or for a code it has no entry for."""


# ---- progress, heartbeats, results -----------------------------------------------------------------


GivenBackReason = Literal["paused", "audio_device", "audio_damaged", "player_stopped"]


class GivenBackPlay(WireModel):
    """A play of an item's audio cut short by something the student did not choose, so not counted: the
    invigilator's pause, a lost audio device, a recording that would not play, or the player stopping (a crash,
    a power cut, the window closed)."""

    item_id: Id
    started_at: WireTime
    reason: GivenBackReason


class Checkpoint(WireModel):
    section_id: Id
    item_id: Id
    remaining_seconds: Seconds
    taken_at: WireTime
    plays: dict[Id, Annotated[int, Field(ge=0, le=MAX_PLAYS)]] = Field(default_factory=dict, max_length=MAX_ITEMS)
    """Used plays so far of each item's audio, by item id (a play is used once it reaches its end or the
    student leaves it; docs/architecture.md)."""
    plays_given_back: list[GivenBackPlay] = Field(default_factory=list, max_length=MAX_PLAYS, fail_fast=True)
    """Every play given back in the attempt so far (the newest MAX_PLAYS), oldest first; the server puts each
    new one in the sitting's log."""


AudioStatus = Literal["not_checked", "heard", "not_heard", "no_device", "playback_failed"]
"""not_heard: the student said so at the sound check; no_device: the machine has no sound output;
playback_failed: the sound check clip could not be played."""


class Heartbeat(WireModel):
    """Where the player is, sent every few seconds; the reply carries the invigilator's instructions."""

    section_id: Id | None = None
    section_title: Title | None = None
    item_id: Id | None = None
    item_index: int | None = Field(default=None, ge=1, le=MAX_ITEMS)
    """1-based position of the current item within its section."""
    item_count: int | None = Field(default=None, ge=0, le=MAX_ITEMS)
    remaining_seconds: Seconds | None = None
    paused: bool = False
    """True while the player shows "Paused by your invigilator" (its clock stopped)."""
    finished: bool = False
    """True once the student has finished on this machine (results may still be waiting in the outbox)."""
    outbox_depth: int = Field(default=0, ge=0, le=MAX_OUTBOX_DEPTH)
    machine_id: MachineId | None = None
    machine_name: MachineName | None = None
    """What the invigilator calls this machine (the host name unless configured); the id stays the identity."""
    answered_count: int | None = Field(default=None, ge=0, le=MAX_ITEMS)
    """Items answered so far in the whole test (the room's "answered/total")."""
    question_count: int | None = Field(default=None, ge=0, le=MAX_ITEMS)
    """Items in the whole test."""
    audio: AudioStatus = "not_checked"
    """What this machine knows of its sound: the sound check's outcome, or that it has no output device."""
    resumed_at: WireTime | None = None
    """When the player last started again with this test open (after a crash, power cut or restart)."""
    starting: bool = False
    """True while the student reads the first instructions or does the sound check (no section started yet):
    instructions are kept for the heartbeats that follow, which can apply them."""
    # Left out of the JSON while unset (exclude_if), so a player with nothing to say here sends what players
    # sent before these fields existed, and a server from before them still accepts it.
    app_version: AppVersion | None = Field(default=None, exclude_if=_unset)
    """The player's version (sync.version.VERSION), shown per machine in the room."""
    readiness: Readiness | None = Field(default=None, exclude_if=_unset)
    """The machine's readiness check in one line (player.doctor Report.summary(): "Ready" or its worst problems);
    None until the check has run."""
    left_window_count: int = Field(default=0, ge=0, le=MAX_LEFT_WINDOW_COUNT, exclude_if=_unset)
    """Times the student left the test window in this sitting (focus lost, another app raised); the server writes
    each rise in the sitting's log."""


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
    item_id: Id
    value: AnswerValue
    answered_at: WireTime


class ResultEnvelope(WireModel):
    """A section's (or the whole sitting's) final answers, sent exactly once by idempotency key."""

    idempotency_key: str = Field(pattern=r"^[0-9a-f-]{36}$", max_length=36)
    attempt_id: Id
    # fail_fast on the long lists: without it pydantic validates every element and keeps an error for each
    # before it looks at max_length; 12.5 MB of `[]` as answers took 9 s and 2 GB to refuse.
    section_ids: list[Id] = Field(max_length=MAX_SECTIONS, fail_fast=True)
    answers: list[AnswerRecord] = Field(max_length=MAX_ANSWERS, fail_fast=True)
    finished_at: WireTime
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

    envelopes: list[ResultEnvelope] = Field(min_length=1, max_length=MAX_BATCH_ENVELOPES, fail_fast=True)


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
LogDetailValue = (
    Annotated[str, Field(max_length=500)]
    | Annotated[int, Field(ge=-(2**53), le=2**53)]
    | Annotated[float, Field(allow_inf_nan=False, ge=-(2**53), le=2**53)]
    | bool
    | None
)


class SittingLogEventIn(WireModel):
    """Something the console did with a sitting's data (an export, printed slips), for the sitting's log."""

    action: SittingLogAction
    detail: dict[Annotated[str, Field(max_length=50)], LogDetailValue] = Field(default_factory=dict, max_length=20)
    """A few facts about it, e.g. {"rows": 30, "file": "results.csv"}; at most 20 keys, strings up to 500."""


LoginResponse.model_rebuild()
