"""The bytes inside a result code: the envelope packed column by column, compressed, and the attempt field."""

from __future__ import annotations

import uuid
import zlib
from datetime import UTC, datetime, timedelta

from sync.protocol import MAX_ANSWERS, MAX_CHOICES, MAX_SECTIONS, AnswerRecord, ResultEnvelope

MAX_PLAINTEXT_BYTES = 4 * 1024 * 1024
"""Refuse to inflate beyond this: a guard against a decompression bomb from a leaked secret."""

_FLAG_FINAL = 0x01
_FLAG_UUID_KEY = 0x02
_STORED = 0
_DEFLATED = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


class Malformed(Exception):
    """Structured bytes ended early or held an impossible value."""


class Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def uint(self, value: int) -> None:
        while True:
            byte, value = value & 0x7F, value >> 7
            if value:
                self.out.append(byte | 0x80)
            else:
                self.out.append(byte)
                return

    def sint(self, value: int) -> None:
        self.uint(value * 2 if value >= 0 else -value * 2 - 1)

    def text(self, value: str) -> None:
        raw = value.encode("utf-8", "surrogatepass")
        self.uint(len(raw))
        self.out += raw


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise Malformed
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def uint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 70:
                raise Malformed

    def sint(self) -> int:
        raw = self.uint()
        return raw // 2 if raw % 2 == 0 else -(raw + 1) // 2

    def text(self) -> str:
        return self.take(self.uint()).decode("utf-8", "surrogatepass")


def _canonical_uuid(value: str) -> bytes | None:
    """16 bytes when `value` is a UUID in its usual lower-case form (so it comes back unchanged)."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return parsed.bytes if str(parsed) == value else None


def encode_attempt_id(attempt_id: str) -> bytes:
    # 0 then 16 bytes for a UUID (the real server's ids); otherwise 1 + length, then UTF-8.
    writer = Writer()
    packed = _canonical_uuid(attempt_id)
    if packed is not None:
        writer.uint(0)
        writer.out += packed
    else:
        raw = attempt_id.encode("utf-8", "surrogatepass")
        writer.uint(len(raw) + 1)
        writer.out += raw
    return bytes(writer.out)


def decode_attempt_id(body: bytes) -> tuple[str, int]:
    reader = Reader(body)
    marker = reader.uint()
    if marker == 0:
        attempt_id = str(uuid.UUID(bytes=reader.take(16)))
    else:
        attempt_id = reader.take(marker - 1).decode("utf-8", "surrogatepass")
    return attempt_id, reader.pos


def _seconds(moment: datetime) -> int:
    # Naive times are taken as UTC (the player records UTC); sub-second precision is dropped to save space.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _SECOND


def _shared_prefix(first: str, second: str) -> int:
    count = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        count += 1
    return count


def pack(envelope: ResultEnvelope) -> bytes:
    """The envelope without its attempt id, column by column so deflate finds the repetition."""
    writer = Writer()
    key = _canonical_uuid(envelope.idempotency_key)
    writer.uint((_FLAG_FINAL if envelope.final else 0) | (_FLAG_UUID_KEY if key is not None else 0))
    if key is not None:
        writer.out += key
    else:
        writer.text(envelope.idempotency_key)
    finished = _seconds(envelope.finished_at)
    writer.sint(finished)
    writer.uint(len(envelope.section_ids))
    for section_id in envelope.section_ids:
        writer.text(section_id)
    writer.uint(len(envelope.answers))
    previous = ""
    for answer in envelope.answers:  # item ids front-coded: "q12" after "q11" costs one character
        shared = _shared_prefix(previous, answer.item_id)
        writer.uint(shared)
        writer.text(answer.item_id[shared:])
        previous = answer.item_id
    for answer in envelope.answers:  # 0: a text value; n + 1: a list of n option ids
        if isinstance(answer.value, str):
            writer.uint(0)
            writer.text(answer.value)
        else:
            writer.uint(len(answer.value) + 1)
            for option in answer.value:
                writer.text(option)
    reference = finished  # each time as the step from the one before: answers come seconds apart
    for answer in envelope.answers:
        moment = _seconds(answer.answered_at)
        writer.sint(reference - moment)
        reference = moment
    return bytes(writer.out)


def unpack(plain: bytes, *, attempt_id: str) -> ResultEnvelope:
    reader = Reader(plain)
    flags = reader.uint()
    key = str(uuid.UUID(bytes=reader.take(16))) if flags & _FLAG_UUID_KEY else reader.text()
    finished = reader.sint()
    # Every count is checked against the envelope's own limits before anything is built: a code sealed with an
    # attempt's key (which its student's computer holds) could otherwise inflate 9 KB into 800,000 answers.
    sections = reader.uint()
    if sections > MAX_SECTIONS:
        raise Malformed
    section_ids = [reader.text() for _ in range(sections)]
    count = reader.uint()
    if count > min(len(plain), MAX_ANSWERS):
        raise Malformed
    item_ids: list[str] = []
    previous = ""
    for _ in range(count):
        shared = reader.uint()
        if shared > len(previous):
            raise Malformed
        previous = previous[:shared] + reader.text()
        item_ids.append(previous)
    values: list[str | list[str]] = []
    for _ in range(count):
        kind = reader.uint()
        if kind > MAX_CHOICES + 1:
            raise Malformed
        values.append(reader.text() if kind == 0 else [reader.text() for _ in range(kind - 1)])
    times: list[datetime] = []
    reference = finished
    for _ in range(count):
        reference -= reader.sint()
        times.append(_EPOCH + reference * _SECOND)
    if reader.pos != len(plain):
        raise Malformed
    return ResultEnvelope(
        idempotency_key=key,
        attempt_id=attempt_id,
        section_ids=section_ids,
        answers=[
            AnswerRecord(item_id=item_id, value=value, answered_at=moment)
            for item_id, value, moment in zip(item_ids, values, times, strict=True)
        ],
        finished_at=_EPOCH + finished * _SECOND,
        final=bool(flags & _FLAG_FINAL),
    )


def compress(packed: bytes) -> bytes:
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    deflated = squeezer.compress(packed) + squeezer.flush()
    # Tiny envelopes grow under deflate; keep whichever is shorter.
    if len(deflated) < len(packed):
        return bytes([_DEFLATED]) + deflated
    return bytes([_STORED]) + packed


def decompress(plain: bytes) -> bytes:
    if not plain:
        raise Malformed
    if plain[0] == _STORED:
        return plain[1:]
    if plain[0] != _DEFLATED:
        raise Malformed
    inflater = zlib.decompressobj(-15)
    packed = inflater.decompress(plain[1:], MAX_PLAINTEXT_BYTES)
    if inflater.unconsumed_tail or not inflater.eof:
        raise Malformed
    return packed
