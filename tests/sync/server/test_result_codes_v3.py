"""Format 3 result codes through the real server: stored exactly once, the same body as an upload, forgeries refused."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from sync import protocol, resultcode
from sync.resultcode import GROUP_LENGTH, check_symbol
from sync.server.content import load_stored_manifest
from sync.server.crypto import Keyring
from sync.server.models import Attempt
from sync.server.settings import ServerSettings
from sync.server.store import Store
from tests.helpers.cli import Cli
from tests.helpers.server import API, Demo, envelope, player_login
from tests.sync.server.test_result_codes import (
    CODES,
    answers_at,
    group_of,
    other_symbol,
    results_of,
    submit,
    upload,
    with_group,
)
from tests.sync.server.test_tenant_isolation import make_other_school


def short_code_for(body: dict[str, Any], login: dict[str, Any]) -> str:
    """The code the player makes now: format 3, against the delivery form the login gave it."""
    form = protocol.DeliveryAssessment.model_validate(login["assessment"])
    code = resultcode.encode(
        protocol.ResultEnvelope.model_validate(body), result_secret=login["result_secret"], delivery=form
    )
    assert code[0] == "3"
    return code


def test_a_short_code_is_stored_once_and_marked(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    login = player_login(client, demo.codes[0])
    code = short_code_for(answers_at(login["attempt_id"]), login)

    first = submit(client, admin, code)
    second = submit(client, admin, code.lower().replace("\n", " "))

    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert first["result_id"] == second["result_id"]
    assert (first["student_name"], first["section_ids"], first["status"]) == (
        "Ada Lovelace",
        ["mc", "short", "dictation"],
        "marked",
    )
    [held] = results_of(client, admin, demo)
    assert held["marks"]["items"]["short-plural"]["score"] == 1


def test_a_short_code_and_the_upload_of_the_same_results_are_one_result(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    body = answers_at(login["attempt_id"])
    received = submit(client, admin, short_code_for(body, login))

    uploaded = upload(client, login, body)  # the computer comes back online: the same body, not a conflict

    assert uploaded["duplicate"] is True
    assert uploaded["result_id"] == received["result_id"]
    assert len(results_of(client, admin, demo)) == 1


def test_a_forged_short_code_is_not_authentic_and_stores_nothing(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    code = short_code_for(answers_at(login["attempt_id"]), login)
    index = len(resultcode.normalize(code)) // GROUP_LENGTH - 2  # inside the ciphertext
    data = group_of(code, index)[:-1]
    forged_data = other_symbol(data[0]) + data[1:]
    forged = with_group(code, index, forged_data + check_symbol(forged_data, group_index=index, version=3))

    reply = client.post(CODES, json={"code": forged}, headers=admin)

    assert reply.status_code == 422
    assert reply.json()["error"] == "result_code_not_authentic"
    assert reply.json()["message"].startswith("The result code is not genuine for this attempt")
    assert results_of(client, admin, demo) == []


def test_a_mistyped_short_code_names_the_group(client: TestClient, demo: Demo, admin: dict[str, str]) -> None:
    login = player_login(client, demo.codes[0])
    code = short_code_for(answers_at(login["attempt_id"]), login)
    group = group_of(code, 4)
    typed = with_group(code, 4, group[:3] + other_symbol(group[3]) + group[4:])

    reply = client.post(CODES, json={"code": typed}, headers=admin)

    assert reply.status_code == 422
    assert reply.json()["error"] == "result_code_check_failed"
    assert reply.json()["message"].startswith("Group 5 (")
    assert results_of(client, admin, demo) == []


def test_a_short_code_for_no_attempt_on_this_server_is_not_found(
    client: TestClient, demo: Demo, admin: dict[str, str]
) -> None:
    login = player_login(client, demo.codes[0])
    elsewhere = {**login, "attempt_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12}
    code = short_code_for(answers_at(elsewhere["attempt_id"]), elsewhere)

    reply = client.post(CODES, json={"code": code}, headers=admin)

    assert reply.status_code == 404
    assert reply.json()["message"].startswith("No attempt on this server matches this result code")


# ---- the operator's command line reads format 3 too ----------------------------------------------


def test_submit_code_stores_a_short_code_once(cli: Cli) -> None:
    data = cli.ok("demo-seed", "--json").json()
    for client in cli.client():
        login = client.post(
            f"{API}/login", json={"access_code": data["students"][0]["access_code"], "machine_id": "pc"}
        ).json()
    code = short_code_for(envelope(login["attempt_id"], {"mc-circles": "b", "mc-nouns": ["a", "c"]}), login)

    first = cli.ok("submit-code", stdin=code)
    again = cli.ok("submit-code", stdin=code)

    assert first.out == "Stored the result of Ada Lovelace (Demo sitting), sections mc, short, dictation: new\n"
    assert again.out.endswith("already received: nothing changed\n")


def test_another_schools_short_code_is_answered_like_an_unknown_one(
    client: TestClient, store: Store, settings: ServerSettings, demo: Demo, admin: dict[str, str]
) -> None:
    other = make_other_school(client, store, settings, demo)
    b_attempt = other.ids["attempt_id"]
    with store.transaction() as session:
        held = session.get(Attempt, b_attempt)
        assert held is not None
        b_secret = Keyring(settings.secret_key).unseal(held.result_secret_sealed, purpose="result-secret").decode()
        b_manifest = held.allocation.sitting.assessment.manifest_json
    b_login = {
        "attempt_id": b_attempt,
        "result_secret": b_secret,
        "assessment": load_stored_manifest(b_manifest).delivery_form().model_dump(mode="json"),
    }
    genuine = short_code_for(answers_at(b_attempt), b_login)

    across = client.post(CODES, json={"code": genuine}, headers=admin)

    assert across.status_code == 404
    assert across.json()["message"].startswith("No attempt on this server matches this result code")
    receipt = submit(client, other.staff, genuine)  # school B's own staff
    assert (receipt["student_name"], receipt["duplicate"]) == ("Bea Other", False)
