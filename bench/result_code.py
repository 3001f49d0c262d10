"""Result code size: characters of the offline result code for the demo sitting and a 40-question choice test."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime, timedelta

from bench.common import Figure
from sync import resultcode
from sync.protocol import AnswerRecord, AnswerValue, ResultEnvelope

# What a student typically gives in the demo (as in the full-sitting UI test).
DEMO_ANSWERS: dict[str, AnswerValue] = {
    "mc-circles": "b",
    "mc-opposite": "b",
    "mc-nouns": ["a", "c"],
    "short-plural": "children",
    "short-past": "swam",
    "short-capital": "Paris",
    "short-describe": "The park is green.",
    "dict-cat": "The cat sat on the warm mat by the door.",
    "dict-library": "We will meet at the library after school on Friday.",
}


def envelope(answers: dict[str, AnswerValue], sections: list[str]) -> ResultEnvelope:
    start = datetime.now(UTC).replace(microsecond=0)
    return ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=str(uuid.uuid4()),
        section_ids=sections,
        # Answers a few seconds apart, as a student makes them.
        answers=[
            AnswerRecord(item_id=item, value=value, answered_at=start + timedelta(seconds=37 * n))
            for n, (item, value) in enumerate(answers.items())
        ],
        finished_at=start + timedelta(minutes=40),
        final=True,
    )


def choice_answers(count: int) -> dict[str, AnswerValue]:
    # A fixed spread of a-d, so the figure does not move from run to run.
    return {f"q{n + 1:02d}": "abcd"[(n * 7 + n // 3) % 4] for n in range(count)}


def measure() -> list[Figure]:
    secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
    demo = resultcode.encode(envelope(DEMO_ANSWERS, ["mc", "short", "dictation"]), result_secret=secret)
    forty = resultcode.encode(envelope(choice_answers(40), ["choice"]), result_secret=secret)
    return [
        Figure(
            name="result code, 40 choices",
            value=float(len(forty)),
            unit="chars",
            budget=600.0,
            compare="<=",
            how="resultcode.encode of a 40-question single-choice sitting (all answered)",
            extra={"demo_sitting_chars": len(demo)},
        )
    ]
