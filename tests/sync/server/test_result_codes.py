"""Result codes typed in by staff: one result with the upload path, and a specific refusal for every bad code."""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sync import protocol, resultcode
from sync.server import crypto
from sync.server.cli import Env, main
from sync.server.crypto import Keyring
from sync.server.models import Attempt, AuditEntry
from sync.server.settings import ServerSettings
from sync.server.store import Store
from tests.helpers.cli import Cli, demo_result_code
from tests.helpers.clock import START
from tests.helpers.server import API, Demo, bearer, player_login, role_headers
from tests.sync.server.test_tenant_isolation import make_other_school
from tests.sync.test_resultcode_checks import crafted, reseal

CODES = f"{API}/staff/result-codes"
GOOD = {"mc-circles": "b", "short-plural": "children"}
SECTIONS = ["mc", "short", "dictation"]


def answers_at(attempt_id: str, *, final: bool = True, key: str | None = None) -> dict[str, Any]:
    """An envelope as the player makes it: times with microseconds, which a result code drops."""
    moment = START + timedelta(minutes=3, microseconds=456_789)
    return {
        "idempotency_key": key or str(uuid.uuid4()),
        "attempt_id": attempt_id,
        "section_ids": SECTIONS,
        "answers": [
            {"item_id": item, "value": value, "answered_at": (moment + timedelta(seconds=i)).isoformat()}
            for i, (item, value) in enumerate(GOOD.items())
        ],
        "finished_at": (START + timedelta(minutes=20, microseconds=999_999)).isoformat(),
        "final": final,
    }


def code_for(body: dict[str, Any], secret: str) -> str:
    return resultcode.encode(protocol.ResultEnvelope.model_validate(body), result_secret=secret)


def upload(client: TestClient, login: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    reply = client.post(
        f"{API}/attempts/{login['attempt_id']}/results", json=body, headers=bearer(login["attempt_token"])
    )
    assert reply.status_code == 200, reply.text
    receipt: dict[str, Any] = reply.json()
    return receipt


def submit(client: TestClient, headers: dict[str, str], code: str) -> dict[str, Any]:
    reply = client.post(CODES, json={"code": code}, headers=headers)
    assert reply.status_code == 200, reply.text
    receipt: dict[str, Any] = reply.json()
    return receipt


def results_of(client: TestClient, admin: dict[str, str], demo: Demo) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = client.get(f"{API}/staff/sittings/{demo.sitting_id}/results", headers=admin).json()
    return rows


def with_group(code: str, index: int, group: str) -> str:
    symbols = resultcode.normalize(code)
    size = resultcode.GROUP_LENGTH
    return symbols[: index * size] + group + symbols[(index + 1) * size :]


def group_of(code: str, index: int) -> str:
    size = resultcode.GROUP_LENGTH
    return resultcode.normalize(code)[index * size : (index + 1) * size]


def other_symbol(symbol: str) -> str:
    return "7" if symbol != "7" else "8"


# ---- one result, whichever way it arrives --------------------------------------------------------


def test_a_code_for_results_already_uploaded_changes_nothing(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    body = answers_at(login["attempt_id"])
    uploaded = upload(client, login, body)
    receipt = submit(client, admin, code_for(body, login["result_secret"]))
    assert receipt == {
        "result_id": uploaded["result_id"],
        "student_name": "Ada Lovelace",
        "sitting_name": "Demo sitting",
        "section_ids": SECTIONS,
        "duplicate": True,
        "status": "marked",
    }
    [held] = results_of(client, admin, demo)
    assert held["id"] == uploaded["result_id"]


def test_results_typed_in_first_are_marked_and_the_later_upload_is_a_repeat(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    body = answers_at(login["attempt_id"])
    receipt = submit(client, admin, code_for(body, login["result_secret"]))
    assert (receipt["duplicate"], receipt["status"]) == (False, "marked")
    uploaded = upload(client, login, body)  # the computer comes back online and its outbox sends the envelope
    assert uploaded["duplicate"] is True
    assert uploaded["result_id"] == receipt["result_id"]
    [held] = results_of(client, admin, demo)
    assert held["marks"]["items"]["short-plural"]["score"] == 1
    sitting = client.get(f"{API}/staff/sittings/{demo.sitting_id}", headers=admin).json()
    assert {a["student_name"]: a["state"] for a in sitting["allocations"]}["Ada Lovelace"] == "finished"


def test_the_same_code_twice_is_one_result_and_both_are_in_the_audit_log(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    login = player_login(client, demo.codes[1])
    code = code_for(answers_at(login["attempt_id"]), login["result_secret"])
    first = submit(client, admin, code)
    # Typed again by hand: lower case, other line breaks; still the same code.
    second = submit(client, admin, code.lower().replace("\n", " "))
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert first["result_id"] == second["result_id"]
    assert first["student_name"] == "Alan Turing"
    assert len(results_of(client, admin, demo)) == 1
    with store.transaction() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "submit_result_code")).all()
        logged = [(e.actor, e.target, e.detail["duplicate"]) for e in entries]
    assert logged == [("demo-admin", login["attempt_id"], False), ("demo-admin", login["attempt_id"], True)]


def test_the_same_key_with_other_answers_by_code_is_refused(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    body = answers_at(login["attempt_id"])
    upload(client, login, body)
    changed = {**body, "answers": [{**body["answers"][0], "value": "a"}, body["answers"][1]]}
    reply = client.post(CODES, json={"code": code_for(changed, login["result_secret"])}, headers=admin)
    assert reply.status_code == 409
    assert reply.json()["error"] == "idempotency_conflict"
    [held] = results_of(client, admin, demo)
    assert held["marks"]["items"]["mc-circles"]["score"] == 1


def test_any_staff_role_may_submit_a_code(client: TestClient, store: Store, demo: Demo) -> None:
    login = player_login(client, demo.codes[2])
    invigilator = role_headers(client, store, school_id=demo.school_id, role="invigilator")
    receipt = submit(client, invigilator, code_for(answers_at(login["attempt_id"]), login["result_secret"]))
    assert (receipt["student_name"], receipt["duplicate"]) == ("Grace Hopper", False)


def test_a_code_needs_a_staff_sign_in(client: TestClient, demo: Demo) -> None:
    login = player_login(client, demo.codes[0])
    code = code_for(answers_at(login["attempt_id"]), login["result_secret"])
    assert client.post(CODES, json={"code": code}).status_code == 401
    # The student's own attempt token is not a staff sign-in either.
    assert client.post(CODES, json={"code": code}, headers=bearer(login["attempt_token"])).status_code == 401


# ---- bad codes: refused with the codec's own message, nothing stored -----------------------------


@pytest.fixture
def made(client: TestClient, demo: Demo) -> tuple[dict[str, Any], str]:
    """A logged-in attempt and a genuine code for its results (three lines, so every kind of damage fits)."""
    login = player_login(client, demo.codes[0])
    code = code_for(answers_at(login["attempt_id"]), login["result_secret"])
    assert len(resultcode.normalize(code)) > 10 * resultcode.GROUP_LENGTH
    return login, code


def refusal(client: TestClient, admin: dict[str, str], code: str, *, status: int = 422) -> dict[str, str]:
    reply = client.post(CODES, json={"code": code}, headers=admin)
    assert reply.status_code == status, reply.text
    body: dict[str, str] = reply.json()
    return body


def test_a_tampered_code_with_valid_check_symbols_is_not_authentic(
    client: TestClient, demo: Demo, admin: dict[str, str], made: tuple[dict[str, Any], str]
) -> None:
    _, code = made
    index = len(resultcode.normalize(code)) // resultcode.GROUP_LENGTH - 2  # inside the ciphertext
    data = group_of(code, index)[:-1]
    forged = other_symbol(data[0]) + data[1:]
    tampered = with_group(code, index, forged + resultcode.check_symbol(forged, group_index=index))
    # The order check sees it (a typo is never "not authentic")...
    assert refusal(client, admin, tampered)["error"] == "result_code_check_failed"
    # ...so a forger recomputes that too; then only the key can tell.
    body = refusal(client, admin, reseal(resultcode.normalize(tampered)))
    assert body["error"] == "result_code_not_authentic"
    assert "not genuine" in body["message"]
    assert results_of(client, admin, demo) == []


def test_a_mistyped_code_names_the_group_to_compare(
    client: TestClient, demo: Demo, admin: dict[str, str], made: tuple[dict[str, Any], str]
) -> None:
    _, code = made
    group = group_of(code, 3)
    body = refusal(client, admin, with_group(code, 3, other_symbol(group[0]) + group[1:]))
    assert body["error"] == "result_code_check_failed"
    assert body["message"].startswith("Group 4 (")
    assert "has a typing mistake: compare it with the code on the student's screen" in body["message"]
    assert results_of(client, admin, demo) == []


@pytest.mark.parametrize(
    ("damage", "reason", "says"),
    [
        (lambda code: code.rsplit("\n", 1)[0], "truncated", "The end is missing"),
        (lambda code: code + "\n" + code, "too_long", "one code at a time"),
        (lambda code: "", "empty", "paste or type the whole code"),
        (lambda code: code[:8] + "U" + code[9:], "bad_character", "Group 2 contains 'U'"),
    ],
    ids=["truncated", "two-codes", "empty", "bad-character"],
)
def test_damaged_codes_are_refused_with_the_codec_message(
    client: TestClient,
    demo: Demo,
    admin: dict[str, str],
    made: tuple[dict[str, Any], str],
    damage: Any,
    reason: str,
    says: str,
) -> None:
    _, code = made
    body = refusal(client, admin, damage(code))
    assert body["error"] == f"result_code_{reason}"
    assert says in body["message"]
    assert results_of(client, admin, demo) == []


def test_a_code_made_with_another_secret_is_refused(
    client: TestClient, demo: Demo, admin: dict[str, str], made: tuple[dict[str, Any], str]
) -> None:
    login, _ = made
    forged = code_for(answers_at(login["attempt_id"]), crypto.new_result_secret())
    body = refusal(client, admin, forged)
    assert body["error"] == "result_code_not_authentic"
    assert results_of(client, admin, demo) == []


def test_another_schools_attempt_is_answered_like_an_unknown_one(
    client: TestClient, store: Store, settings: ServerSettings, demo: Demo, admin: dict[str, str]
) -> None:
    other = make_other_school(client, store, settings, demo)
    b_attempt = other.ids["attempt_id"]
    with store.transaction() as session:
        sealed = session.get(Attempt, b_attempt)
        assert sealed is not None
        b_secret = Keyring(settings.secret_key).unseal(sealed.result_secret_sealed, purpose="result-secret").decode()
    genuine = code_for(answers_at(b_attempt), b_secret)
    unknown = code_for(answers_at(str(uuid.uuid4())), crypto.new_result_secret())
    across = refusal(client, admin, genuine, status=404)
    assert across == refusal(client, admin, unknown, status=404)
    assert "No attempt on this server matches" in across["message"]
    # School B's own staff submit the very same code.
    receipt = submit(client, other.staff, genuine)
    assert (receipt["student_name"], receipt["duplicate"]) == ("Bea Other", False)


# ---- hostile and odd codes: bounded, named, never a 500 ----------------------------------------------


def long_code_for(login: dict[str, Any]) -> str:
    """A genuine code of more than 35 groups: a written answer of random letters does not compress."""
    rng = random.Random(7)
    body = answers_at(login["attempt_id"])
    written = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(400))
    body["answers"].append({**body["answers"][1], "item_id": "short-describe", "value": written})
    code = code_for(body, login["result_secret"])
    assert len(resultcode.normalize(code)) > 40 * resultcode.GROUP_LENGTH
    return code


def swapped_groups(code: str, first: int, second: int) -> str:
    symbols, size = resultcode.normalize(code), resultcode.GROUP_LENGTH
    groups = [symbols[start : start + size] for start in range(0, len(symbols), size)]
    groups[first], groups[second] = groups[second], groups[first]
    return "".join(groups)


@pytest.mark.parametrize(("first", "second"), [(3, 34), (4, 9), (0, 31), (1, 32)], ids=str)
def test_two_swapped_groups_are_named_as_a_typo(
    client: TestClient, demo: Demo, admin: dict[str, str], first: int, second: int
) -> None:
    login = player_login(client, demo.codes[0])
    code = long_code_for(login)
    body = refusal(client, admin, swapped_groups(code, first, second))
    assert body["error"] == "result_code_check_failed"
    assert body["message"].startswith(f"Groups {first + 1} ("), body["message"]
    assert f"and {second + 1} (" in body["message"]
    assert "put them back in order" in body["message"]
    assert results_of(client, admin, demo) == []
    assert submit(client, admin, code)["duplicate"] is False  # the genuine code was not spoilt by the refusal


@pytest.mark.parametrize("typed", ["ß", "ﬀ", "ﬁ", "\u200b"])
def test_a_character_whose_capital_is_two_letters_is_named_not_a_500(
    client: TestClient, demo: Demo, admin: dict[str, str], made: tuple[dict[str, Any], str], typed: str
) -> None:
    _, code = made
    symbols = resultcode.normalize(code)
    position = 2 * resultcode.GROUP_LENGTH + 1
    body = refusal(client, admin, symbols[:position] + typed + symbols[position + 1 :])
    assert body["error"] == "result_code_bad_character"
    assert body["message"].startswith(f"Group 3 contains {typed!r} (character 2 of the group)")
    assert results_of(client, admin, demo) == []


def test_text_longer_than_any_code_is_refused_before_the_route_runs(
    client: TestClient, demo: Demo, admin: dict[str, str], store: Store
) -> None:
    body = refusal(client, admin, "0" * (resultcode.MAX_TEXT_LENGTH + 1))
    assert body["error"] == "invalid_request"
    assert "code:" in body["message"]
    assert "The result code is too long" in body["message"]
    assert "Submit one code at a time" in body["message"]
    assert results_of(client, admin, demo) == []
    with store.transaction() as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "submit_result_code")).all() == []


def test_more_symbols_than_any_code_within_the_text_bound_is_too_long(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    body = refusal(client, admin, "0" * (resultcode.MAX_SYMBOLS + 1))
    assert body["error"] == "result_code_too_long"
    assert f"no genuine code has more than {resultcode.MAX_SYMBOLS:,} characters" in body["message"]
    assert results_of(client, admin, demo) == []


def test_a_crafted_code_of_the_maximum_length_is_read_and_refused(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    """Valid check symbols over junk, as long as a code may be: read in linear time (bench/), refused, no 500."""
    body = refusal(client, admin, crafted(resultcode.MAX_SITTING_BODY_BYTES))
    assert body["error"] == "result_code_not_authentic"
    assert results_of(client, admin, demo) == []


# ---- the same refusals from the command line -----------------------------------------------------


class EndlessInput(io.StringIO):
    """Standard input that would never end (a wrong pipe): counts what was asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def read(self, size: int | None = -1, /) -> str:
        if size is None or size < 0:
            raise AssertionError("read everything from an endless input")
        self.asked += size
        return "7" * size


def test_submit_code_refuses_endless_input_after_reading_one_code_length(cli: Cli) -> None:
    demo_result_code(cli)  # a database with a school and an attempt, so only the code is wrong
    endless, out, err = EndlessInput(), io.StringIO(), io.StringIO()

    status = main(["submit-code", *cli.options], Env(stdout=out, stderr=err, stdin=endless, clock=cli.clock))

    assert status == 1
    assert err.getvalue().startswith("invigil-server submit-code: The result code is too long: no genuine code")
    assert "Submit one code at a time" in err.getvalue()
    assert endless.asked == resultcode.MAX_TEXT_LENGTH + 1


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda code: code[:9] + "ß" + code[10:], "Group 2 contains 'ß' (character 3 of the group)"),
        (lambda code: swapped_groups(code, 2, 5), "Groups 3 ("),
        (lambda code: "0" * (resultcode.MAX_SYMBOLS + 1), "The result code is too long"),
        (lambda code: crafted(resultcode.MAX_SITTING_BODY_BYTES), "The result code is not genuine"),
    ],
    ids=["two-letter-capital", "swapped-groups", "too-many-symbols", "crafted-maximum"],
)
def test_submit_code_refuses_with_the_codec_message_and_stores_nothing(
    cli: Cli, tmp_path: Path, damage: Callable[[str], str], says: str
) -> None:
    code, _ = demo_result_code(cli)
    saved = tmp_path / "code.txt"
    saved.write_text(damage(code), encoding="utf-8")

    run = cli("submit-code", str(saved))

    assert run.code == 1
    assert run.err.startswith(f"invigil-server submit-code: {says}"), run.err
    assert "Traceback" not in run.err
    assert cli.ok("submit-code", stdin=code).out.endswith(": new\n")  # nothing was stored by the refusal


def test_submit_code_reads_a_huge_file_only_as_far_as_the_bound(cli: Cli, tmp_path: Path) -> None:
    demo_result_code(cli)
    huge = tmp_path / "not-a-code.txt"
    huge.write_text("0123456789\n" * (resultcode.MAX_TEXT_LENGTH // 5), encoding="utf-8")  # twice the bound

    run = cli("submit-code", str(huge))

    assert run.code == 1
    assert run.err.startswith("invigil-server submit-code: The result code is too long"), run.err


def test_submit_code_names_a_file_that_is_not_text(cli: Cli, tmp_path: Path) -> None:
    demo_result_code(cli)
    picture = tmp_path / "photo.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")

    run = cli("submit-code", str(picture))

    assert run.code == 1
    assert run.err == (
        f"invigil-server submit-code: {picture} is not a text file, so it is not a saved result code: "
        "give the file the code was saved to. (INV-8012)\n"
    )
