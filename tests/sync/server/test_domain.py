"""The sitting rules: credits, editing, windows, closing and extensions, and every login refusal."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.server.domain import (
    EXTENSION,
    AdmissionFacts,
    AllocationState,
    CloseOutcome,
    CreditAccount,
    Refusal,
    RuleViolation,
    admit,
    check_credits,
    check_sitting_editable,
    check_window,
    close_allocation,
    format_date,
    format_time,
    is_sitting_closed,
    refusal_address_machine_locked,
    refusal_address_unknown_code,
    refusal_machine_locked,
    refusal_prefix_locked,
    refusal_unknown_code,
    sitting_effective_close,
)

TITLE = "Demo literacy check"
OPENS = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # Mon 1 Mar 2027 09:00 UTC
ENDS = datetime(2027, 3, 1, 10, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
TINY = timedelta(microseconds=1)


def _violation(check: object, **kwargs: object) -> RuleViolation:
    assert callable(check)
    with pytest.raises(RuleViolation) as caught:
        check(**kwargs)
    return caught.value


# ---- formatting ------------------------------------------------------------------------------------------


def test_times_are_shown_readably_with_their_zone() -> None:
    assert format_time(OPENS) == "Mon 1 Mar 2027 09:00 UTC"
    assert format_date(date(2027, 3, 3)) == "Wed 3 Mar 2027"


def test_times_can_be_shown_in_the_school_zone() -> None:
    summer = datetime(2027, 6, 7, 8, 15, tzinfo=UTC)
    assert format_time(summer, tz=ZoneInfo("Europe/London")) == "Mon 7 Jun 2027 09:15 BST"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="start must be a timezone-aware datetime"):
        check_window(start=datetime(2027, 3, 1, 9, 0), end=ENDS)


# ---- credits ---------------------------------------------------------------------------------------------


def test_enough_credits_allow_the_sitting() -> None:
    check_credits(account=CreditAccount(5, None), needed=5, assessment_title=TITLE, today=date(2027, 3, 1))


def test_too_few_credits_say_how_many_are_left_and_needed() -> None:
    error = _violation(
        check_credits,
        account=CreditAccount(3, None),
        needed=5,
        assessment_title=TITLE,
        today=date(2027, 3, 1),
    )
    assert error.code == "insufficient_credits"
    assert error.message.startswith("No services available: 3 credits left for Demo literacy check, 5 needed.")
    assert str(error) == error.message


def test_one_credit_left_is_singular() -> None:
    error = _violation(
        check_credits, account=CreditAccount(1, None), needed=2, assessment_title=TITLE, today=date(2027, 3, 1)
    )
    assert "1 credit left for Demo literacy check, 2 needed" in error.message


def test_zero_credits_is_no_credits() -> None:
    error = _violation(
        check_credits, account=CreditAccount(0, None), needed=5, assessment_title=TITLE, today=date(2027, 3, 1)
    )
    assert error.code == "no_credits"
    assert "0 credits left for Demo literacy check, 5 needed" in error.message


def test_no_service_at_all_is_no_credits() -> None:
    error = _violation(check_credits, account=None, needed=5, assessment_title=TITLE, today=date(2027, 3, 1))
    assert error.code == "no_credits"
    assert error.message.startswith("No services available: there are no credits for Demo literacy check")
    assert "5 needed" in error.message


def test_expired_service_names_the_date() -> None:
    error = _violation(
        check_credits,
        account=CreditAccount(50, date(2027, 2, 28)),
        needed=5,
        assessment_title=TITLE,
        today=date(2027, 3, 1),
    )
    assert error.code == "service_expired"
    assert "service for Demo literacy check expired on Sun 28 Feb 2027" in error.message


def test_the_expiry_day_itself_is_still_usable() -> None:
    check_credits(account=CreditAccount(5, date(2027, 3, 1)), needed=5, assessment_title=TITLE, today=date(2027, 3, 1))


def test_expiry_is_reported_before_the_balance() -> None:
    error = _violation(
        check_credits,
        account=CreditAccount(0, date(2027, 2, 1)),
        needed=5,
        assessment_title=TITLE,
        today=date(2027, 3, 1),
    )
    assert error.code == "service_expired"


def test_needing_nothing_takes_nothing() -> None:
    check_credits(account=None, needed=0, assessment_title=TITLE, today=date(2027, 3, 1))


def test_credit_inputs_that_cannot_happen_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="cannot be negative, got -1"):
        CreditAccount(-1, None)
    with pytest.raises(ValueError, match="needed must be 0 or more, got -2"):
        check_credits(account=None, needed=-2, assessment_title=TITLE, today=date(2027, 3, 1))


# ---- creating and editing sittings ----------------------------------------------------------------------


def test_a_sitting_is_editable_until_someone_logs_in() -> None:
    check_sitting_editable(started_count=0)
    error = _violation(check_sitting_editable, started_count=1)
    assert error.code == "sitting_locked"
    assert "1 student has already logged in" in error.message


def test_locked_sitting_counts_students_in_the_plural() -> None:
    assert "3 students have already logged in" in _violation(check_sitting_editable, started_count=3).message


def test_window_must_end_after_it_starts() -> None:
    check_window(start=OPENS, end=OPENS + MINUTE)
    error = _violation(check_window, start=OPENS, end=OPENS)
    assert error.code == "bad_window"
    assert error.message == (
        "A sitting must end after it starts: this one starts Mon 1 Mar 2027 09:00 UTC and ends "
        "Mon 1 Mar 2027 09:00 UTC. Change the end time."
    )
    assert _violation(check_window, start=OPENS, end=OPENS - MINUTE).code == "bad_window"


# ---- closing --------------------------------------------------------------------------------------------


def test_a_student_who_never_started_gets_the_credit_back() -> None:
    outcome = close_allocation(AllocationState(started=False, finished=False), closed_at=ENDS)
    assert outcome == CloseOutcome(refund_credit=True, extended_until=None)


def test_a_student_part_way_through_gets_thirty_more_days() -> None:
    outcome = close_allocation(AllocationState(started=True, finished=False), closed_at=ENDS)
    assert outcome == CloseOutcome(refund_credit=False, extended_until=datetime(2027, 3, 31, 10, 30, tzinfo=UTC))


def test_a_finished_student_keeps_the_credit_spent_and_gets_no_extension() -> None:
    outcome = close_allocation(AllocationState(started=True, finished=True), closed_at=ENDS)
    assert outcome == CloseOutcome(refund_credit=False, extended_until=None)


def test_finished_without_starting_cannot_happen() -> None:
    with pytest.raises(ValueError, match="cannot be finished without having started"):
        AllocationState(started=False, finished=True)


def test_the_sitting_closes_at_whichever_comes_first() -> None:
    assert sitting_effective_close(window_end=ENDS, closed_at=None) == ENDS
    assert sitting_effective_close(window_end=ENDS, closed_at=ENDS - MINUTE) == ENDS - MINUTE
    assert sitting_effective_close(window_end=ENDS, closed_at=ENDS + MINUTE) == ENDS


def test_the_sitting_is_closed_from_the_moment_its_end_passes() -> None:
    assert not is_sitting_closed(now=ENDS - TINY, window_end=ENDS, closed_at=None)
    assert is_sitting_closed(now=ENDS, window_end=ENDS, closed_at=None)
    assert is_sitting_closed(now=OPENS, window_end=ENDS, closed_at=OPENS)


# ---- admission ------------------------------------------------------------------------------------------


def _facts(now: datetime, **changes: object) -> AdmissionFacts:
    base = AdmissionFacts(
        now=now,
        window_start=OPENS,
        window_end=ENDS,
        closed_at=None,
        extended_until=None,
        started=False,
        finished=False,
        active_machine=None,
        machine_id="room-12-pc-3",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _refused(facts: AdmissionFacts) -> Refusal:
    refusal = admit(facts)
    assert refusal is not None
    return refusal


def test_a_code_is_accepted_from_the_moment_the_window_opens() -> None:
    assert admit(_facts(OPENS)) is None


def test_before_the_window_the_code_is_not_open_yet_and_says_when() -> None:
    refusal = _refused(_facts(OPENS - TINY))
    assert (refusal.code, refusal.http_status) == ("not_open_yet", 403)
    assert "opens at Mon 1 Mar 2027 09:00 UTC" in refusal.message
    assert refusal.retry_at == OPENS
    assert refusal.retry_after_seconds(now=OPENS - TINY) == 1
    assert refusal.retry_after_seconds(now=OPENS - timedelta(minutes=10)) == 600


def test_opening_time_is_shown_in_the_school_zone() -> None:
    facts = _facts(OPENS - MINUTE, display_tz=ZoneInfo("Europe/Paris"))
    assert "opens at Mon 1 Mar 2027 10:00 CET" in _refused(facts).message


def test_after_the_window_a_student_who_never_started_is_told_it_closed() -> None:
    refusal = _refused(_facts(ENDS))
    assert (refusal.code, refusal.http_status) == ("sitting_closed", 403)
    assert "closed at Mon 1 Mar 2027 10:30 UTC" in refusal.message
    assert refusal.retry_at is None


def test_staff_closing_early_closes_it_at_that_moment() -> None:
    closed = OPENS + timedelta(minutes=20)
    assert admit(_facts(closed - TINY, closed_at=closed)) is None
    refusal = _refused(_facts(closed, closed_at=closed))
    assert refusal.code == "sitting_closed"
    assert "closed at Mon 1 Mar 2027 09:20 UTC" in refusal.message


def test_a_sitting_closed_before_it_opened_says_closed_not_opening() -> None:
    assert _refused(_facts(OPENS - MINUTE, closed_at=OPENS - 2 * MINUTE)).code == "sitting_closed"


def test_a_started_student_may_resume_during_the_extension() -> None:
    assert admit(_facts(ENDS, started=True)) is None
    assert admit(_facts(ENDS + EXTENSION - TINY, started=True)) is None


def test_the_extension_ends_exactly_thirty_days_after_the_close() -> None:
    refusal = _refused(_facts(ENDS + EXTENSION, started=True))
    assert (refusal.code, refusal.http_status) == ("extension_over", 403)
    assert "ended at Wed 31 Mar 2027 10:30 UTC" in refusal.message
    assert "A new sitting is needed" in refusal.message


def test_the_extension_runs_from_an_early_staff_close() -> None:
    closed = OPENS + timedelta(minutes=5)
    assert _refused(_facts(closed + EXTENSION, started=True, closed_at=closed)).code == "extension_over"
    assert admit(_facts(closed + EXTENSION - TINY, started=True, closed_at=closed)) is None


def test_a_recorded_extension_is_the_one_that_counts() -> None:
    recorded = ENDS + timedelta(days=10)
    assert _refused(_facts(recorded, started=True, extended_until=recorded)).code == "extension_over"
    assert admit(_facts(recorded - TINY, started=True, extended_until=recorded)) is None


def test_a_code_in_use_on_another_computer_is_refused() -> None:
    refusal = _refused(_facts(OPENS, started=True, active_machine="room-12-pc-9"))
    assert (refusal.code, refusal.http_status) == ("in_use_elsewhere", 409)
    assert "Ask your invigilator" in refusal.message


def test_the_same_computer_may_resume() -> None:
    assert admit(_facts(OPENS, started=True, active_machine="room-12-pc-3")) is None


def test_a_computer_without_an_id_is_never_the_one_holding_the_attempt() -> None:
    assert _refused(_facts(OPENS, started=True, active_machine="x", machine_id=None)).code == "in_use_elsewhere"


def test_the_machine_rule_still_applies_during_the_extension() -> None:
    facts = _facts(ENDS + timedelta(days=1), started=True, active_machine="room-12-pc-9")
    assert _refused(facts).code == "in_use_elsewhere"


def test_a_finished_student_is_told_so_whatever_the_time() -> None:
    for now in (OPENS, ENDS, ENDS + 2 * EXTENSION):
        refusal = _refused(_facts(now, started=True, finished=True))
        assert (refusal.code, refusal.http_status) == ("already_finished", 409)
        assert "already finished" in refusal.message


def test_unknown_code_says_to_check_the_code_and_the_server() -> None:
    refusal = refusal_unknown_code()
    assert (refusal.code, refusal.http_status) == ("unknown_code", 401)
    assert "Check the code" in refusal.message
    assert "which server this computer is set up for" in refusal.message


def test_each_lock_says_when_to_try_again_and_what_to_do() -> None:
    retry = OPENS + timedelta(minutes=15)
    locks = {
        "machine": refusal_machine_locked(retry_at=retry, now=OPENS),
        "prefix": refusal_prefix_locked(prefix="AB12", retry_at=retry, now=OPENS),
        "address, unknown code": refusal_address_unknown_code(retry_at=retry, now=OPENS),
        "address, machine": refusal_address_machine_locked(retry_at=retry, now=OPENS),
    }
    for refusal in locks.values():
        assert (refusal.code, refusal.http_status) == ("locked_out", 429)
        assert "Mon 1 Mar 2027 09:15 UTC (in 15 minutes)" in refusal.message
        assert refusal.retry_after_seconds(now=OPENS) == 900
    assert "another computer" in locks["machine"].message
    assert "codes beginning AB12 are refused" in locks["prefix"].message
    assert "Computers that have not typed a wrong code can still sign in" in locks["address, unknown code"].message
    assert "another computer" in locks["address, machine"].message
    assert len({refusal.message for refusal in locks.values()}) == 4


def test_a_lock_names_the_wait_in_whole_minutes_in_the_given_zone() -> None:
    refusal = refusal_machine_locked(retry_at=OPENS + timedelta(seconds=20), now=OPENS, tz=ZoneInfo("Europe/London"))
    assert "Mon 1 Mar 2027 09:00 GMT (in 1 minute)" in refusal.message
    assert refusal.retry_after_seconds(now=OPENS) == 20


def test_a_lock_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="retry_at must be a timezone-aware datetime"):
        refusal_prefix_locked(prefix="AB12", retry_at=datetime(2027, 3, 1, 9, 15), now=OPENS)


def test_every_refusal_has_its_own_code_and_message() -> None:
    refusals = [
        refusal_unknown_code(),
        refusal_machine_locked(retry_at=OPENS, now=OPENS),
        _refused(_facts(OPENS - MINUTE)),
        _refused(_facts(ENDS)),
        _refused(_facts(ENDS + EXTENSION, started=True)),
        _refused(_facts(OPENS, started=True, active_machine="elsewhere")),
        _refused(_facts(OPENS, started=True, finished=True)),
    ]
    assert [(r.code, r.http_status) for r in refusals] == [
        ("unknown_code", 401),
        ("locked_out", 429),
        ("not_open_yet", 403),
        ("sitting_closed", 403),
        ("extension_over", 403),
        ("in_use_elsewhere", 409),
        ("already_finished", 409),
    ]
    assert len({r.message for r in refusals}) == len(refusals)
    assert all(r.message.endswith(".") for r in refusals)


def test_admission_facts_refuse_naive_times() -> None:
    with pytest.raises(ValueError, match="window_end must be a timezone-aware datetime"):
        _facts(OPENS, window_end=datetime(2027, 3, 1, 10, 30))


# ---- admission properties -------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2027, 1, 1), max_value=datetime(2027, 8, 1), timezones=st.just(UTC)
)  # fmt: skip


around_window = st.timedeltas(min_value=-timedelta(days=2), max_value=timedelta(days=45))


@st.composite
def admission_facts(draw: st.DrawFn) -> AdmissionFacts:
    start = draw(moments)
    end = start + draw(st.timedeltas(min_value=MINUTE, max_value=timedelta(days=14)))
    started = draw(st.booleans())
    # Someone can only have started while the sitting was open, so a staff close came after the start.
    after_start = st.builds(lambda gap: start + gap, st.timedeltas(min_value=TINY, max_value=timedelta(days=20)))
    return AdmissionFacts(
        now=draw(moments | st.builds(lambda gap: start + gap, around_window)),
        window_start=start,
        window_end=end,
        closed_at=draw(st.none() | (after_start if started else moments)),
        extended_until=None,
        started=started,
        finished=started and draw(st.booleans()),
        active_machine=draw(st.sampled_from([None, "pc-1", "pc-2"])) if started else None,
        machine_id="pc-1",
    )


@given(admission_facts())
def test_before_the_window_only_a_staff_close_or_a_finish_beats_not_open_yet(facts: AdmissionFacts) -> None:
    closed_early = facts.closed_at is not None and facts.closed_at <= facts.now
    if facts.now < facts.window_start and not closed_early and not facts.finished:
        assert _refused(facts).code == "not_open_yet"


@given(admission_facts())
def test_admission_is_granted_exactly_when_every_rule_allows_it(facts: AdmissionFacts) -> None:
    close = min(facts.window_end, facts.closed_at or facts.window_end)
    deadline = close + EXTENSION if facts.started else close
    allowed = (
        not facts.finished
        and facts.window_start <= facts.now < deadline
        and facts.active_machine in (None, facts.machine_id)
    )
    assert (admit(facts) is None) == allowed


@given(admission_facts())
def test_a_student_who_never_started_is_never_admitted_after_the_close(facts: AdmissionFacts) -> None:
    if not facts.started and is_sitting_closed(now=facts.now, window_end=facts.window_end, closed_at=facts.closed_at):
        assert _refused(facts).code == "sitting_closed"
