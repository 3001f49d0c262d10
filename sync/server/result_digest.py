"""A result envelope's canonical form and digest: what makes an upload and a typed-in code the same result."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from sync import protocol


def as_utc(moment: datetime) -> datetime:
    """The moment in UTC; the player records UTC, so a naive time is taken as UTC, as the result code does."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical(envelope: protocol.ResultEnvelope) -> protocol.ResultEnvelope:
    """The envelope as the result code carries it: every time in UTC, floored to the whole second.

    The same envelope uploaded and typed in from its result code must count as the same body.
    """
    return envelope.model_copy(
        update={
            "finished_at": as_utc(envelope.finished_at).replace(microsecond=0),
            "answers": [
                a.model_copy(update={"answered_at": as_utc(a.answered_at).replace(microsecond=0)})
                for a in envelope.answers
            ],
        }
    )


# A time as pydantic writes a UTC one, under its key: the key and whole seconds, any fraction, then the "Z".
# Only the envelope's own keys can match: inside a JSON string every quote is escaped.
_UTC_TIME = re.compile(r'("(?:answered_at|finished_at)":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z"')


def _whole_second(match: re.Match[str]) -> str:
    return match.group(1) + 'Z"'


def canonical_json(envelope: protocol.ResultEnvelope, text: str | None = None) -> bytes:
    """`canonical(envelope)` as JSON; `text` is `envelope.model_dump_json()` when the caller has it.

    Times a player sends are already UTC (their JSON ends in "Z"), so flooring one to the second is cutting the
    fraction out of the envelope's JSON: no model copies. When any time is in another zone (or none), the
    general path. Both give the bytes `canonical(envelope).model_dump_json()` gives (tested property).
    """
    text = envelope.model_dump_json() if text is None else text
    cut, times = _UTC_TIME.subn(_whole_second, text)
    if times == len(envelope.answers) + 1:
        return cut.encode()
    return canonical(envelope).model_dump_json().encode()


def body_digest(envelope: protocol.ResultEnvelope, text: str | None = None) -> str:
    """SHA-256 of the canonical JSON: equal for the same envelope uploaded and handed in as a result code."""
    return hashlib.sha256(canonical_json(envelope, text)).hexdigest()
