"""The offline result code: a result envelope as checked, grouped, encrypted Crockford base32 text."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync import crockford, resultcode_checks
from sync.crockford import ALPHABET
from sync.protocol import ResultEnvelope
from sync.resultcode_checks import (
    DATA_PER_GROUP,
    ORDER_SYMBOLS,
    group_passes,
    locate_order_swap,
    order_sums,
)
from sync.resultcode_pack import (
    Malformed,
    compress,
    decode_attempt_id,
    decompress,
    encode_attempt_id,
    pack,
    unpack,
)

if TYPE_CHECKING:
    # Imported where a code is made or read (_cipher, decode): `cryptography` takes ~7 MB, and a player whose
    # results reach the server never makes a code.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [  # ALPHABET (sync.crockford) and DATA_PER_GROUP (resultcode_checks): callers keep reading them here
    "ALPHABET",
    "CODE_VERSION",
    "DATA_PER_GROUP",
    "GROUPS_PER_LINE",
    "GROUP_LENGTH",
    "MAX_SITTING_BODY_BYTES",
    "MAX_SYMBOLS",
    "MAX_TEXT_LENGTH",
    "READABLE_VERSIONS",
    "CheckedCode",
    "ResultCodeError",
    "check",
    "check_symbol",
    "decode",
    "encode",
    "normalize",
    "peek_attempt_id",
    "refuse_if_too_long",
    "symbol_count",
]

log = logging.getLogger(__name__)

CODE_VERSION = 2
"""Format 2 added the order check (groups 2 and 3); format 1 codes are still read."""
READABLE_VERSIONS = (1, 2)
GROUP_LENGTH = DATA_PER_GROUP + 1
"""Five data symbols and one check symbol."""
GROUPS_PER_LINE = 5
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_BODY_BYTES = 32**4 - 1
"""The header's length field has four symbols (20 bits)."""
MAX_SITTING_BODY_BYTES = 384 * 1024
"""The largest body a genuine sitting makes, with room to spare (docs/result-code.md, "Length bound")."""


def symbol_count(body_length: int, *, version: int = CODE_VERSION) -> int:
    """Symbols (check symbols included, separators not) of a code whose body has `body_length` bytes."""
    data = DATA_PER_GROUP + (ORDER_SYMBOLS if version >= 2 else 0) + -(-body_length * 8 // 5)
    return data + -(-data // DATA_PER_GROUP)


MAX_SYMBOLS = symbol_count(MAX_SITTING_BODY_BYTES)
"""No genuine code has more symbols: a longer one is refused before any decoding."""
MAX_TEXT_LENGTH = 2 * MAX_SYMBOLS
"""Characters as pasted: room for a separator (space, hyphen, line break) after every symbol."""

# The usual typed characters (symbols, lower case, O for 0 and I/L for 1, separators) read in C; anything else
# goes through crockford.read (NFKC + casefold: full-width letters, circled digits...).
_FAST_READ = str.maketrans({typed: symbol or None for typed, symbol in crockford.READ.items()})
_DROP_SYMBOLS = str.maketrans("", "", ALPHABET)
_TO_INT_DIGITS = str.maketrans(ALPHABET, "0123456789abcdefghijklmnopqrstuv")
"""Our symbols as the digits int(_, 32) reads, so whole chunks convert in C."""
_KDF_INFO = b"invigil/result-code/v1"
_AAD_MAGIC = b"invigil-result-code"


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


def check_symbol(data: str, *, group_index: int, version: int = CODE_VERSION) -> str:
    """The check symbol of one group's data symbols at `group_index` (0-based) in a code of `version`."""
    return resultcode_checks.check_symbol(data, group_index=group_index, version=version)


# ---- text layer ----------------------------------------------------------------------------


def refuse_if_too_long(code: str) -> None:
    """Raise ResultCodeError ("too_long") when `code` is longer than any genuine code could be written."""
    if len(code) > MAX_TEXT_LENGTH:
        raise _too_long()


def _too_long() -> ResultCodeError:
    return ResultCodeError(
        f"The result code is too long: no genuine code has more than {MAX_SYMBOLS:,} characters. Submit one "
        "code at a time, exactly as shown; if it came from a file, check that it is the saved result code file.",
        reason="too_long",
    )


def normalize(code: str) -> str:
    """The code's symbols only: spaces, line breaks and hyphens dropped, upper case, O read as 0, I and L as 1.

    Raises ResultCodeError and nothing else, whatever the text.
    """
    refuse_if_too_long(code)
    fast = code.translate(_FAST_READ)
    if fast and not fast.translate(_DROP_SYMBOLS) and len(fast) <= MAX_SYMBOLS:
        return fast  # the usual case, done in C; the loop below finds and names what is wrong
    symbols: list[str] = []
    for typed in code:
        symbol = crockford.read(typed)
        if symbol is None:
            group, place = divmod(len(symbols), GROUP_LENGTH)
            raise ResultCodeError(
                f"Group {group + 1} contains {typed!r} (character {place + 1} of the group), which never appears "
                f"in a result code (only digits and the letters A-Z without U): compare group {group + 1} with "
                "the original.",
                reason="bad_character",
            )
        if symbol:
            symbols.append(symbol)
    if not symbols:
        raise ResultCodeError(
            "The result code is empty: paste or type the whole code shown on the student's computer.", reason="empty"
        )
    if len(symbols) > MAX_SYMBOLS:
        raise _too_long()
    return "".join(symbols)


def _layout(data: str, *, version: int = CODE_VERSION) -> str:
    groups = [
        data[start : start + DATA_PER_GROUP]
        + check_symbol(data[start : start + DATA_PER_GROUP], group_index=index, version=version)
        for index, start in enumerate(range(0, len(data), DATA_PER_GROUP))
    ]
    lines = ["-".join(groups[start : start + GROUPS_PER_LINE]) for start in range(0, len(groups), GROUPS_PER_LINE)]
    return "\n".join(lines)


def _to_symbols(value: int, width: int) -> str:
    # Small numbers only (header fields, order sums): repeated divmod on a big one is quadratic.
    out = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def _bytes_to_symbols(data: bytes) -> str:
    """Big-endian bits, 5 per symbol, the last symbol padded with zero bits; 5 bytes (8 symbols) at a time."""
    width = -(-len(data) * 8 // 5)
    padded = data + bytes(-len(data) % 5)
    out: list[str] = []
    for start in range(0, len(padded), 5):
        chunk = int.from_bytes(padded[start : start + 5], "big")
        out.extend(ALPHABET[(chunk >> shift) & 31] for shift in (35, 30, 25, 20, 15, 10, 5, 0))
    return "".join(out[:width])


def _symbols_to_bytes(symbols: str, length: int) -> bytes:
    digits = (symbols + "0" * (-len(symbols) % 8)).translate(_TO_INT_DIGITS)
    raw = b"".join(int(digits[start : start + 8], 32).to_bytes(5, "big") for start in range(0, len(digits), 8))
    if any(raw[length:]):  # the padding bits must be zero
        raise _not_authentic()
    return raw[:length]


def _group_values(data: str) -> list[int]:
    digits = data.translate(_TO_INT_DIGITS)
    return [int(digits[start : start + DATA_PER_GROUP], 32) for start in range(0, len(digits), DATA_PER_GROUP)]


def _read(code: str) -> tuple[str, bytes, bytes]:
    """Check every group, the length and the order; return the attempt id, the AAD and the nonce + ciphertext."""
    text = normalize(code)
    if len(text) < GROUP_LENGTH:
        raise ResultCodeError(
            f"The result code is incomplete: it has only {len(text)} characters. Copy the whole code again.",
            reason="truncated",
        )
    # Every format gives the header the same check (tag α^0), so a newer code still says "update".
    if not group_passes(text[:GROUP_LENGTH], group_index=0, version=1):
        version = _likeliest_version(text)
        raise _typo(text, _failing_groups(text, len(text), version=version), version=version)
    version = ALPHABET.index(text[0])
    if version < min(READABLE_VERSIONS):
        raise ResultCodeError(
            f"The first group names code format {version}, which Invigil never made: this is not a result code, or "
            "group 1 was changed. Compare it with the original.",
            reason="unknown_version",
        )
    if version not in READABLE_VERSIONS:
        raise ResultCodeError(
            f"This result code was made by a newer version of Invigil (code format {version}; this software "
            f"reads formats up to {CODE_VERSION}). Update Invigil on this computer, then submit the code again.",
            reason="unknown_version",
        )
    body_length = int(text[1:DATA_PER_GROUP].translate(_TO_INT_DIGITS), 32)
    expected = symbol_count(body_length, version=version)
    group_count = -(-expected // GROUP_LENGTH)
    failures = _failing_groups(text, expected, version=version)
    if failures:
        raise _typo(text, failures, version=version)
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
    # The last group may hold fewer than five data symbols; its check symbol is always the last one.
    data = "".join(
        text[start : min(start + DATA_PER_GROUP, expected - 1)] for start in range(0, expected, GROUP_LENGTH)
    )
    body_start = DATA_PER_GROUP
    if version >= 2:
        body_start += ORDER_SYMBOLS
        _check_order(text, data)
    body = _symbols_to_bytes(data[body_start:], body_length)
    try:
        attempt_id, consumed = decode_attempt_id(body)
    except (Malformed, UnicodeDecodeError):
        raise _not_authentic() from None
    if len(body) - consumed < NONCE_BYTES + TAG_BYTES:
        raise _not_authentic()
    aad = _AAD_MAGIC + bytes([version]) + body[:consumed]
    return attempt_id, aad, body[consumed:]


def _group(text: str, index: int) -> str:
    return text[index * GROUP_LENGTH : (index + 1) * GROUP_LENGTH]


def _failing_groups(text: str, expected: int, *, version: int) -> list[int]:
    """0-based indexes of the complete groups (within `expected` symbols) that fail their check."""
    failures = []
    for index, start in enumerate(range(0, expected, GROUP_LENGTH)):
        size = min(GROUP_LENGTH, expected - start)
        group = text[start : start + size]
        if len(group) < size:
            break
        if not group_passes(group, group_index=index, version=version):
            failures.append(index)
    return failures


def _likeliest_version(text: str) -> int:
    """With the header damaged, the format whose checks the other groups pass best (to name the right groups)."""
    counts = {version: len(_failing_groups(text, len(text), version=version)) for version in READABLE_VERSIONS}
    return min(READABLE_VERSIONS, key=lambda version: (counts[version], -version))


def _typo(text: str, failures: list[int], *, version: int) -> ResultCodeError:
    first, later = failures[0], failures[1:]
    group = _group(text, first)
    if len(failures) == 2:
        other = _group(text, later[0])
        if (
            len(group) == len(other)
            and group_passes(group, group_index=later[0], version=version)
            and group_passes(other, group_index=first, version=version)
        ):
            return _swapped(text, first, later[0])
        message = (
            f"Group {first + 1} ({group!r}) does not match its check symbol, nor does group {later[0] + 1} "
            f"({other!r}): compare both with the original."
        )
    elif later:
        message = (
            f"Group {first + 1} ({group!r}) does not match its check symbol, nor do {len(later)} groups after it: "
            f"compare the code from group {first + 1} on with the original (a line may be missing, typed twice or "
            "out of place)."
        )
    else:
        message = f"Group {first + 1} ({group!r}) does not match its check symbol: compare it with the original."
    return ResultCodeError(message, reason="check_failed")


def _swapped(text: str, first: int, second: int) -> ResultCodeError:
    return ResultCodeError(
        f"Groups {first + 1} ({_group(text, first)!r}) and {second + 1} ({_group(text, second)!r}) look swapped: "
        "compare them with the original and put them back in order.",
        reason="check_failed",
    )


def _check_order(text: str, data: str) -> None:
    """Format 2: the order check in groups 2 and 3 must match the body's groups in the order typed."""
    stored_first, stored_second, *values = _group_values(data[DATA_PER_GROUP:])
    computed = order_sums(values)
    if computed == (stored_first, stored_second):
        return
    pair = locate_order_swap(values, stored=(stored_first, stored_second), computed=computed)
    if pair is not None:
        raise _swapped(text, *pair)
    raise ResultCodeError(
        "Every group matches its check symbol, but the groups are not in their original order (or several "
        "were changed): compare the code line by line with the original.",
        reason="check_failed",
    )


def _not_authentic() -> ResultCodeError:
    return ResultCodeError(
        "The result code is not genuine for this attempt: it was changed after it was made, or it was made for "
        "another attempt. Check that it belongs to this student, then copy it again from the original.",
        reason="not_authentic",
    )


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
    return seal(compress(pack(envelope)), attempt_id=envelope.attempt_id, result_secret=result_secret)


def seal(plain: bytes, *, attempt_id: str, result_secret: str) -> str:
    """A packed, compressed envelope sealed for the attempt and laid out as a code: `encode`'s second half (the
    tests seal hand-made contents with it, as someone holding an attempt's key could)."""
    cipher = _cipher(result_secret)
    attempt_field = encode_attempt_id(attempt_id)
    nonce = os.urandom(NONCE_BYTES)
    body_length = len(attempt_field) + NONCE_BYTES + len(plain) + TAG_BYTES
    if body_length > MAX_SITTING_BODY_BYTES:
        raise ValueError(
            f"the envelope is too large for a result code ({body_length} bytes after compression; at most "
            f"{MAX_SITTING_BODY_BYTES}): it can only reach the server by upload"
        )
    aad = _AAD_MAGIC + bytes([CODE_VERSION]) + attempt_field
    body_symbols = _bytes_to_symbols(attempt_field + nonce + cipher.encrypt(nonce, plain, aad))
    first, second = order_sums(_group_values(body_symbols))
    header = ALPHABET[CODE_VERSION] + _to_symbols(body_length, DATA_PER_GROUP - 1)
    code = _layout(header + _to_symbols(first, DATA_PER_GROUP) + _to_symbols(second, DATA_PER_GROUP) + body_symbols)
    log.info("result code made for attempt %s: %d characters", attempt_id, len(code))
    return code


@dataclass(frozen=True)
class CheckedCode:
    """A code whose every check passed: the attempt it names and the sealed part, not yet decrypted."""

    attempt_id: str
    aad: bytes
    sealed: bytes


def check(code: str) -> CheckedCode:
    """Run every check that needs no secret (length, characters, groups, order); raises ResultCodeError.

    The server checks once, looks up the attempt, then decrypts the same CheckedCode.
    """
    attempt_id, aad, sealed = _read(code)
    return CheckedCode(attempt_id=attempt_id, aad=aad, sealed=sealed)


def peek_attempt_id(code: str) -> str:
    """The attempt a code belongs to, after checking every group (no secret needed); raises ResultCodeError."""
    return check(code).attempt_id


def decode(code: str | CheckedCode, *, result_secret: str, attempt_id: str | None = None) -> ResultEnvelope:
    """The envelope inside a result code, verified against the attempt's secret; raises ResultCodeError."""
    checked = code if isinstance(code, CheckedCode) else check(code)
    code_attempt_id, aad, sealed = checked.attempt_id, checked.aad, checked.sealed
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
        return unpack(decompress(plain), attempt_id=code_attempt_id)
    except (Malformed, zlib.error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        # Authentic but unreadable: made with the attempt's key, by faulty software or by hand (the key is on the
        # student's computer), never by a typo.
        log.error("authentic result code for attempt %s could not be read: %r", code_attempt_id, exc)
        raise ResultCodeError(
            "The result code was made with this test's key, but its contents cannot be read: either Invigil "
            "made it wrongly, or it was made by hand. Nothing was stored. Keep the code and send it to support.",
            reason="unreadable",
        ) from None
