"""Access codes: eight Crockford base32 characters shown as XXXX-XXXX, generated, normalised and checked."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from sync.crockford import ALPHABET, read

__all__ = [
    "CODE_LENGTH",
    "GROUP",
    "AccessCodeFormatError",
    "display",
    "generate",
    "generate_distinct",
    "is_well_formed",
    "normalize",
]

log = logging.getLogger(__name__)

CODE_LENGTH = 8
"""8 characters of 5 bits each: 40 bits, about 10^12 codes."""
GROUP = 4

_EXAMPLE = "ABCD-1234"
_MAX_NAMED_CHARACTERS = 3


class AccessCodeFormatError(ValueError):
    """A typed access code that cannot be a real one; `message` is a sentence the student can act on."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        """Stable cause: "empty", "bad_character" or "wrong_length"."""

    def __str__(self) -> str:
        return self.message


def normalize(raw: str) -> str:
    """Return the canonical 8 characters of a typed code ("abcd-1234" -> "ABCD1234").

    Case, spaces and hyphens are ignored; O reads as 0, I and L as 1. Raises AccessCodeFormatError.
    """
    read_as = [(typed, read(typed)) for typed in raw]
    kept = [(typed, symbol) for typed, symbol in read_as if symbol != ""]
    if not kept:
        raise AccessCodeFormatError(
            f"Type the access code from your slip: {CODE_LENGTH} letters and digits, like {_EXAMPLE}.",
            reason="empty",
        )
    bad = _distinct(typed for typed, symbol in kept if symbol is None)
    if bad:
        raise AccessCodeFormatError(_bad_character_message(bad), reason="bad_character")
    canonical = [symbol for _, symbol in kept if symbol]
    if len(canonical) != CODE_LENGTH:
        raise AccessCodeFormatError(
            f"An access code has {CODE_LENGTH} letters and digits; you typed {len(canonical)}.",
            reason="wrong_length",
        )
    return "".join(canonical)


def display(code: str) -> str:
    """The code as printed on slips and shown on screen: "ABCD-1234"."""
    canonical = normalize(code)
    return f"{canonical[:GROUP]}-{canonical[GROUP:]}"


def is_well_formed(raw: str) -> bool:
    """True when `raw` could be an access code (the server still decides whether it is one)."""
    try:
        normalize(raw)
    except AccessCodeFormatError:
        return False
    return True


def _secure_choice(chars: str) -> str:
    # Imported here: only the server makes codes, and `secrets` costs the player ~4 MB before its first paint.
    import secrets

    return secrets.choice(chars)


def generate(*, pick: Callable[[str], str] = _secure_choice) -> str:
    """A new random code in canonical form; `pick` is injectable only so tests can force collisions."""
    return "".join(pick(ALPHABET) for _ in range(CODE_LENGTH))


def generate_distinct(
    count: int,
    *,
    is_taken: Callable[[str], bool] = lambda code: False,
    pick: Callable[[str], str] = _secure_choice,
    max_tries: int = 1000,
) -> list[str]:
    """`count` new codes, distinct from each other and from every code `is_taken` reports as in use.

    With 40 bits a collision is rare, but a unique code is a promise to the student, so it is checked.
    """
    if count < 0:
        raise ValueError(f"count must be 0 or more, not {count}")
    codes: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(codes) < count:
        tries += 1
        if tries > max_tries:
            # Only a broken random source or an almost full code space gets here; say which it was.
            raise RuntimeError(
                f"Could not generate {count} unused access codes in {max_tries} tries; "
                f"{len(codes)} found. Check the random source."
            )
        code = generate(pick=pick)
        if code in seen or is_taken(code):
            continue
        seen.add(code)
        codes.append(code)
    return codes


def _distinct(chars: Iterable[str]) -> list[str]:
    result: list[str] = []
    for ch in chars:
        if ch not in result:
            result.append(ch)
    return result


def _name(ch: str) -> str:
    if ch.isprintable():
        return f"'{ch}'"
    return f"'{ch.encode('unicode_escape').decode('ascii')}'"


def _bad_character_message(bad: list[str]) -> str:
    names = [_name(ch) for ch in bad[:_MAX_NAMED_CHARACTERS]]
    if len(names) == 1:
        return f"{names[0]} is not used in access codes; check the slip."
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    more = " (and others)" if len(bad) > _MAX_NAMED_CHARACTERS else ""
    return f"{listed}{more} are not used in access codes; check the slip."
