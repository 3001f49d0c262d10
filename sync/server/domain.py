"""The sitting rules as pure functions: credits, editing, closing, extensions and who may log in when."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

log = logging.getLogger(__name__)

EXTENSION = timedelta(days=30)
"""How long a student who was part-way through when the sitting closed may still finish."""

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ---- formatting -------------------------------------------------------------------------------------


def format_date(day: date) -> str:
    """ "Wed 3 Mar 2027": fixed English names, because strftime's %a/%b follow whatever locale Qt set."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_time(moment: datetime, *, tz: tzinfo = UTC) -> str:
    """ "Wed 3 Mar 2027 09:00 UTC": the moment in `tz`, named so nobody guesses which clock is meant."""
    _require_aware(moment, "moment")
    local = moment.astimezone(tz)
    return f"{format_date(local.date())} {local:%H:%M} {local.tzname()}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _require_aware(moment: datetime, name: str) -> None:
    # A naive datetime compared with an aware one raises deep inside a rule, or worse, a naive one is
    # silently local time on one worker and UTC on another; refuse it at the door.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC), got naive {moment.isoformat()}")


# ---- rule violations (staff actions) -----------------------------------------------------------------


class RuleViolation(Exception):
    """A staff action the rules refuse; `code` is stable for the API, `message` says why and what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class CreditAccount:
    """A school's credits for one assessment; `expires_on` is the last day the service can be used."""

    balance: int
    expires_on: date | None

    def __post_init__(self) -> None:
        if self.balance < 0:
            raise ValueError(f"a credit balance cannot be negative, got {self.balance}")


def check_credits(*, account: CreditAccount | None, needed: int, assessment_title: str, today: date) -> None:
    """Refuse a sitting (or added students) the school has no service for; `needed` is one per student."""
    if needed < 0:
        raise ValueError(f"needed must be 0 or more, got {needed}")
    if needed == 0:
        return  # e.g. an edit that only removes students takes nothing
    if account is None:
        raise RuleViolation(
            "no_credits",
            f"No services available: there are no credits for {assessment_title}, {needed} needed. "
            "Buy a service for this assessment first.",
        )
    if account.expires_on is not None and today > account.expires_on:
        raise RuleViolation(
            "service_expired",
            f"No services available: the service for {assessment_title} expired on "
            f"{format_date(account.expires_on)}. Renew it to create sittings.",
        )
    if account.balance < needed:
        code = "no_credits" if account.balance == 0 else "insufficient_credits"
        raise RuleViolation(
            code,
            f"No services available: {_plural(account.balance, 'credit')} left for {assessment_title}, "
            f"{needed} needed. Allocate fewer students or buy more credits.",
        )


def check_sitting_editable(*, started_count: int) -> None:
    """A sitting's dates and students are fixed once any allocated student has logged in."""
    if started_count < 0:
        raise ValueError(f"started_count must be 0 or more, got {started_count}")
    if started_count > 0:
        verb = "has" if started_count == 1 else "have"
        raise RuleViolation(
            "sitting_locked",
            f"This sitting can no longer be edited: {_plural(started_count, 'student')} {verb} already "
            "logged in. Create a new sitting for any other students or dates.",
        )


def check_window(*, start: datetime, end: datetime) -> None:
    """A sitting's window must end after it starts."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end <= start:
        raise RuleViolation(
            "bad_window",
            f"A sitting must end after it starts: this one starts {format_time(start)} and ends "
            f"{format_time(end)}. Change the end time.",
        )


# ---- closing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationState:
    """Where one allocated student got to: logged in at least once (started), and handed in (finished)."""

    started: bool
    finished: bool

    def __post_init__(self) -> None:
        if self.finished and not self.started:
            raise ValueError("an allocation cannot be finished without having started")


@dataclass(frozen=True)
class CloseOutcome:
    """What closing does to one allocation: give the credit back, or extend the code until a moment."""

    refund_credit: bool
    extended_until: datetime | None


def close_allocation(state: AllocationState, *, closed_at: datetime) -> CloseOutcome:
    """Never started: the credit comes back. Part-way through: 30 more days. Finished: nothing changes.

    `closed_at` is the sitting's effective close (see sitting_effective_close).
    """
    _require_aware(closed_at, "closed_at")
    if not state.started:
        return CloseOutcome(refund_credit=True, extended_until=None)
    if not state.finished:
        return CloseOutcome(refund_credit=False, extended_until=closed_at + EXTENSION)
    return CloseOutcome(refund_credit=False, extended_until=None)


def sitting_effective_close(*, window_end: datetime, closed_at: datetime | None) -> datetime:
    """A sitting closes when its window ends or when staff close it, whichever comes first."""
    _require_aware(window_end, "window_end")
    if closed_at is None:
        return window_end
    _require_aware(closed_at, "closed_at")
    return min(window_end, closed_at)


def is_sitting_closed(*, now: datetime, window_end: datetime, closed_at: datetime | None) -> bool:
    _require_aware(now, "now")
    return now >= sitting_effective_close(window_end=window_end, closed_at=closed_at)


# ---- admission (student login) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why an access code may not log in now: stable code, HTTP status, and a sentence to act on.

    `retry_at` is set when trying again later will work (not open yet, locked out).
    """

    code: str
    http_status: int
    message: str
    retry_at: datetime | None = None

    def retry_after_seconds(self, *, now: datetime) -> int | None:
        """Whole seconds until `retry_at` (rounded up, at least 1), for ErrorBody and Retry-After."""
        if self.retry_at is None:
            return None
        _require_aware(now, "now")
        seconds = (self.retry_at - now).total_seconds()
        return max(1, math.ceil(seconds))


def refusal_unknown_code() -> Refusal:
    return Refusal(
        "unknown_code",
        401,
        "This access code was not recognised. Check the code on your slip, and ask your invigilator to "
        "check which server this computer is set up for.",
    )


def _until(retry_at: datetime, now: datetime, tz: tzinfo) -> str:
    minutes = max(1, math.ceil((retry_at - now).total_seconds() / 60))
    return f"{format_time(retry_at, tz=tz)} (in {_plural(minutes, 'minute')})"


def refusal_machine_locked(*, retry_at: datetime, now: datetime, tz: tzinfo = UTC) -> Refusal:
    """Too many wrong codes from this machine: it is refused, a correct code included, until `retry_at`."""
    _require_aware(retry_at, "retry_at")
    return Refusal(
        "locked_out",
        429,
        f"Too many wrong access codes were typed on this computer. Try again after {_until(retry_at, now, tz)}, "
        "or ask your invigilator to sign you in on another computer.",
        retry_at=retry_at,
    )


def refusal_prefix_locked(*, prefix: str, retry_at: datetime, now: datetime, tz: tzinfo = UTC) -> Refusal:
    """Too many wrong codes beginning with `prefix` (someone may be guessing codes that begin so)."""
    _require_aware(retry_at, "retry_at")
    return Refusal(
        "locked_out",
        429,
        f"Too many wrong access codes beginning {prefix} were typed, so codes beginning {prefix} are refused until "
        f"{_until(retry_at, now, tz)}. Check the code on your slip and try again then; if this code is yours, "
        "tell your invigilator.",
        retry_at=retry_at,
    )


def refusal_address_unknown_code(*, retry_at: datetime, now: datetime, tz: tzinfo = UTC) -> Refusal:
    """An unknown code while the client's network address is over its (high) limit of wrong codes."""
    _require_aware(retry_at, "retry_at")
    return Refusal(
        "locked_out",
        429,
        "This access code was not recognised, and so many wrong codes have come from your school's network that "
        f"this computer must wait until {_until(retry_at, now, tz)} before trying another. Check the code on your "
        "slip with your invigilator. Computers that have not typed a wrong code can still sign in with a correct "
        "one.",
        retry_at=retry_at,
    )


def refusal_address_machine_locked(*, retry_at: datetime, now: datetime, tz: tzinfo = UTC) -> Refusal:
    """A machine with recent wrong codes while its network address is over its (high) limit."""
    _require_aware(retry_at, "retry_at")
    return Refusal(
        "locked_out",
        429,
        "This computer typed a wrong access code recently, and so many wrong codes have come from your school's "
        f"network that it must wait until {_until(retry_at, now, tz)}. Ask your invigilator to sign you in on "
        "another computer, or try again then.",
        retry_at=retry_at,
    )


def refusal_not_open_yet(*, opens_at: datetime, tz: tzinfo = UTC) -> Refusal:
    return Refusal(
        "not_open_yet",
        403,
        f"This test is not open yet: it opens at {format_time(opens_at, tz=tz)}. Type your code again then.",
        retry_at=opens_at,
    )


def refusal_sitting_closed(*, closed_at: datetime, tz: tzinfo = UTC) -> Refusal:
    return Refusal(
        "sitting_closed",
        403,
        f"This sitting closed at {format_time(closed_at, tz=tz)}. "
        "Ask your teacher if you still need to take this test.",
    )


def refusal_extension_over(*, ended_at: datetime, tz: tzinfo = UTC) -> Refusal:
    return Refusal(
        "extension_over",
        403,
        f"The extra time to finish this test ended at {format_time(ended_at, tz=tz)}. "
        "A new sitting is needed: ask your teacher to set one up.",
    )


def refusal_in_use_elsewhere() -> Refusal:
    return Refusal(
        "in_use_elsewhere",
        409,
        "This access code is in use on another computer. Ask your invigilator to release it so you can "
        "continue on this one.",
    )


def refusal_already_finished() -> Refusal:
    return Refusal(
        "already_finished",
        409,
        "You have already finished this test, so this code cannot be used again. "
        "Tell your invigilator if you think that is wrong.",
    )


@dataclass(frozen=True)
class AdmissionFacts:
    """Everything the login rule needs about one allocation, read from the store at login time.

    `active_machine` is the machine holding an in-progress attempt (None once released or if none);
    `extended_until` is what closing recorded, if the close has been processed.
    """

    now: datetime
    window_start: datetime
    window_end: datetime
    closed_at: datetime | None
    extended_until: datetime | None
    started: bool
    finished: bool
    active_machine: str | None
    machine_id: str | None
    display_tz: tzinfo = UTC

    def __post_init__(self) -> None:
        for name in ("now", "window_start", "window_end", "closed_at", "extended_until"):
            value = getattr(self, name)
            if value is not None:
                _require_aware(value, name)
        if self.finished and not self.started:
            raise ValueError("an allocation cannot be finished without having started")


def extension_end(facts: AdmissionFacts) -> datetime:
    """When a started student's code stops working: as recorded at close, else 30 days after the close."""
    if facts.extended_until is not None:
        return facts.extended_until
    # The window can pass with no close job having run yet; the rule must not depend on that job.
    return sitting_effective_close(window_end=facts.window_end, closed_at=facts.closed_at) + EXTENSION


def admit(facts: AdmissionFacts) -> Refusal | None:
    """None when the student may log in (a new attempt, or resuming on the same machine); else why not.

    Intervals are half-open: open from window_start, closed from the effective close, extension over
    from its end.
    """
    tz = facts.display_tz
    if facts.finished:
        return refusal_already_finished()
    close = sitting_effective_close(window_end=facts.window_end, closed_at=facts.closed_at)
    if facts.now >= close:
        # Checked before "not open yet": staff may close a sitting before it ever opens.
        if not facts.started:
            return refusal_sitting_closed(closed_at=close, tz=tz)
        ends = extension_end(facts)
        if facts.now >= ends:
            return refusal_extension_over(ended_at=ends, tz=tz)
    elif facts.now < facts.window_start:
        return refusal_not_open_yet(opens_at=facts.window_start, tz=tz)
    if facts.active_machine is not None and facts.active_machine != facts.machine_id:
        return refusal_in_use_elsewhere()
    return None
