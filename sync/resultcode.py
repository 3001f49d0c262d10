"""The offline result code: a result envelope as checked, grouped, encrypted Crockford base32 text."""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync import resultcode_checks, resultcode_v3
from sync.crockford import ALPHABET
from sync.protocol import DeliveryAssessment, ResultEnvelope
from sync.resultcode_checks import DATA_PER_GROUP, ORDER_SYMBOLS, group_passes, order_sums
from sync.resultcode_keys import master_key
from sync.resultcode_pack import (
    Malformed,
    compress,
    decode_attempt_id,
    decompress,
    encode_attempt_id,
    pack,
    unpack,
)
from sync.resultcode_text import (
    GROUP_LENGTH,
    GROUPS_PER_LINE,
    MAX_SITTING_BODY_BYTES,
    MAX_SYMBOLS,
    MAX_TEXT_LENGTH,
    TO_INT_DIGITS,
    ResultCodeError,
    bytes_to_symbols,
    check_order,
    failing_groups,
    group_values,
    layout,
    likeliest_version,
    normalize,
    not_authentic,
    refuse_if_too_long,
    symbol_count,
    symbols_to_bytes,
    to_symbols,
    typo,
    unreadable,
)

if TYPE_CHECKING:
    # Imported where a code is made or read (_cipher, decode): `cryptography` takes ~7 MB, and a player whose
    # results reach the server never makes a code.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "CODE_VERSION",
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

CODE_VERSION = 3
"""Format 3 packs answers by the delivery form (docs/result-code.md); formats 1 and 2 are still read, and 2 is
still written for an envelope format 3 cannot say (or when no delivery form is at hand)."""
READABLE_VERSIONS = (1, 2, 3)
NONCE_BYTES = 12
TAG_BYTES = 16
_KDF_INFO = b"invigil/result-code/v1"
_AAD_MAGIC = b"invigil-result-code"


def check_symbol(data: str, *, group_index: int, version: int = CODE_VERSION) -> str:
    """The check symbol of one group's data symbols at `group_index` (0-based) in a code of `version`."""
    return resultcode_checks.check_symbol(data, group_index=group_index, version=version)


def _order_checked(version: int, body_symbols: int) -> bool:
    """Format 2 always has the order check; format 3 only past 31 body groups, where two groups can share a
    check-symbol tag (up to there every group's tag differs, so the check symbols alone name any swap)."""
    return version == 2 or (version == 3 and -(-body_symbols // DATA_PER_GROUP) > 31)


def _expected(version: int, length: int) -> int:
    if version < 3:
        return symbol_count(length, version=version)
    data = DATA_PER_GROUP + (ORDER_SYMBOLS if _order_checked(3, length) else 0) + length
    return data + -(-data // DATA_PER_GROUP)


def _read(code: str) -> tuple[int, str, int]:
    """Check every group, the length and the order; return the version, the body's symbols and the length field."""
    text = normalize(code)
    if len(text) < GROUP_LENGTH:
        raise ResultCodeError(
            f"The result code is incomplete: it has only {len(text)} characters. Copy the whole code again.",
            reason="truncated",
        )
    # Every format gives the header the same check (tag α^0), so a newer code still says "update".
    if not group_passes(text[:GROUP_LENGTH], group_index=0, version=1):
        version = likeliest_version(text, READABLE_VERSIONS)
        raise typo(text, failing_groups(text, len(text), version=version), version=version)
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
    length = int(text[1:DATA_PER_GROUP].translate(TO_INT_DIGITS), 32)
    expected = _expected(version, length)
    group_count = -(-expected // GROUP_LENGTH)
    failures = failing_groups(text, expected, version=version)
    if failures:
        raise typo(text, failures, version=version)
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
    if _order_checked(version, length):
        body_start += ORDER_SYMBOLS
        check_order(text, data)
    return version, data[body_start:], length


def _cipher(result_secret: str) -> AESGCM:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO).derive(master_key(result_secret))
    return AESGCM(key)


# ---- public API ------------------------------------------------------------------------------


def encode(envelope: ResultEnvelope, *, result_secret: str, delivery: DeliveryAssessment | None = None) -> str:
    """The envelope as a result code: lines of hyphen-separated groups, e.g. '30017P-4KZ7QH-...'.

    With the attempt's delivery form, format 3 (short: the server rebuilds ids from the same form); without it,
    or for an envelope that names something the form does not hold, format 2. Times keep whole seconds, in UTC.
    """
    if delivery is not None:
        try:
            bits = resultcode_v3.pack(envelope, delivery)
            body, length = resultcode_v3.seal(
                bits, attempt_id=envelope.attempt_id, delivery=delivery, result_secret=result_secret
            )
        except resultcode_v3.NotRepresentable:
            log.info("attempt %s: the envelope does not fit format 3; making a format 2 code", envelope.attempt_id)
        else:
            if _expected(3, length // 5) <= MAX_SYMBOLS:
                code = _layout_v3(body, length // 5)
                log.info("result code made for attempt %s: %d characters", envelope.attempt_id, len(code))
                return code
    return seal(compress(pack(envelope)), attempt_id=envelope.attempt_id, result_secret=result_secret)


def _layout_v3(body: int, count: int) -> str:
    padding = -5 * count % 8  # through bytes: shifting one big number per symbol is quadratic
    digits = bytes_to_symbols((body << padding).to_bytes((5 * count + padding) // 8, "big"))[:count]
    header = ALPHABET[3] + to_symbols(count, DATA_PER_GROUP - 1)
    order = ""
    if _order_checked(3, count):
        first, second = order_sums(group_values(digits))
        order = to_symbols(first, DATA_PER_GROUP) + to_symbols(second, DATA_PER_GROUP)
    return layout(header + order + digits, version=3)


def seal(plain: bytes, *, attempt_id: str, result_secret: str) -> str:
    """A packed, compressed envelope sealed for the attempt and laid out as a format 2 code: `encode`'s second half
    (the tests seal hand-made contents with it, as someone holding an attempt's key could)."""
    cipher = _cipher(result_secret)
    attempt_field = encode_attempt_id(attempt_id)
    nonce = os.urandom(NONCE_BYTES)
    body_length = len(attempt_field) + NONCE_BYTES + len(plain) + TAG_BYTES
    if body_length > MAX_SITTING_BODY_BYTES:
        raise ValueError(
            f"the envelope is too large for a result code ({body_length} bytes after compression; at most "
            f"{MAX_SITTING_BODY_BYTES}): it can only reach the server by upload"
        )
    aad = _AAD_MAGIC + bytes([2]) + attempt_field
    body_symbols = bytes_to_symbols(attempt_field + nonce + cipher.encrypt(nonce, plain, aad))
    first, second = order_sums(group_values(body_symbols))
    header = ALPHABET[2] + to_symbols(body_length, DATA_PER_GROUP - 1)
    code = layout(
        header + to_symbols(first, DATA_PER_GROUP) + to_symbols(second, DATA_PER_GROUP) + body_symbols, version=2
    )
    log.info("result code made for attempt %s: %d characters", attempt_id, len(code))
    return code


@dataclass(frozen=True)
class CheckedCode:
    """A code whose every check passed: the attempt it names and the sealed part, not yet decrypted.

    Format 3 names the attempt by the first 64 bits of its id only (`attempt_id` is then 'xxxxxxxx-xxxx-xxxx',
    `partial_id` True): the server finds the attempts whose id begins so, and the tag tells which one it is."""

    attempt_id: str
    aad: bytes
    sealed: bytes
    version: int = 2
    body: int = 0
    body_bits: int = 0

    @property
    def partial_id(self) -> bool:
        return self.version >= 3


def check(code: str) -> CheckedCode:
    """Run every check that needs no secret (length, characters, groups, order); raises ResultCodeError.

    The server checks once, looks up the attempt, then decrypts the same CheckedCode.
    """
    version, symbols, length = _read(code)
    if version == 3:
        body = int(symbols.translate(TO_INT_DIGITS), 32) if symbols else 0
        bits = 5 * len(symbols)
        if bits < resultcode_v3.CLEAR_BITS:
            raise not_authentic()
        prefix = resultcode_v3.prefix_text(body >> (bits - resultcode_v3.PREFIX_BITS))
        return CheckedCode(attempt_id=prefix, aad=b"", sealed=b"", version=3, body=body, body_bits=bits)
    raw = symbols_to_bytes(symbols, length)
    try:
        attempt_id, consumed = decode_attempt_id(raw)
    except (Malformed, UnicodeDecodeError):
        raise not_authentic() from None
    if len(raw) - consumed < NONCE_BYTES + TAG_BYTES:
        raise not_authentic()
    aad = _AAD_MAGIC + bytes([version]) + raw[:consumed]
    return CheckedCode(attempt_id=attempt_id, aad=aad, sealed=raw[consumed:], version=version)


def peek_attempt_id(code: str) -> str:
    """The attempt a code belongs to, after checking every group (no secret needed); raises ResultCodeError.

    For a format 3 code, the start of the attempt id only ('xxxxxxxx-xxxx-xxxx')."""
    return check(code).attempt_id


def _wrong_attempt(code_attempt_id: str, attempt_id: str) -> ResultCodeError:
    return ResultCodeError(
        f"This result code belongs to attempt {code_attempt_id}, not to attempt {attempt_id}. "
        "Submit it for the student and sitting it was made for.",
        reason="wrong_attempt",
    )


def decode(
    code: str | CheckedCode,
    *,
    result_secret: str,
    attempt_id: str | None = None,
    delivery: DeliveryAssessment | None = None,
) -> ResultEnvelope:
    """The envelope inside a result code, verified against the attempt's secret; raises ResultCodeError.

    A format 3 code needs the attempt's full id and the delivery form it was made from (the server has both)."""
    checked = code if isinstance(code, CheckedCode) else check(code)
    if checked.version == 3:
        return _decode_v3(checked, result_secret=result_secret, attempt_id=attempt_id, delivery=delivery)
    code_attempt_id, aad, sealed = checked.attempt_id, checked.aad, checked.sealed
    if attempt_id is not None and code_attempt_id != attempt_id:
        raise _wrong_attempt(code_attempt_id, attempt_id)
    cipher = _cipher(result_secret)
    from cryptography.exceptions import InvalidTag

    try:
        plain = cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise not_authentic() from None
    try:
        return unpack(decompress(plain), attempt_id=code_attempt_id)
    except (Malformed, zlib.error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        # Authentic but unreadable: made with the attempt's key, by faulty software or by hand (the key is on the
        # student's computer), never by a typo.
        log.error("authentic result code for attempt %s could not be read: %r", code_attempt_id, exc)
        raise unreadable() from None


def _decode_v3(
    checked: CheckedCode, *, result_secret: str, attempt_id: str | None, delivery: DeliveryAssessment | None
) -> ResultEnvelope:
    if attempt_id is None or delivery is None:
        raise ValueError("a format 3 result code is decoded with the attempt's id and delivery form")
    if not attempt_id.startswith(checked.attempt_id + "-"):
        raise _wrong_attempt(checked.attempt_id, attempt_id)
    reader = resultcode_v3.open_body(
        checked.body, checked.body_bits, attempt_id=attempt_id, delivery=delivery, result_secret=result_secret
    )
    if reader is None:
        raise not_authentic()
    try:
        envelope = resultcode_v3.unpack(reader, attempt_id=attempt_id, delivery=delivery)
        if reader.remaining() >= 5 or not reader.rest_is_zero():
            raise Malformed
        return envelope
    except (Malformed, zlib.error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        log.error("authentic result code for attempt %s could not be read: %r", attempt_id, exc)
        raise unreadable() from None
