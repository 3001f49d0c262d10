"""The offline result code: a result envelope as checked, grouped, encrypted Crockford base32 text."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sync.protocol import AnswerRecord, ResultEnvelope

if TYPE_CHECKING:
    # Imported where a code is made or read (_cipher, decode): `cryptography` takes ~7 MB, and a player whose
    # results reach the server never makes a code.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

CODE_VERSION = 1
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32: no I, L, O (they read as 1, 1, 0) and no U."""
DATA_PER_GROUP = 5
GROUP_LENGTH = DATA_PER_GROUP + 1
"""Five data symbols and one check symbol."""
GROUPS_PER_LINE = 5
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_BODY_BYTES = 32**4 - 1
"""The header's length field has four symbols (20 bits)."""
MAX_PLAINTEXT_BYTES = 4 * 1024 * 1024
"""Refuse to inflate beyond this: a guard against a decompression bomb from a leaked secret."""

_VALUES = {ch: i for i, ch in enumerate(ALPHABET)}
_LOOKALIKES = {"O": "0", "I": "1", "L": "1"}
# Word processors and PDFs turn hyphens into dashes; people paste those.
_HYPHENS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212")
_KDF_INFO = b"invigil/result-code/v1"
_AAD_MAGIC = b"invigil-result-code"
_FLAG_FINAL = 0x01
_FLAG_UUID_KEY = 0x02
_STORED = 0
_DEFLATED = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


class ResultCodeError(ValueError):
    """A result code that cannot be accepted; `message` is a sentence staff can act on."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        """Stable cause: "empty", "bad_character", "check_failed", "truncated", "too_long",
        "unknown_version", "wrong_attempt", "not_authentic" or "unreadable"."""

    def __str__(self) -> str:
        return self.message


# ---- check symbols: a weighted sum over GF(32) -------------------------------------------------
# Weights are distinct non-zero field elements, so every single substitution and every transposition
# inside a group (check symbol included) changes the sum. A plain mod-32 sum cannot do both: its weights
# would have to be odd (to catch substitutions) and differ by an odd number (to catch swaps).


def _gf_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    exp, log_ = [0] * 62, [0] * 32
    value = 1
    for power in range(31):
        exp[power] = exp[power + 31] = value
        log_[value] = power
        value <<= 1
        if value & 0x20:
            value ^= 0x25  # x^5 + x^2 + 1, a primitive polynomial
    return tuple(exp), tuple(log_)


_EXP, _LOG = _gf_tables()


def _gf_mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def check_symbol(data: str, *, group_index: int) -> str:
    """The check symbol of one group's data symbols; the group's index is mixed in so a group typed in
    the wrong place (a line typed twice, a line skipped) is caught too."""
    acc = _EXP[group_index % 31]
    for position, ch in enumerate(data):
        acc ^= _gf_mul(_EXP[position + 1], _VALUES[ch])
    return ALPHABET[acc]


# ---- text layer ----------------------------------------------------------------------------


def normalize(code: str) -> str:
    """The code's symbols only: spaces, line breaks and hyphens dropped, upper case, O read as 0, I and L as 1."""
    kept = [ch for ch in code if not ch.isspace() and ch not in _HYPHENS]
    if not kept:
        raise ResultCodeError(
            "The result code is empty: paste or type the whole code shown on the student's computer.", reason="empty"
        )
    canonical = "".join(_LOOKALIKES.get(ch.upper(), ch.upper()) for ch in kept)
    for index, (typed, mapped) in enumerate(zip(kept, canonical, strict=True)):
        if mapped not in _VALUES:
            group = index // GROUP_LENGTH + 1
            raise ResultCodeError(
                f"Group {group} contains {typed!r}, which never appears in a result code "
                f"(only digits and the letters A-Z without U): compare group {group} with the original.",
                reason="bad_character",
            )
    return canonical


def _layout(symbols: str) -> str:
    groups = [
        symbols[start : start + DATA_PER_GROUP] + check_symbol(symbols[start : start + DATA_PER_GROUP], group_index=i)
        for i, start in enumerate(range(0, len(symbols), DATA_PER_GROUP))
    ]
    lines = ["-".join(groups[start : start + GROUPS_PER_LINE]) for start in range(0, len(groups), GROUPS_PER_LINE)]
    return "\n".join(lines)


def _to_symbols(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def _from_symbols(symbols: str) -> int:
    value = 0
    for ch in symbols:
        value = value * 32 + _VALUES[ch]
    return value


def _bytes_to_symbols(data: bytes) -> str:
    padding = -len(data) * 8 % 5
    width = (len(data) * 8 + padding) // 5
    return _to_symbols(int.from_bytes(data, "big") << padding, width)


def _symbols_to_bytes(symbols: str, length: int) -> bytes:
    padding = len(symbols) * 5 - length * 8
    value = _from_symbols(symbols)
    if value & ((1 << padding) - 1):
        raise _not_authentic()
    return (value >> padding).to_bytes(length, "big")


def _data_symbol_count(body_length: int) -> int:
    return -(-body_length * 8 // 5)


def _read(code: str) -> tuple[str, bytes, bytes]:
    """Check every group and the length; return the attempt id, the AAD and the nonce + ciphertext."""
    text = normalize(code)
    if len(text) < GROUP_LENGTH:
        raise ResultCodeError(
            f"The result code is incomplete: it has only {len(text)} characters. Copy the whole code again.",
            reason="truncated",
        )
    _verify_group(text[:GROUP_LENGTH], group_index=0)
    version = _VALUES[text[0]]
    if version != CODE_VERSION:
        raise ResultCodeError(
            f"This result code was made by a newer version of Invigil (code format {version}; this software "
            f"reads format {CODE_VERSION}). Update Invigil on this computer, then submit the code again.",
            reason="unknown_version",
        )
    body_length = _from_symbols(text[1:DATA_PER_GROUP])
    data_count = _data_symbol_count(body_length)
    group_count = 1 + -(-data_count // DATA_PER_GROUP)
    expected = GROUP_LENGTH + data_count + (group_count - 1)
    data: list[str] = []
    for index in range(1, group_count):
        start = index * GROUP_LENGTH
        size = min(DATA_PER_GROUP, data_count - (index - 1) * DATA_PER_GROUP) + 1
        group = text[start : start + size]
        if len(group) < size:
            break
        _verify_group(group, group_index=index)
        data.append(group[:-1])
    if len(text) < expected:
        raise ResultCodeError(
            f"The result code is incomplete: it should have {group_count} groups ({expected} characters) but "
            f"has {len(text)} characters. The end is missing; copy the whole code again.",
            reason="truncated",
        )
    if len(text) > expected:
        raise ResultCodeError(
            f"The result code is too long: after its {group_count} groups there are {len(text) - expected} extra "
            "characters. Submit one code at a time, exactly as shown.",
            reason="too_long",
        )
    body = _symbols_to_bytes("".join(data), body_length)
    try:
        attempt_id, consumed = _decode_attempt_id(body)
    except (_Malformed, UnicodeDecodeError):
        raise _not_authentic() from None
    if len(body) - consumed < NONCE_BYTES + TAG_BYTES:
        raise _not_authentic()
    aad = _AAD_MAGIC + bytes([version]) + body[:consumed]
    return attempt_id, aad, body[consumed:]


def _verify_group(group: str, *, group_index: int) -> None:
    if check_symbol(group[:-1], group_index=group_index) != group[-1]:
        raise ResultCodeError(
            f"Group {group_index + 1} ({group!r}) does not match its check symbol: compare it with the original.",
            reason="check_failed",
        )


def _not_authentic() -> ResultCodeError:
    return ResultCodeError(
        "The result code is not genuine for this attempt: it was changed after it was made, or it was made for "
        "another attempt. Check that it belongs to this student, then copy it again from the original.",
        reason="not_authentic",
    )


# ---- bytes layer -----------------------------------------------------------------------------


class _Malformed(Exception):
    """Structured bytes ended early or held an impossible value."""


class _Writer:
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


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise _Malformed
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
                raise _Malformed

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


def _encode_attempt_id(attempt_id: str) -> bytes:
    # 0 then 16 bytes for a UUID (the real server's ids); otherwise 1 + length, then UTF-8.
    writer = _Writer()
    packed = _canonical_uuid(attempt_id)
    if packed is not None:
        writer.uint(0)
        writer.out += packed
    else:
        raw = attempt_id.encode("utf-8", "surrogatepass")
        writer.uint(len(raw) + 1)
        writer.out += raw
    return bytes(writer.out)


def _decode_attempt_id(body: bytes) -> tuple[str, int]:
    reader = _Reader(body)
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


def _pack(envelope: ResultEnvelope) -> bytes:
    """The envelope without its attempt id, column by column so deflate finds the repetition."""
    writer = _Writer()
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


def _unpack(plain: bytes, *, attempt_id: str) -> ResultEnvelope:
    reader = _Reader(plain)
    flags = reader.uint()
    key = str(uuid.UUID(bytes=reader.take(16))) if flags & _FLAG_UUID_KEY else reader.text()
    finished = reader.sint()
    section_ids = [reader.text() for _ in range(reader.uint())]
    count = reader.uint()
    if count > len(plain):
        raise _Malformed
    item_ids: list[str] = []
    previous = ""
    for _ in range(count):
        shared = reader.uint()
        if shared > len(previous):
            raise _Malformed
        previous = previous[:shared] + reader.text()
        item_ids.append(previous)
    values: list[str | list[str]] = []
    for _ in range(count):
        kind = reader.uint()
        values.append(reader.text() if kind == 0 else [reader.text() for _ in range(kind - 1)])
    times: list[datetime] = []
    reference = finished
    for _ in range(count):
        reference -= reader.sint()
        times.append(_EPOCH + reference * _SECOND)
    if reader.pos != len(plain):
        raise _Malformed
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


def _compress(packed: bytes) -> bytes:
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    deflated = squeezer.compress(packed) + squeezer.flush()
    # Tiny envelopes grow under deflate; keep whichever is shorter.
    if len(deflated) < len(packed):
        return bytes([_DEFLATED]) + deflated
    return bytes([_STORED]) + packed


def _decompress(plain: bytes) -> bytes:
    if not plain:
        raise _Malformed
    if plain[0] == _STORED:
        return plain[1:]
    if plain[0] != _DEFLATED:
        raise _Malformed
    inflater = zlib.decompressobj(-15)
    packed = inflater.decompress(plain[1:], MAX_PLAINTEXT_BYTES)
    if inflater.unconsumed_tail or not inflater.eof:
        raise _Malformed
    return packed


def _cipher(result_secret: str) -> AESGCM:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    try:
        master = base64.urlsafe_b64decode(result_secret.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError):
        master = b""
    if len(master) != 32:
        # The server or the login response handed over something else: a fault in the software, not the code.
        raise ValueError("result_secret must be URL-safe base64 of 32 bytes (as sync.server.crypto makes it)")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO).derive(master)
    return AESGCM(key)


# ---- public API ------------------------------------------------------------------------------


def encode(envelope: ResultEnvelope, *, result_secret: str) -> str:
    """The envelope as a result code: lines of hyphen-separated groups, e.g. '1000R5-4KZ7QH-...'.

    Timestamps keep whole seconds, in UTC.
    """
    cipher = _cipher(result_secret)
    attempt_field = _encode_attempt_id(envelope.attempt_id)
    nonce = os.urandom(NONCE_BYTES)
    plain = _compress(_pack(envelope))
    body_length = len(attempt_field) + NONCE_BYTES + len(plain) + TAG_BYTES
    if body_length > MAX_BODY_BYTES:
        raise ValueError(f"the envelope is too large for a result code ({body_length} bytes after compression)")
    aad = _AAD_MAGIC + bytes([CODE_VERSION]) + attempt_field
    body = attempt_field + nonce + cipher.encrypt(nonce, plain, aad)
    header = ALPHABET[CODE_VERSION] + _to_symbols(body_length, DATA_PER_GROUP - 1)
    code = _layout(header + _bytes_to_symbols(body))
    log.info("result code made for attempt %s: %d characters", envelope.attempt_id, len(code))
    return code


def peek_attempt_id(code: str) -> str:
    """The attempt a code belongs to, after checking every group (no secret needed); raises ResultCodeError."""
    attempt_id, _, _ = _read(code)
    return attempt_id


def decode(code: str, *, result_secret: str, attempt_id: str | None = None) -> ResultEnvelope:
    """The envelope inside a result code, verified against the attempt's secret; raises ResultCodeError."""
    code_attempt_id, aad, sealed = _read(code)
    if attempt_id is not None and code_attempt_id != attempt_id:
        raise ResultCodeError(
            f"This result code belongs to attempt {code_attempt_id}, not to attempt {attempt_id}. "
            "Submit it for the student and sitting it was made for.",
            reason="wrong_attempt",
        )
    cipher = _cipher(result_secret)
    from cryptography.exceptions import InvalidTag

    try:
        plain = cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise _not_authentic() from None
    try:
        return _unpack(_decompress(plain), attempt_id=code_attempt_id)
    except (_Malformed, zlib.error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        # Authentic but unreadable: only a fault in the software that made it can do this.
        log.error("authentic result code for attempt %s could not be read: %r", code_attempt_id, exc)
        raise ResultCodeError(
            "The result code is genuine but its contents cannot be read; this is a fault in Invigil. "
            "Keep the code and send it to support.",
            reason="unreadable",
        ) from None
