"""Durations in words, as a student reads them: never "12.5 minutes"."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from player.durations import duration_in_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (750, "12 minutes 30 seconds"),
        (60, "1 minute"),
        (45, "45 seconds"),
        (1, "1 second"),
        (0, "0 seconds"),
        (600, "10 minutes"),
        (61, "1 minute 1 second"),
        (3600, "1 hour"),
        (5430, "1 hour 30 minutes 30 seconds"),
        (7200 + 120, "2 hours 2 minutes"),
        (599.6, "10 minutes"),  # 10 minutes with 25% extra time is 12.5 minutes: said as 12 minutes 30 seconds
        (600 * 1.25, "12 minutes 30 seconds"),
        (-5, "0 seconds"),
    ],
)
def test_a_duration_in_words(seconds: float, words: str) -> None:
    assert duration_in_words(seconds) == words


@given(st.integers(min_value=0, max_value=10 * 3600))
def test_the_words_add_up_to_the_duration_and_never_hold_a_decimal(seconds: int) -> None:
    words = duration_in_words(seconds)
    assert "." not in words
    numbers = words.split()[0::2]
    units = {"hour": 3600, "hours": 3600, "minute": 60, "minutes": 60, "second": 1, "seconds": 1}
    assert sum(int(n) * units[u] for n, u in zip(numbers, words.split()[1::2], strict=True)) == seconds
