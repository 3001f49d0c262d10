"""The error catalogue: every error a person can see has a stable number (INV-2104), its cause and its fix.

One table in the code, ENTRIES: player_entries.py (what the player and console show) and server_entries.py (the
server's refusals). docs/errors.md is generated from it (`python -m sync.error_catalogue --markdown >
docs/errors.md`); tests/test_error_catalogue.py fails when the two differ, when a number is reused for another
key, or when a refusal the server sends has no entry, and tests/player/ui/test_error_numbers_shown.py when an
error the player shows has no number.

Numbers are by area (AREAS); once given, a number is never renumbered or reused (tests/fixtures/error_numbers.txt
holds every number given so far). Light on purpose: the player imports this before its first paint, so no
pydantic, no Qt, nothing but the standard library.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sync.error_catalogue.model import AREAS, KEY_FORMAT, NUMBER_FORMAT, Area, Entry, Problem
from sync.error_catalogue.player_entries import PLAYER_ENTRIES
from sync.error_catalogue.server_entries import SERVER_ENTRIES

__all__ = [
    "AREAS",
    "ENTRIES",
    "KEY_FORMAT",
    "NUMBER_FORMAT",
    "Area",
    "Entry",
    "Problem",
    "api_number",
    "by_number",
    "lookup",
    "markdown",
    "number_for",
    "problem",
]

ENTRIES: tuple[Entry, ...] = PLAYER_ENTRIES + SERVER_ENTRIES
"""The one table: the player's and console's entries, then the server's refusals (two files, one table)."""

_BY_KEY: dict[str, Entry] = {entry.key: entry for entry in ENTRIES}
_BY_NUMBER: dict[str, Entry] = {entry.number: entry for entry in ENTRIES}


def number_for(key: str) -> str:
    """The number of `key` ("doctor.clock" -> "INV-5005"); KeyError naming the file to add it to."""
    try:
        return _BY_KEY[key].number
    except KeyError:
        raise KeyError(
            f"{key!r} has no entry in sync/error_catalogue/ (player_entries.py or server_entries.py); add one with a new number"
        ) from None


def lookup(key: str) -> Entry | None:
    return _BY_KEY.get(key)


def by_number(number: str) -> Entry | None:
    return _BY_NUMBER.get(number)


def problem(key: str, text: str) -> Problem:
    """`text` as a person reads it, numbered by `key`'s entry."""
    return Problem(text, number_for(key))


def api_number(code: str) -> str | None:
    """The number of a server refusal code ("unknown_code" -> "INV-2201"); None for a code with no entry."""
    entry = _BY_KEY.get(f"api.{code}")
    return entry.number if entry else None


def markdown() -> str:
    """docs/errors.md: every entry by area, in number order."""
    lines = [
        "# Error numbers",
        "",
        "<!-- Generated from sync/error_catalogue/ by `python -m sync.error_catalogue --markdown > docs/errors.md`;"
        " do not edit by hand. -->",
        "",
        "Every error Invigil shows carries a number such as INV-2201, shown small under the message (or after it,",
        "in brackets). Quote it on a support call; find it here for its cause and fix. Numbers never change.",
        "Server refusals carry theirs in the JSON body's `number` field, beside the stable `error` code.",
        "",
    ]
    for area in AREAS:
        entries = sorted((e for e in ENTRIES if e.area == area), key=lambda e: e.number)
        lines += [f"## {area.digit}xxx {area.title}", "", area.about, ""]
        lines += ["| Number | Key | What | Cause | Fix |", "|---|---|---|---|---|"]
        lines += [
            f"| {e.number} | `{e.key}` | {_cell(e.summary)} | {_cell(e.cause)} | {_cell(e.fix)} |" for e in entries
        ]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--markdown"]:
        sys.stdout.write(markdown())
        return 0
    if len(args) == 1 and (entry := by_number(args[0].upper()) or lookup(args[0])) is not None:
        print(f"{entry.number} {entry.key}: {entry.summary}\nCause: {entry.cause}\nFix: {entry.fix}")
        return 0
    print("usage: python -m sync.error_catalogue --markdown | INV-xxxx | KEY", file=sys.stderr)
    return 2
