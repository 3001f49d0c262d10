"""Durations in the words a student reads: "12 minutes 30 seconds", "1 minute", "45 seconds" (no Qt)."""

from __future__ import annotations


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'' if number == 1 else 's'}"


def duration_in_words(seconds: float) -> str:
    """`seconds` rounded to the nearest whole second, in hours, minutes and seconds, leaving out the parts that are
    zero: "1 hour 5 minutes", "12 minutes 30 seconds", "45 seconds"; nothing at all is "0 seconds".

    The one way a duration is shown to a student (a section's time, a warning, time added), so "12.5 minutes"
    never appears: a decimal of minutes is hard to read in an exam room."""
    whole = max(0, int(seconds + 0.5))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        _count(number, unit) for number, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")) if number
    ]
    return " ".join(parts) if parts else _count(0, "second")
