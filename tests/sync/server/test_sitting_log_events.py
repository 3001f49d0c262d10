"""The console records exports and printed slips in a sitting's log, through the client against the real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync.client import InvigilClient, Refused
from tests.helpers.clock import START
from tests.helpers.live_server import LiveServer
from tests.helpers.server import Demo


@pytest.fixture
def console(live_server: LiveServer) -> Iterator[InvigilClient]:
    with InvigilClient(live_server.url, machine_id="console") as client:
        yield client


@pytest.fixture
def token(console: InvigilClient, demo: Demo) -> str:
    return console.staff_login(demo.data["staff"]["username"], demo.data["staff"]["password"]).token


def test_an_export_lands_in_the_sittings_log_with_who_and_when(console: InvigilClient, token: str, demo: Demo) -> None:
    entry = console.log_event(token, demo.sitting_id, "export_results", {"rows": 3, "file": "results.csv"})
    console.log_event(token, demo.sitting_id, "print_slips")

    assert (entry.action, entry.actor, entry.at, entry.detail) == (
        "export_results",
        demo.data["staff"]["username"],
        START,
        {"rows": 3, "file": "results.csv"},
    )
    log = console.sitting_log(token, demo.sitting_id)
    assert [(e.action, e.detail) for e in log[-2:]] == [
        ("export_results", {"rows": 3, "file": "results.csv"}),
        ("print_slips", {}),
    ]


def test_an_unknown_action_is_refused_before_anything_is_sent(console: InvigilClient, token: str, demo: Demo) -> None:
    before = console.sitting_log(token, demo.sitting_id)
    with pytest.raises(Refused) as refused:
        console.log_event(token, demo.sitting_id, "deleted_everything", {})  # type: ignore[arg-type]
    assert refused.value.status == 422
    assert "action" in str(refused.value)
    assert "export_results" in str(refused.value)
    assert console.sitting_log(token, demo.sitting_id) == before


def test_an_unknown_sitting_is_not_found(console: InvigilClient, token: str) -> None:
    with pytest.raises(Refused) as refused:
        console.log_event(token, "no-such-sitting", "export_incidents", {"rows": 0})
    assert refused.value.status == 404
    assert "sitting" in str(refused.value).lower()


def test_a_fact_named_like_a_log_field_is_kept_as_a_fact(console: InvigilClient, token: str, demo: Demo) -> None:
    # The console's facts are free keys; one called "target" or "reason" must land in the detail and change neither
    # the entry's own fields nor the request's outcome.
    facts = {"target": "elsewhere", "reason": "none", "session": 1, "file": "slips.pdf"}
    entry = console.log_event(token, demo.sitting_id, "print_slips", facts)

    assert (entry.action, entry.reason, entry.detail) == ("print_slips", None, facts)
    assert console.sitting_log(token, demo.sitting_id)[-1].detail == facts
