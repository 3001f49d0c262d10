"""The secret values the support bundle has learned (player/redaction.py learns them), and finding each of them in
any of its usual spellings: any case, with or without the dashes and spaces a person types, an access code's
read-alike letters. One regex for them all, factored by common prefix, keeps a 12 MB log to seconds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4
"""A known value shorter than this is hidden only where it stands (under its name), not everywhere: hiding every
"ab" in a log would leave nothing to read."""
URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/?#\"'<>\[\]]+)@")
"""A URL's `user:password@` (group 2), after its scheme (group 1)."""


class KnownSecrets:
    """The secret values found so far; `pattern` finds any of them in any of its usual spellings."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in values:
            self.add(value)

    def add(self, value: object) -> None:
        """A secret value (a number counts by its text); one too short to hide everywhere is skipped."""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return
        text = str(value).strip()
        if len(text) < MIN_SECRET_LENGTH or text.strip("()[]<>{}*").lower() in _PLACEHOLDERS:
            return
        if text not in self._values:
            self._values.add(text)
            self._pattern = None
        if "\n" in text:  # a key or certificate: each of its lines alone too, should one be logged
            for line in text.splitlines():
                self.add(line)
        # As a log or a TOML/JSON file shows it escaped ("a\"b"), and as a URL shows it (p%40ss).
        escaped = json.dumps(text, ensure_ascii=False)[1:-1]
        if escaped != text and escaped not in self._values:
            self._values.add(escaped)
            self._pattern = None

    def add_url_userinfo(self, text: str) -> None:
        """The passwords in `text`'s URLs (and a user part long enough to be a token itself)."""
        from urllib.parse import unquote

        for match in URL_USERINFO.finditer(text):
            user, colon, password = match.group(2).partition(":")
            for part in (password,) if colon else ((user,) if len(user) >= 12 else ()):
                self.add(part)
                self.add(unquote(part))

    def hide(self, text: str) -> str:
        """`text` with every known value, in any of its spellings, replaced by REDACTED."""
        if not self._values:
            return text
        if self._pattern is None:
            self._pattern = re.compile(_trie_pattern([_atoms(value) for value in self._values]))
        # Matched against an ASCII-lowercased copy (the same length, so the places are the same): literal
        # characters let the regex engine drop a branch on its first character, which keeps a 12 MB log with
        # a thousand known values to seconds.
        lowered = text.translate(_ASCII_LOWER)
        pieces: list[str] = []
        done = 0
        for match in self._pattern.finditer(lowered):
            pieces += [text[done : match.start()], REDACTED]
            done = match.end()
        return "".join(pieces) + text[done:] if pieces else text


_PLACEHOLDERS = frozenset({"redacted", "hidden", "not set", "unset", "true", "false", "none", "null", ""})
"""What stands where a secret would (`token=None`, doctor's "(hidden)"): never learned as a secret, or every
"true" in the bundle would be hidden."""
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_READ_ALIKE = {"0": "[0o]", "o": "[0o]", "1": "[1il]", "i": "[1il]", "l": "[1il]"}
_ANY_SEPARATORS = r"[\s-]*"
_ONE_SEPARATOR = r"[\s-]?"


def _atoms(value: str) -> tuple[str, ...]:
    """`value` as the regex pieces of its spellings, in lowercase: any case, its dashes and spaces optional (or
    more of them); an eight-character code also with a dash or space in the middle, O/0 and I/L/1 read alike
    (sync/accesscode.py normalises them so)."""
    parts = [part.translate(_ASCII_LOWER) for part in re.split(r"[\s-]+", value) if part]
    canonical = "".join(parts)
    if len(canonical) == 8 and canonical.isalnum():
        chars = [_READ_ALIKE.get(c, re.escape(c)) for c in canonical]
        return (*chars[:4], _ONE_SEPARATOR, *chars[4:])
    atoms: list[str] = []
    for part in parts:
        if atoms:
            atoms.append(_ANY_SEPARATORS)
        atoms += [re.escape(c) for c in part]
    return tuple(atoms)


def _trie_pattern(spellings: list[tuple[str, ...]]) -> str:
    """One regex for all `spellings`, factored by common prefix: the engine tries a handful of branches at each
    place in the text instead of every known value. A longer spelling is preferred to its own prefix."""
    trie: dict[str, Any] = {}
    for atoms in spellings:
        node = trie
        for atom in atoms:
            node = node.setdefault(atom, {})
        node[""] = {}  # a spelling ends here
    return _emit(trie)


def _emit(node: dict[str, Any]) -> str:
    branches = []
    for atom, child in node.items():
        if atom == "":
            continue
        chain = [atom]
        # A chain of single children is written out flat, with no group per character: a 2,000-character key
        # would otherwise nest 2,000 groups, more than the regex compiler's recursion allows.
        while len(child) == 1 and "" not in child:
            ((atom, child),) = child.items()
            chain.append(atom)
        branches.append("".join(chain) + _emit(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body
