"""Crockford base32 as people type it: the alphabet, and what each typed character reads as (access and result codes)."""

from __future__ import annotations

import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32: no I, L, O (they read as 1, 1, 0) and no U (accidental words)."""
VALUES = {ch: i for i, ch in enumerate(ALPHABET)}
"""Each symbol's value, 0 to 31."""

LOOKALIKES = {"O": "0", "I": "1", "L": "1"}
"""Crockford's decoding rule: letters that look like digits are read as those digits."""
SEPARATORS = " \t\n\r\v\f-\u2010\u2011\u2012\u2013\u2014\u2212"
"""Spaces, line breaks and hyphens: word processors and PDFs turn a printed hyphen into one of these dashes, and
people paste those."""

READ: dict[str, str] = {ch: ch for ch in ALPHABET} | {ch.lower(): ch for ch in ALPHABET}
"""What each usual typed character reads as: a symbol, or "" for a separator; others go through `read`."""
READ |= LOOKALIKES | {typed.lower(): symbol for typed, symbol in LOOKALIKES.items()}
READ |= dict.fromkeys(SEPARATORS, "")


def read(typed: str) -> str | None:
    """A typed character as a symbol, "" for a separator, None when it is never in a code; cannot raise.

    NFKC + casefold reads full-width letters, circled digits and the like; a character that folds to several
    ('ß' to "ss", 'ﬁ' to "fi") is one character that is not in codes, not two symbols that would shift the rest.
    """
    symbol = READ.get(typed)
    if symbol is not None:
        return symbol
    if typed.isspace():
        return ""
    folded = unicodedata.normalize("NFKC", typed).casefold()
    return READ.get(folded) if len(folded) == 1 else None
