"""The error catalogue's records: an area of numbers, an entry (number, key, cause, fix) and a Problem (a sentence
with its number, as a screen shows it). Standard library only: the player imports it before its first paint."""

from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER_FORMAT = re.compile(r"INV-[1-8]\d{3}")
KEY_FORMAT = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


@dataclass(frozen=True)
class Area:
    digit: int
    title: str
    about: str


AREAS: tuple[Area, ...] = (
    Area(
        1, "Player start-up and configuration", "The player could not start: its config file, data folder or journal."
    ),
    Area(
        2, "Connection and server refusals", "The network, TLS, and every refusal the server's API sends (api.<code>)."
    ),
    Area(3, "Sitting, audio, answers and results", "What a student may see during a test, and results after it."),
    Area(4, "Staff console", "Messages of the staff console on a player computer."),
    Area(5, "Readiness checks (doctor)", "`invigil doctor` and the staff Readiness screen, one number per check."),
    Area(6, "Kiosk mode", "The locked test window: closing refused, staff exit codes."),
    Area(
        7,
        "Content and QTI loading",
        "Loading an assessment package (content checks, QTI) on the server or from the console.",
    ),
    Area(
        8,
        "invigil-server commands",
        "What `invigil-server` prints (to stderr, exit status 1 or 2) when a command cannot be done: the command "
        "line, the database and key file, a school, student, file or port it was given.",
    ),
)


@dataclass(frozen=True)
class Entry:
    number: str
    """INV-xxxx: stable forever, quoted on support calls."""
    key: str
    """Where the code refers to it: "api.<server code>", "doctor.<check key>", "login.moved", ..."""
    summary: str
    cause: str
    fix: str

    @property
    def area(self) -> Area:
        return next(a for a in AREAS if a.digit == int(self.number[4]))


@dataclass(frozen=True)
class Problem:
    """A sentence a person reads, with the number they can quote (None only for text from an unknown source)."""

    text: str
    number: str | None = None

    def __str__(self) -> str:
        return f"{self.text} ({self.number})" if self.number else self.text

    def framed(self, before: str = "", after: str = "") -> Problem:
        """The same problem in a longer sentence ("Could not list the assessments: " + text), keeping its number."""
        return Problem(f"{before}{self.text}{after}", self.number)
