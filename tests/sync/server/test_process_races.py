"""The server's guarantees hold across server processes: three real `invigil-server serve` processes on one
PostgreSQL database, each request of a race sent to all of them at the same moment.

Each result is stored once, a code is started once, credits are never spent twice, a sitting is closed (and its
credits refunded) once, an edit and a login of the same sitting never both win, and failed logins are counted in
the database whichever process they reach. SQLite is left out on purpose: it serves from one process (`serve
--workers 2` on SQLite is refused), and the same rules are tested on it in one process by the other modules.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from sync.server.machine_reports import LEFT_WINDOW_ACTION
from sync.server.models import Attempt, AuditEntry, Credit
from sync.server.store import Store
from tests.helpers.postgres import Cluster
from tests.helpers.server import bearer
from tests.helpers.server_processes import ServerProcesses, run_cli, seed_demo

PROCESSES = 3
PER_PROCESS = 3
"""Requests each process gets in a race: nine in all, released together by a barrier."""


class Trust:
    """The processes, the seeded demo, a staff sign-in and a reader on the database."""

    def __init__(self, servers: ServerProcesses, data: dict[str, Any], store: Store) -> None:
        self.servers = servers
        self.data = data
        self.store = store
        reply = requests.post(
            f"{servers.api[0]}/staff/login",
            json={"username": data["staff"]["username"], "password": data["staff"]["password"]},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        self.staff = bearer(reply.json()["token"])

    @property
    def codes(self) -> list[str]:
        return [s["access_code"] for s in self.data["students"]]

    @property
    def student_ids(self) -> list[str]:
        return [s["id"] for s in self.data["students"]]

    def balance(self) -> int:
        with self.store.transaction() as session:
            return int(session.scalars(select(Credit.balance)).one())


@pytest.fixture(scope="module")
def trust(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trust]:
    folder = tmp_path_factory.mktemp("trust")
    url = pg_cluster.url(pg_cluster.new_database("races"))
    data = seed_demo(url, folder / "server.secret")
    servers = ServerProcesses(url, folder / "server.secret", count=PROCESSES)
    servers.start()
    store = Store.open(url, migrate=False)
    try:
        yield Trust(servers, data, store)
    finally:
        store.close()
        servers.stop()


def race(trust: Trust, send: Callable[[str, int], requests.Response]) -> list[requests.Response]:
    """`send(api, n)` from PER_PROCESS threads per process, all released at once; the replies in thread order."""
    calls = [(api, n) for api in trust.servers.api for n in range(PER_PROCESS)]
    barrier = threading.Barrier(len(calls))
    replies: list[requests.Response | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        api, n = calls[i]
        barrier.wait()
        try:
            replies[i] = send(api, n)
        except BaseException as exc:  # reported below, naming the request
            replies[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    failed = [(calls[i], r) for i, r in enumerate(replies) if not isinstance(r, requests.Response)]
    assert not failed, f"requests that got no reply: {failed}"
    done = [r for r in replies if isinstance(r, requests.Response)]
    assert not [r for r in done if r.status_code >= 500], [r.text for r in done if r.status_code >= 500]
    return done


def login(api: str, code: str, machine: str) -> requests.Response:
    return requests.post(f"{api}/login", json={"access_code": code, "machine_id": machine}, timeout=30)


def an_envelope(attempt_id: str, answer: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "idempotency_key": str(uuid.uuid4()),
        "attempt_id": attempt_id,
        "section_ids": ["mc"],
        "answers": [{"item_id": "mc-circles", "value": answer, "answered_at": now.isoformat()}],
        "finished_at": now.isoformat(),
        "final": False,
    }


def errors(replies: list[requests.Response]) -> Counter[tuple[int, str]]:
    return Counter((r.status_code, r.json().get("error", "")) for r in replies if r.status_code >= 400)


def test_one_envelope_sent_to_every_process_at_once_is_stored_once(trust: Trust) -> None:
    started = login(trust.servers.api[0], trust.codes[0], "pc-results").json()
    body = an_envelope(started["attempt_id"], "b")
    batch = [an_envelope(started["attempt_id"], answer) for answer in "abca"]
    headers = bearer(started["attempt_token"])

    singles = race(
        trust,
        lambda api, _: requests.post(
            f"{api}/attempts/{started['attempt_id']}/results", json=body, headers=headers, timeout=30
        ),
    )
    batches = race(
        trust,
        lambda api, _: requests.post(
            f"{api}/attempts/{started['attempt_id']}/results/batch",
            json={"envelopes": batch},
            headers=headers,
            timeout=30,
        ),
    )

    assert [r.status_code for r in singles] == [200] * len(singles)
    assert sorted(r.json()["duplicate"] for r in singles) == [False] + [True] * (len(singles) - 1)
    assert len({r.json()["result_id"] for r in singles}) == 1, "every reply names the one stored result"
    items = [item for r in batches for item in r.json()["items"]]
    assert {item["status"] for item in items} == {200}, [i["error"] for i in items if i["status"] != 200][:1]
    new = Counter(item["idempotency_key"] for item in items if not item["receipt"]["duplicate"])
    assert new == Counter({e["idempotency_key"]: 1 for e in batch}), "each envelope stored by exactly one request"
    keys = trust.servers.result_keys(started["attempt_id"])
    assert sorted(keys) == sorted([body["idempotency_key"], *(e["idempotency_key"] for e in batch)])


def test_one_code_typed_on_one_machine_and_sent_to_every_process_starts_one_attempt(trust: Trust) -> None:
    replies = race(trust, lambda api, _: login(api, trust.codes[1], "pc-same"))

    assert [r.status_code for r in replies] == [200] * len(replies), "a repeated login resumes the same attempt"
    assert len({r.json()["attempt_id"] for r in replies}) == 1
    with trust.store.transaction() as session:
        held = session.scalars(select(Attempt.id).where(Attempt.machine_id == "pc-same")).all()
    assert held == [replies[0].json()["attempt_id"]], "one attempt, held by the machine"


def test_one_code_typed_on_many_machines_at_once_is_started_on_one(trust: Trust) -> None:
    replies = race(trust, lambda api, n: login(api, trust.codes[2], f"pc-{api[-12:]}-{n}"))

    winners = [r for r in replies if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in replies]
    assert errors(replies) == Counter({(409, "in_use_elsewhere"): len(replies) - 1})
    with trust.store.transaction() as session:
        machines = session.scalars(
            select(Attempt.machine_id).where(Attempt.id == winners[0].json()["attempt_id"])
        ).all()
    assert len(machines) == 1
    assert machines[0] is not None
    assert machines[0].startswith("pc-")


def test_the_same_rise_in_times_the_window_was_left_sent_to_every_process_at_once_is_logged_once(
    trust: Trust,
) -> None:
    started = login(trust.servers.api[0], trust.codes[1], "pc-same").json()  # resumes the attempt held there
    attempt_id, headers = started["attempt_id"], bearer(started["attempt_token"])

    def beat(count: int) -> Callable[[str, int], requests.Response]:
        return lambda api, _: requests.post(
            f"{api}/attempts/{attempt_id}/heartbeat",
            json={"starting": True, "left_window_count": count},
            headers=headers,
            timeout=30,
        )

    def logged() -> list[int]:
        with trust.store.transaction() as session:
            entries = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.target == attempt_id, AuditEntry.action == LEFT_WINDOW_ACTION)
                .order_by(AuditEntry.at, AuditEntry.id)
            ).all()
            return sorted(int(entry.detail["count"]) for entry in entries)

    for count in (5, 5, 6):  # a rise, the same heartbeat again, a rise
        replies = race(trust, beat(count))
        assert [r.status_code for r in replies] == [200] * len(replies), [r.text for r in replies]
    assert logged() == [5, 6], "each rise once, however many processes heard it at the same moment"


def new_sitting(trust: Trust, api: str, students: list[str], name: str) -> requests.Response:
    now = datetime.now(UTC)
    return requests.post(
        f"{api}/staff/sittings",
        json={
            "assessment": trust.data["assessment"]["id"],
            "name": name,
            "window_start": (now - timedelta(minutes=5)).isoformat(),
            "window_end": (now + timedelta(hours=2)).isoformat(),
            "student_ids": students,
        },
        headers=trust.staff,
        timeout=30,
    )


def test_sittings_made_on_every_process_at_once_never_spend_a_credit_twice(trust: Trust) -> None:
    students = trust.student_ids
    while trust.balance() // len(students) > PROCESSES:  # leave credits for a few of the nine sittings asked for
        assert new_sitting(trust, trust.servers.api[0], students, "Spending").status_code == 201
    before = trust.balance()
    affordable = before // len(students)
    assert 0 < affordable < PROCESSES * PER_PROCESS, "the race must ask for more sittings than the credits buy"

    replies = race(trust, lambda api, n: new_sitting(trust, api, students, f"Race {api[-6:]} {n}"))

    made = [r for r in replies if r.status_code == 201]
    assert len(made) == affordable, f"{len(made)} sittings made with credits for {affordable}"
    assert sum(errors(replies).values()) == len(replies) - affordable
    assert {error for _, error in errors(replies)} <= {"insufficient_credits", "no_credits"}
    assert trust.balance() == before - affordable * len(students) >= 0


def test_a_sitting_closed_on_every_process_at_once_is_closed_and_refunded_once(trust: Trust) -> None:
    # Credits for this test's own sitting, granted with the CLI as an operator would.
    run_cli(trust.servers.url, trust.servers.secret, "grant-credits", "--school", trust.data["school"]["id"], "--assessment",
            trust.data["assessment"]["package_id"], "--amount", str(len(trust.student_ids)))  # fmt: skip
    made = new_sitting(trust, trust.servers.api[0], trust.student_ids, "To close")
    assert made.status_code == 201, made.text
    sitting_id = made.json()["sitting"]["id"]
    before = trust.balance()

    replies = race(
        trust,
        lambda api, _: requests.post(f"{api}/staff/sittings/{sitting_id}/close", headers=trust.staff, timeout=30),
    )

    assert [r.status_code for r in replies].count(200) == 1
    assert errors(replies) == Counter({(409, "already_closed"): len(replies) - 1})
    assert trust.balance() == before + len(trust.student_ids), "each unstarted student refunded once"


def test_an_edit_and_a_login_of_the_same_sitting_at_once_never_both_win(trust: Trust) -> None:
    rounds = 4
    run_cli(trust.servers.url, trust.servers.secret, "grant-credits", "--school", trust.data["school"]["id"],
            "--assessment", trust.data["assessment"]["package_id"], "--amount", str(2 * rounds))  # fmt: skip
    first, second = trust.student_ids[:2]
    for round_ in range(rounds):
        made = new_sitting(trust, trust.servers.api[0], [first, second], f"Edit race {round_}")
        assert made.status_code == 201, made.text
        sitting_id = made.json()["sitting"]["id"]
        code = next(c["code"] for c in made.json()["codes"] if c["student_id"] == first)
        gate = threading.Barrier(2)
        outcome: dict[str, requests.Response] = {}

        def edit(
            sitting_id: str = sitting_id, gate: threading.Barrier = gate, outcome: dict[str, Any] = outcome
        ) -> None:
            gate.wait()
            outcome["edit"] = requests.patch(
                f"{trust.servers.api[1]}/staff/sittings/{sitting_id}",
                json={"remove_student_ids": [first]},
                headers=trust.staff,
                timeout=30,
            )

        def start(
            code: str = code, round_: int = round_, gate: threading.Barrier = gate, outcome: dict[str, Any] = outcome
        ) -> None:
            gate.wait()
            outcome["login"] = login(trust.servers.api[2], code, f"pc-edit-{round_}")

        threads = [threading.Thread(target=edit), threading.Thread(target=start)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        edited, started = outcome["edit"], outcome["login"]
        assert (edited.status_code, started.status_code) in {(200, 401), (200, 404), (409, 200)}, (
            f"round {round_}: edit {edited.status_code} {edited.text} / login {started.status_code} {started.text}"
        )
        if started.status_code == 200:
            assert edited.json()["error"] == "sitting_locked", "the student started first, so the edit is refused"
        else:
            assert started.json()["error"] == "unknown_code", "the student was removed first, so the code is gone"


def test_failed_logins_are_counted_together_whichever_process_they_reach(trust: Trust) -> None:
    limit = 10  # LoginLimits.per_machine, the default `serve` runs with
    replies = []
    for n in range(limit + 1):
        api = trust.servers.api[n % PROCESSES]
        replies.append(login(api, "ZZZZ-ZZZZ", "pc-guessing"))
    assert 429 not in [r.status_code for r in replies[:limit]], [r.json()["error"] for r in replies]
    assert replies[limit].status_code == 429, (
        f"the {limit + 1}th failure from one machine, spread over {PROCESSES} processes, is refused: "
        f"{replies[limit].text}"
    )
    correct = login(trust.servers.api[1], trust.codes[0], "pc-guessing")
    assert correct.status_code == 429, "the machine is refused outright, on every process"
