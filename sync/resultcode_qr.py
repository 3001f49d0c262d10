"""Result codes as QR codes: the text each QR code holds, and joining numbered parts read in any order (no Qt).

A code short enough for one QR code is put in it as it is shown, line breaks turned into spaces (QR's
alphanumeric mode has 0-9, A-Z, space and `$%*+-./:`, and no line break), so a phone that reads it gets the very
text a person would type. A longer code is cut into parts of at most `PART_LENGTH` characters, each headed

    PART 2 OF 3 SET K7QX:<a piece of the code>

where the set is four symbols of a hash of the whole code: it keeps two codes' parts apart and proves that the
joined parts are the code that was cut (a part changed or from another code is caught before the code's own
check symbols and authentication are even asked). Parts join in any order; the result is a code like a typed one,
submitted the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sync import crockford
from sync.resultcode_text import ResultCodeError, normalize

SINGLE_LENGTH = 311
"""The most characters one QR code holds as a whole code: version 10 at error correction M in alphanumeric mode
(57x57 modules), which a webcam reads from a screen at arm's length. The demo sitting's code (298) fits."""
PART_LENGTH = SINGLE_LENGTH - len("PART 99 OF 99 SET XXXX:")
"""Code characters per part, so a part with its header fits the same size of QR code."""
MAX_PARTS = 24
"""More parts than this is more than anyone will hold up to a camera: such a code is saved to a file instead."""
SET_SYMBOLS = 4

_PART = re.compile(r"PART +(\d+) +OF +(\d+) +SET +([0-9A-Z]+) *:(.*)", re.DOTALL)


class TooLargeForQr(ValueError):
    """The code needs more than MAX_PARTS QR codes; the message says what to do instead."""


def _set_id(code: str) -> str:
    """Four symbols that name the code (its symbols only: separators and where it was cut do not count)."""
    digest = hashlib.sha256(normalize(code).encode("ascii")).digest()
    value = int.from_bytes(digest[:4], "big") >> (32 - 5 * SET_SYMBOLS)
    return "".join(crockford.ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(SET_SYMBOLS)))


def qr_texts(code: str) -> list[str]:
    """The text of each QR code for `code`: one when it fits, otherwise numbered parts (TooLargeForQr beyond
    MAX_PARTS)."""
    text = " ".join(code.split())
    if len(text) <= SINGLE_LENGTH:
        return [text]
    pieces = [text[start : start + PART_LENGTH] for start in range(0, len(text), PART_LENGTH)]
    if len(pieces) > MAX_PARTS:
        raise TooLargeForQr(
            f"This result code is too long for QR codes ({len(pieces)} would be needed, at most {MAX_PARTS} are "
            "made): save it to a file, or copy it, instead."
        )
    set_id = _set_id(text)
    return [f"PART {n} OF {len(pieces)} SET {set_id}:{piece}" for n, piece in enumerate(pieces, start=1)]


@dataclass(frozen=True)
class QrRead:
    """What one QR code read gave: a whole code to submit, or a message about the parts so far."""

    code: str | None
    """The whole result code once it is complete (a single QR code, or the last part of a set); else None."""
    message: str
    """For staff: which parts are read and which are still to read, or why a part was refused ("" with a code
    from a single QR code)."""
    refused: bool = False
    """The read was refused (a malformed part, parts that do not belong together); nothing was kept of it."""


@dataclass
class _Set:
    count: int
    parts: dict[int, str] = field(default_factory=dict)


def _listed(numbers: Iterable[int]) -> str:
    shown = [str(n) for n in numbers]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


class PartCollector:
    """Joins the parts of result codes read from QR codes, in any order, across several codes at once."""

    def __init__(self) -> None:
        self._sets: dict[str, _Set] = {}

    def waiting(self) -> list[str]:
        """One line per code with parts read and parts still to read, for the reader's status."""
        return [self._progress(set_id, found) for set_id, found in self._sets.items()]

    def clear(self) -> None:
        self._sets.clear()

    def add(self, text: str) -> QrRead:
        """Take the text of one QR code. A whole code comes back at once; a part is kept until its set is
        complete, then the joined code comes back and the set is forgotten."""
        stripped = text.strip()
        if not stripped.upper().startswith("PART"):
            return QrRead(code=stripped, message="")
        match = _PART.fullmatch(stripped.upper())
        if match is None:
            return self._refuse(
                "This QR code starts like a part of a result code but its heading cannot be read "
                f"({stripped[:24]!r}…). Read it again, closer and steadier, or type the code instead."
            )
        number, count, set_id, piece = int(match[1]), int(match[2]), match[3], match[4]
        if not 1 <= count <= MAX_PARTS or not 1 <= number <= count or len(set_id) != SET_SYMBOLS:
            return self._refuse(
                f"This QR code says it is part {number} of {count} of code {set_id}, which no result code is "
                "made of. Read the parts shown on the player's screen or the results slip."
            )
        found = self._sets.setdefault(set_id, _Set(count=count))
        if found.count != count:
            return self._refuse(
                f"Part {number} says code {set_id} has {count} parts, but the parts read before said "
                f"{found.count}. These QR codes do not belong together: read the parts of one code again."
            )
        if found.parts.get(number, piece) != piece:
            del self._sets[set_id]
            return self._refuse(
                f"Part {number} of {count} of code {set_id} was read twice with different contents, so one of them "
                "has been changed. Its parts read so far are dropped: read all of them again."
            )
        again = number in found.parts
        found.parts[number] = piece
        if len(found.parts) < count:
            prefix = f"Part {number} of {count} was already read. " if again else ""
            return QrRead(code=None, message=prefix + self._progress(set_id, found))
        del self._sets[set_id]
        code = "".join(found.parts[n] for n in range(1, count + 1))
        try:
            joined_id = _set_id(code)
        except ResultCodeError:
            joined_id = ""
        if joined_id != set_id:
            return self._refuse(
                f"The {count} parts of code {set_id} do not join into the code they were cut from: a part has "
                "been changed or belongs to another code. Read all the parts again."
            )
        return QrRead(code=code, message=f"All {count} parts of code {set_id} read.")

    @staticmethod
    def _progress(set_id: str, found: _Set) -> str:
        missing = [n for n in range(1, found.count + 1) if n not in found.parts]
        return (
            f"Code {set_id}: {len(found.parts)} of {found.count} parts read. Still to read: "
            f"part{'s' if len(missing) > 1 else ''} {_listed(missing)}."
        )

    @staticmethod
    def _refuse(message: str) -> QrRead:
        return QrRead(code=None, message=message, refused=True)
