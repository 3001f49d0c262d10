"""The one fake clock: wall and monotonic time that move only when the test says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
"""The demo school is seeded at this moment, and every FakeClock starts here unless told otherwise."""


class FakeClock:
    """Injected wherever the code takes a clock, so window, lockout and timer rules are tested without waiting.

    Called, it gives the wall time (the server's `clock`, a journal's `now`); `now()` and `monotonic()` make it the
    player's `Clock`; pass `clock.monotonic` where only seconds are wanted (the console's idle lock).
    """

    def __init__(self, start: datetime = START, *, seconds: float = 1000.0) -> None:
        self.wall = start
        self.seconds = seconds
        """Monotonic seconds: an arbitrary origin, as time.monotonic() has."""

    def __call__(self) -> datetime:
        return self.wall

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        """Move both times forward: `advance(5)` or `advance(minutes=5)` (any timedelta keyword)."""
        step = timedelta(seconds=seconds, **delta)
        self.wall += step
        self.seconds += step.total_seconds()

    def set(self, moment: datetime) -> None:
        """Put the wall clock at `moment` (forward or back, as a changed system clock would); monotonic stays."""
        self.wall = moment
