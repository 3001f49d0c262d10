"""`invigil-server` in process (injected streams and clock): set-up, administration, and clear failures, on an
SQLite file and on a PostgreSQL database."""

from __future__ import annotations

import copy
import json
import re
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from resources import demo_assessment_path
from sync.error_catalogue import by_number
from sync.server.models import Assessment, AuditEntry, Result
from sync.server.settings import load_secret
from sync.staff_protocol import REASONS_FOR
from tests.helpers.cli import Cli, demo_result_code
from tests.helpers.clock import START
from tests.helpers.server import API, bearer, envelope
from tests.sync.server.test_player_api import damage_package


@pytest.fixture
def school(cli: Cli) -> str:
    """An initialised database with a school, two students and credits; returns the school's name."""
    cli.ok("init")
    cli.ok("create-school", "Hill School")
    for uid, first in (("H-1", "Ann"), ("H-2", "Ben")):
        cli.ok(
            "add-student", "--school", "Hill School", "--unique-id", uid, "--first-name", first, "--last-name", "Hill"
        )
    cli.ok("load-assessment", str(demo_assessment_path()))
    cli.ok("grant-credits", "--school", "Hill School", "--assessment", "demo-literacy", "--amount", "5")
    return "Hill School"


def create_sitting(cli: Cli, *students: str) -> dict[str, Any]:
    picks = [arg for s in students for arg in ("--student", s)]
    run = cli.ok(
        "create-sitting", "--school", "Hill School", "--assessment", "demo-literacy", "--name", "Spelling",
        "--start", "2027-03-01T08:00", "--end", "2027-03-01T12:00", *picks, "--json",
    )  # fmt: skip
    data: dict[str, Any] = run.json()
    return data


def test_init_twice_is_harmless_and_keeps_the_key(cli: Cli) -> None:
    cli.ok("init")
    key = cli.secret_file.read_bytes()
    assert stat.S_IMODE(cli.secret_file.stat().st_mode) == 0o600
    cli.ok("init")
    assert cli.secret_file.read_bytes() == key
    with cli.store() as store:
        assert "sittings" in inspect(store.engine).get_table_names()


def test_commands_on_a_database_never_initialised_say_to_run_init(cli: Cli) -> None:
    run = cli("serve", "--port", "0")
    assert run.code == 1
    assert "invigil-server init" in run.err
    assert cli.tables() == []  # nothing was created by asking
    assert not cli.secret_file.exists()


@pytest.mark.sqlite_only
def test_commands_on_a_database_file_never_made_do_not_make_it(cli: Cli) -> None:
    load_secret(cli.secret_file, create=True)
    run = cli("list-schools")
    assert run.code == 1
    assert run.err == (
        f"invigil-server list-schools: There is no database at {cli.db}. Run `invigil-server init` first "
        "(or check --db). (INV-8004)\n"
    )
    assert not cli.db.exists()


def test_serving_an_empty_database_says_to_run_init(cli: Cli) -> None:
    if cli.url.startswith("sqlite:///"):
        cli.db.parent.mkdir(parents=True)
        cli.db.touch()  # a PostgreSQL database is made empty, by the cluster as by `createdb`
    load_secret(cli.secret_file, create=True)
    run = cli("serve", "--port", "0")
    assert run.code == 1
    assert "not set up" in run.err
    assert "invigil-server init" in run.err


def test_an_operator_sets_up_a_school_and_a_sitting_and_prints_the_codes(cli: Cli, school: str) -> None:
    cli.ok(
        "add-staff",
        "--school",
        school,
        "--username",
        "Head",
        "--role",
        "admin",
        "--password-stdin",
        stdin="long-password\n",
    )
    sitting = create_sitting(cli, "H-1", "H-2")
    assert {c["unique_id"] for c in sitting["codes"]} == {"H-1", "H-2"}
    listed = cli.ok("list-codes", "--school", school, "--sitting", sitting["id"], "--json").json()
    assert sorted(r["access_code"] for r in listed) == sorted(c["access_code"] for c in sitting["codes"])
    for client in cli.client():
        reply = client.post(f"{API}/staff/login", json={"username": "head", "password": "long-password"})
        assert reply.status_code == 200
        credits = client.get(f"{API}/staff/credits", headers=bearer(reply.json()["token"])).json()
        assert credits[0]["balance"] == 3


def test_closing_from_the_command_line_reports_refunds(cli: Cli, school: str) -> None:
    sitting = create_sitting(cli, "H-1", "H-2")
    for client in cli.client():
        code = sitting["codes"][0]["access_code"]
        assert client.post(f"{API}/login", json={"access_code": code, "machine_id": "pc"}).status_code == 200
    run = cli.ok("close-sitting", "--school", school, "--sitting", sitting["id"])
    assert "1 credits returned, 1 students given 30 more days" in run.out
    again = cli("close-sitting", "--school", school, "--sitting", sitting["id"])
    assert again.code == 1
    assert "already closed" in again.err


def test_release_code_lets_another_computer_resume(cli: Cli, school: str) -> None:
    code = create_sitting(cli, "H-1")["codes"][0]["access_code"]
    for client in cli.client():
        first = client.post(f"{API}/login", json={"access_code": code, "machine_id": "pc-1"})
        assert client.post(f"{API}/login", json={"access_code": code, "machine_id": "pc-2"}).status_code == 409
        off_list = cli("release-code", code, "--reason-kind", "toilet_break")
        assert off_list.code == 2
        assert "--reason-kind: invalid choice: 'toilet_break' (choose from " in off_list.err
        assert off_list.err.endswith(") (INV-8001)\n"), off_list.err  # argparse's refusal, numbered too
        assert all(kind in off_list.err.rsplit("choose from", 1)[1] for kind in REASONS_FOR["release"])
        vague = cli("release-code", code, "--reason-kind", "other")
        assert vague.code == 1
        assert vague.err.strip().endswith('With --reason-kind other, say what happened with --reason "...". (INV-8020)')
        assert "Ann Hill" in cli.ok("release-code", code.lower(), "--reason", "screen broke").out
        second = client.post(f"{API}/login", json={"access_code": code, "machine_id": "pc-2"})
        assert second.status_code == 200
        assert second.json()["attempt_id"] == first.json()["attempt_id"]
    unknown = cli("release-code", "ZZZZ-ZZZZ")
    assert unknown.code == 1
    assert "No allocation has the code" in unknown.err
    assert unknown.err.endswith(" (INV-8021)\n")


def test_remark_reports_why_marking_failed_and_exits_non_zero(cli: Cli, school: str) -> None:
    code = create_sitting(cli, "H-1")["codes"][0]["access_code"]
    for client in cli.client():
        login = client.post(f"{API}/login", json={"access_code": code, "machine_id": "pc-1"}).json()
        body = envelope(login["attempt_id"], {"mc-circles": "b"})
        receipt = client.post(
            f"{API}/attempts/{login['attempt_id']}/results", json=body, headers=bearer(login["attempt_token"])
        ).json()
    assert receipt["status"] == "marked"
    with cli.store() as store:
        damage_package(store, "mc-circles")  # answers are checked on arrival: only a changed package fails marking
    run = cli("remark", "--result", receipt["result_id"])
    assert run.code == 1
    assert "Marked 0 of 1 results" in run.out
    assert "mc-circles" in run.out
    assert run.err == "invigil-server remark: 1 results could not be marked (see above). (INV-8011)\n"
    missing = cli("remark", "--result", "no-such-result")
    assert missing.code == 1
    assert missing.err == "invigil-server remark: No result no-such-result. (INV-8010)\n"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("add-student", "--school", "Nowhere", "--unique-id", "x", "--first-name", "A", "--last-name", "B"),
         "No school 'Nowhere'"),
        (("add-student", "--school", "Hill School", "--unique-id", "H-1", "--first-name", "A", "--last-name", "B"),
         "already exists"),
        (("add-student", "--school", "Hill School", "--unique-id", "x" * 101, "--first-name", "A", "--last-name", "B"),
         "at most 100"),
        (("add-student", "--school", "Hill School", "--unique-id", "x", "--first-name", "A", "--last-name", "B",
          "--extra-time", "500"), "between 0 and 400"),
        (("load-assessment", "/no/such/package"), "/no/such/package"),
        (("create-sitting", "--school", "Hill School", "--assessment", "demo-literacy", "--name", "X",
          "--start", "2027-03-01T08:00", "--end", "2027-03-01T12:00", "--student", "H-404"), "H-404"),
        (("add-staff", "--school", "Hill School", "--username", "x", "--role", "admin"), "--password-stdin"),
        (("list-codes", "--school", "Hill School", "--sitting", "nope"), "No such sitting"),
    ],
)  # fmt: skip
def test_every_failure_says_what_and_exits_non_zero(cli: Cli, school: str, argv: tuple[str, ...], says: str) -> None:
    run = cli(*argv)
    assert run.code == 1
    assert says in run.err
    assert run.err.startswith(f"invigil-server {argv[0]}: ")
    number = re.search(r" \((INV-\d{4})\)\n$", run.err)  # its number: the command's own, or the API's
    assert number is not None, run.err
    assert by_number(number[1]) is not None, run.err


@pytest.mark.parametrize(
    "argv",
    [
        ("add-staff", "--username", "x", "--role", "admin", "--password-stdin"),
        ("add-student", "--unique-id", "x", "--first-name", "A", "--last-name", "B"),
        ("grant-credits", "--assessment", "demo-literacy", "--amount", "1"),
        ("create-sitting", "--assessment", "demo-literacy", "--name", "X",
         "--start", "2027-03-01T08:00", "--end", "2027-03-01T12:00", "--all-students"),
        ("list-codes", "--sitting", "nope"),
        ("close-sitting", "--sitting", "nope"),
    ],
)  # fmt: skip
def test_every_command_for_a_school_refuses_an_unknown_one_alike_and_changes_nothing(
    cli: Cli, school: str, argv: tuple[str, ...]
) -> None:
    before = cli.row_counts()
    run = cli(*argv, "--school", "Nowhere", stdin="a password\n")
    assert run.code == 1
    assert run.err == (
        f"invigil-server {argv[0]}: No school 'Nowhere' (by id or exact name). "
        "`invigil-server list-schools` shows them. (INV-8008)\n"
    )
    assert cli.row_counts() == before


def test_too_few_credits_from_the_command_line_changes_nothing(cli: Cli, school: str) -> None:
    cli.ok("grant-credits", "--school", school, "--assessment", "demo-literacy", "--amount", "0")
    for _ in range(2):
        create_sitting(cli, "H-1", "H-2")  # 5 credits: 2 + 2, leaving 1
    run = cli(
        "create-sitting", "--school", school, "--assessment", "demo-literacy", "--name", "Third",
        "--start", "2027-03-01T08:00", "--end", "2027-03-01T12:00", "--all-students",
    )  # fmt: skip
    assert run.code == 1
    assert "1 credit left" in run.err
    assert "2 needed" in run.err
    balance = cli.ok("grant-credits", "--school", school, "--assessment", "demo-literacy", "--amount", "0", "--json")
    assert balance.json()["balance"] == 1


def test_a_mistyped_option_is_a_usage_error_on_the_injected_stream(cli: Cli) -> None:
    run = cli("create-sitting", "--school", "x", "--assessment", "y", "--name", "n", "--start", "soon", "--end", "x",
              "--all-students")  # fmt: skip
    assert run.code == 2
    assert "'soon' is not a date-time" in run.err


def test_demo_seed_prints_logins_and_codes_and_refuses_a_second_time(cli: Cli) -> None:
    data = cli.ok("demo-seed", "--json").json()
    assert data["staff"]["username"] == "demo-admin"
    assert len(data["students"]) == 3
    assert all(len(s["access_code"]) == 9 for s in data["students"])
    assert START.isoformat()[:10] in data["sitting"]["window_start"]
    again = cli("demo-seed")
    assert again.code == 1
    assert "already has the demo data" in again.err


# ---- submit-code ---------------------------------------------------------------------------------


def test_submit_code_stores_a_code_from_a_file_once_and_from_stdin_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    code, body = demo_result_code(cli)
    saved = tmp_path / "ada-result.txt"
    saved.write_text(code + "\n", encoding="utf-8")
    first = cli.ok("submit-code", str(saved))
    assert first.out == "Stored the result of Ada Lovelace (Demo sitting), sections mc, short, dictation: new\n"
    again = cli.ok("submit-code", stdin=code.lower())
    assert again.out.endswith("already received: nothing changed\n")
    dash = cli.ok("submit-code", "-", "--json", stdin=code).json()
    assert dash["duplicate"] is True
    with cli.store() as store, store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Result)) == 1
        logged = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "submit_result_code").order_by(AuditEntry.id)
        ).all()
        assert [(e.actor, e.target, e.detail["duplicate"]) for e in logged] == [
            ("cli", body["attempt_id"], False),
            ("cli", body["attempt_id"], True),
            ("cli", body["attempt_id"], True),
        ]


def test_submit_code_refuses_a_bad_code_with_the_codec_message(cli: Cli, tmp_path: Path) -> None:
    code, _ = demo_result_code(cli)
    mistyped = code[:7] + ("7" if code[7] != "7" else "8") + code[8:]  # group 2
    run = cli("submit-code", stdin=mistyped)
    assert run.code == 1
    assert run.err.startswith("invigil-server submit-code: Group 2 (")
    assert "has a typing mistake" in run.err
    truncated = cli("submit-code", stdin=code[: len(code) // 2])
    assert truncated.code == 1
    assert "incomplete" in truncated.err
    missing = cli("submit-code", str(tmp_path / "nowhere.txt"))
    assert missing.code == 1
    assert "nowhere.txt" in missing.err
    nul = cli("submit-code", stdin=code[:12] + "\x00" + code[12:])
    assert nul.code == 1
    assert nul.err.startswith("invigil-server submit-code: "), nul.err
    assert "contains '\\x00'" in nul.err, nul.err
    assert "Traceback" not in nul.err
    assert cli.ok("submit-code", stdin=code).out.endswith(": new\n")  # nothing was stored by the refusals


def test_submit_code_stores_an_answer_holding_nul(cli: Cli) -> None:
    # Answers are kept as JSON, which holds U+0000 on PostgreSQL too: the student's result is never refused for one.
    code, _ = demo_result_code(cli, {"short-describe": "It was\x00 dark.", "mc-circles": "b"})
    assert cli.ok("submit-code", stdin=code).out.endswith(": new\n")
    with cli.store() as store, store.transaction() as session:
        result = session.scalars(select(Result)).one()
        assert result.status == "marked"
        assert {"item_id": "short-describe", "value": "It was\x00 dark."}.items() <= next(
            a for a in result.body["answers"] if a["item_id"] == "short-describe"
        ).items()


def test_load_assessment_refuses_a_package_with_nul_by_field_and_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.ok("init")
    package = tmp_path / "pkg"
    shutil.copytree(demo_assessment_path(), package)
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    for where, change in [("title", ("title", "Demo\x00")), ("sections[1].id", ("id", "short\x00"))]:
        changed = copy.deepcopy(manifest)
        target = changed if where == "title" else changed["sections"][1]
        target[change[0]] = change[1]
        (package / "manifest.json").write_text(json.dumps(changed), encoding="utf-8")
        run = cli("load-assessment", str(package))
        assert run.code == 1
        assert run.err.startswith(
            f"invigil-server load-assessment: manifest.json: {where}: contains a NUL character (U+0000"
        ), run.err
        assert "remove it" in run.err
    with cli.store() as store, store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Assessment)) == 0
