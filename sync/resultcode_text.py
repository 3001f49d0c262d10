"""The result code's text layer: reading typed text, groups with check symbols, and the messages for typos."""

from __future__ import annotations

from collections.abc import Sequence

from sync import crockford, resultcode_checks
from sync.crockford import ALPHABET
from sync.resultcode_checks import DATA_PER_GROUP, ORDER_SYMBOLS, group_passes, locate_order_swap, order_sums

GROUP_LENGTH = DATA_PER_GROUP + 1
"""Five data symbols and one check symbol."""
GROUPS_PER_LINE = 5
ORIGINAL = "the code on the student's screen or results slip"
"""What staff compare a mistyped code with, in every message that names a typo."""
MAX_SITTING_BODY_BYTES = 384 * 1024
"""The largest body a genuine sitting makes, with room to spare (docs/result-code.md, "Length bound")."""


def symbol_count(body_length: int, *, version: int = 2) -> int:
    """Symbols (check symbols included, separators not) of a format 1 or 2 code whose body has `body_length`
    bytes."""
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
TO_INT_DIGITS = str.maketrans(ALPHABET, "0123456789abcdefghijklmnopqrstuv")
"""Our symbols as the digits int(_, 32) reads, so whole chunks convert in C."""


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
                f"{ORIGINAL}.",
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


def layout(data: str, *, version: int) -> str:
    """Data symbols as the code is shown: groups of five plus a check symbol, hyphens, five groups a line."""
    groups = [
        data[start : start + DATA_PER_GROUP]
        + resultcode_checks.check_symbol(data[start : start + DATA_PER_GROUP], group_index=index, version=version)
        for index, start in enumerate(range(0, len(data), DATA_PER_GROUP))
    ]
    lines = ["-".join(groups[start : start + GROUPS_PER_LINE]) for start in range(0, len(groups), GROUPS_PER_LINE)]
    return "\n".join(lines)


def to_symbols(value: int, width: int) -> str:
    # Small numbers only (header fields, order sums): repeated divmod on a big one is quadratic.
    out = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def bytes_to_symbols(data: bytes) -> str:
    """Big-endian bits, 5 per symbol, the last symbol padded with zero bits; 5 bytes (8 symbols) at a time."""
    width = -(-len(data) * 8 // 5)
    padded = data + bytes(-len(data) % 5)
    out: list[str] = []
    for start in range(0, len(padded), 5):
        chunk = int.from_bytes(padded[start : start + 5], "big")
        out.extend(ALPHABET[(chunk >> shift) & 31] for shift in (35, 30, 25, 20, 15, 10, 5, 0))
    return "".join(out[:width])


def symbols_to_bytes(symbols: str, length: int) -> bytes:
    digits = (symbols + "0" * (-len(symbols) % 8)).translate(TO_INT_DIGITS)
    raw = b"".join(int(digits[start : start + 8], 32).to_bytes(5, "big") for start in range(0, len(digits), 8))
    if any(raw[length:]):  # the padding bits must be zero
        raise not_authentic()
    return raw[:length]


def group_values(data: str) -> list[int]:
    digits = data.translate(TO_INT_DIGITS)
    return [int(digits[start : start + DATA_PER_GROUP], 32) for start in range(0, len(digits), DATA_PER_GROUP)]


def group(text: str, index: int) -> str:
    return text[index * GROUP_LENGTH : (index + 1) * GROUP_LENGTH]


def failing_groups(text: str, expected: int, *, version: int) -> list[int]:
    """0-based indexes of the complete groups (within `expected` symbols) that fail their check."""
    failures = []
    for index, start in enumerate(range(0, expected, GROUP_LENGTH)):
        size = min(GROUP_LENGTH, expected - start)
        piece = text[start : start + size]
        if len(piece) < size:
            break
        if not group_passes(piece, group_index=index, version=version):
            failures.append(index)
    return failures


def likeliest_version(text: str, versions: Sequence[int]) -> int:
    """With the header damaged, the format whose checks the other groups pass best (to name the right groups)."""
    counts = {version: len(failing_groups(text, len(text), version=version)) for version in versions}
    return min(versions, key=lambda version: (counts[version], -version))


def typo(text: str, failures: list[int], *, version: int) -> ResultCodeError:
    first, later = failures[0], failures[1:]
    piece = group(text, first)
    if len(failures) == 2:
        other = group(text, later[0])
        if (
            len(piece) == len(other)
            and group_passes(piece, group_index=later[0], version=version)
            and group_passes(other, group_index=first, version=version)
        ):
            return swapped(text, first, later[0])
        message = (
            f"Group {first + 1} ({piece}) and group {later[0] + 1} ({other}) have typing mistakes: compare both with "
            f"{ORIGINAL}."
        )
    elif later:
        message = (
            f"Group {first + 1} ({piece}) and {len(later)} groups after it have typing mistakes: compare the code "
            f"from group {first + 1} on with {ORIGINAL} (a line may be missing, typed twice or out of place)."
        )
    else:
        message = f"Group {first + 1} ({piece}) has a typing mistake: compare it with {ORIGINAL}."
    return ResultCodeError(message, reason="check_failed")


def swapped(text: str, first: int, second: int) -> ResultCodeError:
    return ResultCodeError(
        f"Groups {first + 1} ({group(text, first)}) and {second + 1} ({group(text, second)}) look swapped: "
        f"compare them with {ORIGINAL} and put them back in order.",
        reason="check_failed",
    )


def check_order(text: str, data: str) -> None:
    """The order check in groups 2 and 3 must match the body's groups in the order typed."""
    stored_first, stored_second, *values = group_values(data[DATA_PER_GROUP:])
    computed = order_sums(values)
    if computed == (stored_first, stored_second):
        return
    pair = locate_order_swap(values, stored=(stored_first, stored_second), computed=computed)
    if pair is not None:
        raise swapped(text, *pair)
    raise ResultCodeError(
        "Every group is typed correctly, but the groups are not in their original order (or several were "
        f"changed): compare the code line by line with {ORIGINAL}.",
        reason="check_failed",
    )


def not_authentic() -> ResultCodeError:
    return ResultCodeError(
        "The result code is not genuine for this attempt: it was changed after it was made, or it was made for "
        "another attempt. Check that it belongs to this student, then copy it again from the original.",
        reason="not_authentic",
    )


def unreadable() -> ResultCodeError:
    return ResultCodeError(
        "The result code was made with this test's key, but its contents cannot be read: either Invigil "
        "made it wrongly, or it was made by hand. Nothing was stored. Keep the code and send it to support.",
        reason="unreadable",
    )
