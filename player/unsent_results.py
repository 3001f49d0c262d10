"""This computer's results the server has not confirmed, for the finished screen and the staff console alike: who
and which part of the test, the result code, and the file name a saved code gets (no Qt)."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from player.offline_queue.journal import Journal, StoredAttempt
from player.offline_queue.outbox import EntryState
from sync.protocol import DeliveryAssessment, ResultEnvelope

log = logging.getLogger(__name__)

__all__ = [
    "EntryState",
    "NoResultCode",
    "Pending",
    "UnsentResult",
    "file_name",
    "pending",
    "section_label",
    "send_now_from",
    "slip_file_name",
    "unsent_results",
]


class NoResultCode(ValueError):
    """No result code can be made for this envelope (too large for one); the message says so to a person."""


@dataclass(frozen=True)
class UnsentResult:
    """One result envelope in this computer's outbox that the server has not confirmed."""

    key: str
    """The envelope's idempotency key (its outbox row)."""
    attempt_id: str
    student_name: str
    section: str
    """Which part of the test, for people: "Section 2 of 3: Short answers" (section_label)."""
    waiting_since: datetime
    state: EntryState
    last_error: str | None
    envelope: ResultEnvelope = field(repr=False)
    result_secret: str = field(repr=False)
    """The attempt's key for result codes; kept out of repr so it never reaches a log."""
    delivery: DeliveryAssessment | None = field(default=None, repr=False)
    """The form the attempt was given: with it the code is the short format 3 (without it, format 2)."""

    def code(self) -> str:
        """The result code for the envelope (format 3 with the form: the same envelope always gives the same code).

        Raises NoResultCode, with a sentence for staff, when the envelope is too large for a code."""
        # Imported here: it loads `cryptography` (~7 MB), which a sitting whose results all went never needs.
        from sync import resultcode

        try:
            return resultcode.encode(self.envelope, result_secret=self.result_secret, delivery=self.delivery)
        except ValueError as exc:
            log.warning("No result code for %s (%s): %s", self.key, self.section, exc)
            raise NoResultCode(
                f"No result code can be made for {self.student_name}, {self.section}: {exc}. "
                "Leave this computer switched on where it reaches the server: the result is sent by itself."
            ) from exc

    def file_name(self) -> str:
        """The name suggested when its code is saved to a file (a USB stick)."""
        return file_name(self.student_name, self.section)

    def slip_file_name(self) -> str:
        """The name suggested for its results slip (a PDF to print)."""
        return slip_file_name(self.student_name, self.section)

    @property
    def assessment_title(self) -> str:
        """The test's title from the form the student was given ("" without one), for the results slip."""
        return self.delivery.title if self.delivery is not None else ""

    @property
    def made_at(self) -> datetime:
        """When the result was made: the end of its section(s) on this computer's clock."""
        return self.envelope.finished_at

    def status(self) -> str:
        if self.state == "needs_attention":
            return f"Refused by the server: {self.last_error or 'no reason given'}"
        if self.state == "sending":
            return "Sending now"
        return "Waiting to send" + (f" (last try: {self.last_error})" if self.last_error else "")


@dataclass(frozen=True)
class Pending:
    """One attempt's unsent results as the outbox holds them, nothing parsed (the finished screen reads it every
    second)."""

    keys: tuple[str, ...]
    send_failed: bool
    """Sending one of them has failed, or the server refused one."""


def _slug(text: str, *, empty: str) -> str:
    # Accents dropped rather than the letter ("Zoë" -> "zoe"): the name must stay recognisable on a USB stick.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.casefold()).strip("-") or empty


def file_name(student_name: str, section: str) -> str:
    """ "result-code-ada-lovelace-section-2-of-3-short-answers.txt" for a student and a section_label."""
    return f"result-code-{_slug(student_name, empty='student')}-{_slug(section, empty='result')}.txt"


def slip_file_name(student_name: str, section: str = "") -> str:
    """ "results-slip-ada-lovelace-section-2-of-3-short-answers.pdf"; without a section (a slip of every result of
    the sitting) "results-slip-ada-lovelace.pdf"."""
    student = _slug(student_name, empty="student")
    return f"results-slip-{student}-{_slug(section, empty='result')}.pdf" if section else f"results-slip-{student}.pdf"


def section_label(section_ids: Sequence[str], titles: Sequence[tuple[str, str]]) -> str:
    """ "Section 2 of 3: Short answers" for an envelope's sections, given the assessment's (id, title) list."""
    numbers = {section_id: n for n, (section_id, _) in enumerate(titles, start=1)}
    names = dict(titles)
    known = [s for s in section_ids if s in numbers]
    if not known:
        return "Sections " + ", ".join(section_ids) if section_ids else "The whole test"
    if len(known) == 1:
        return f"Section {numbers[known[0]]} of {len(titles)}: {names[known[0]]}"
    if known == [section_id for section_id, _ in titles]:
        return f"The whole test ({len(titles)} sections)"
    listed = ", ".join(str(numbers[s]) for s in known)
    return f"Sections {listed} of {len(titles)}: " + ", ".join(names[s] for s in known)


def pending(journal: Journal, *, attempt_id: str) -> Pending:
    """Which of the attempt's results are still unsent, and whether sending one has failed."""
    unsent = [e for e in journal.outbox().entries(kind="result", attempt_id=attempt_id) if e.state != "sent"]
    return Pending(
        keys=tuple(e.idempotency_key for e in unsent),
        send_failed=any(e.attempts > 0 or e.state == "needs_attention" for e in unsent),
    )


def unsent_results(journal: Journal, *, attempt_id: str | None = None) -> list[UnsentResult]:
    """This computer's unsent result envelopes (of one attempt, or all), oldest first. On the thread that owns
    the journal's connection (the GUI thread in the app)."""
    found: list[UnsentResult] = []
    attempts: dict[str, StoredAttempt] = {}
    for entry in journal.outbox().entries(kind="result", attempt_id=attempt_id):
        if entry.state == "sent":
            continue
        if entry.attempt_id not in attempts:
            attempts[entry.attempt_id] = journal.attempt(entry.attempt_id)
        attempt = attempts[entry.attempt_id]
        envelope = ResultEnvelope.model_validate_json(entry.body)
        titles = [(s.id, s.title) for s in attempt.login.assessment.sections]
        found.append(
            UnsentResult(
                key=entry.idempotency_key,
                attempt_id=entry.attempt_id,
                student_name=attempt.login.student,
                section=section_label(envelope.section_ids, titles),
                waiting_since=entry.created_at,
                state=entry.state,
                last_error=entry.last_error,
                envelope=envelope,
                result_secret=attempt.result_secret,
                delivery=attempt.login.assessment,
            )
        )
    return found


def send_now_from(journal: Journal, wake_uploader: Callable[[], None]) -> Callable[[], None]:
    """What "Send now" does in the app: refused results are tried again, and the uploader wakes at once."""

    def send_now() -> None:
        retried = journal.outbox().retry_needs_attention()
        if retried:
            log.info("Staff asked to send again: %d refused result(s) back in the queue", retried)
        wake_uploader()

    return send_now
