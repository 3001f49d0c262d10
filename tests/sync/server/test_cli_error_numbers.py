"""`invigil-server` as an IT admin runs it (the installed command, its own process): every refusal is one line on
stderr ending with its catalogue number, the exit status is non-zero, and the number looks up to its cause and fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sync.error_catalogue import by_number
from tests.helpers.served import command, this_checkout

TIMEOUT_S = 120
NUMBERED = re.compile(r" \((INV-\d{4})\)$")


def invigil_server(
    *argv: str, data_home: Path | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`data_home`: XDG_DATA_HOME, where the default database would go (so a test can see none was made)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVIGIL_")} | (extra_env or {})
    if data_home is not None:
        env["XDG_DATA_HOME"] = str(data_home)
    return subprocess.run(
        [str(command()), *argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=this_checkout(env),
        check=False,
    )


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """--db and --secret-file of an initialised SQLite database with no school."""
    folder = tmp_path_factory.mktemp("cli-numbers")
    options = ["--db", str(folder / "invigil.db"), "--secret-file", str(folder / "invigil.secret")]
    done = invigil_server("init", *options)
    assert done.returncode == 0, done.stderr
    return options


def refusal(done: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """The refusal's last line (argparse prints its usage first) and the catalogue key of its number."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    line = done.stderr.rstrip("\n").splitlines()[-1]
    found = NUMBERED.search(line)
    assert found is not None, f"no number at the end of: {done.stderr!r}"
    entry = by_number(found[1])
    assert entry is not None, line
    return line, entry.key


def test_a_database_url_the_server_cannot_use(tmp_path: Path) -> None:
    done = invigil_server("init", "--db", "mysql://root:secret@db/invigil", "--secret-file", str(tmp_path / "k"))
    line, key = refusal(done)
    assert done.returncode == 1
    assert line.startswith("invigil-server init: --db: mysql:// databases are not supported.")
    assert line.endswith(" (INV-8002)")
    assert key == "server_cli.bad_db"
    assert "secret" not in line  # the password in the URL is not echoed


def test_a_database_file_that_is_not_there(tmp_path: Path) -> None:
    done = invigil_server("list-schools", "--db", str(tmp_path / "typo.db"))
    line, key = refusal(done)
    assert line == (
        f"invigil-server list-schools: There is no database at {tmp_path / 'typo.db'}. Run `invigil-server init` "
        "first (or check --db). (INV-8004)"
    )
    assert key == "server_cli.no_database"
    assert not (tmp_path / "typo.db").exists()


def test_an_unknown_school(database: list[str]) -> None:
    done = invigil_server("list-codes", "--school", "Nowhere", "--sitting", "x", *database)
    line, key = refusal(done)
    assert done.returncode == 1
    assert line == (
        "invigil-server list-codes: No school 'Nowhere' (by id or exact name). `invigil-server list-schools` shows "
        "them. (INV-8008)"
    )
    assert key == "server_cli.unknown_school"


def test_a_result_code_file_that_is_not_there(database: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "result-code-ada.txt"
    done = invigil_server("submit-code", str(missing), *database)
    line, key = refusal(done)
    assert line.startswith(f"invigil-server submit-code: There is no file {missing}.")
    assert key == "server_cli.code_file"


def test_a_command_line_argparse_refuses(database: list[str]) -> None:
    done = invigil_server("serve", "--workers", "zero", *database)
    line, key = refusal(done)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: invigil-server serve ")
    assert line.startswith("invigil-server serve: error: argument --workers: 'zero' is not a number of worker")
    assert key == "server_cli.usage"


def test_the_printed_number_looks_up_to_its_cause_and_fix() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "sync.error_catalogue", "INV-8008"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=this_checkout(os.environ),
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("INV-8008 server_cli.unknown_school: No such school.\nCause: --school names")
    assert "Fix: `invigil-server list-schools`" in shown.stdout


def create_sitting(start: str, end: str) -> list[str]:
    """`create-sitting` with everything else valid, so only --start and --end can be refused."""
    sitting = ["create-sitting", "--school", "s", "--assessment", "a", "--name", "n", "--all-students"]
    return [*sitting, "--start", start, "--end", end]


# Every option that takes a value, given one out of range or garbage: refused by the parser before anything is
# opened or served, as a usage error (exit 2) whose last line names the option, says what to give, ends with
# INV-8001 and a newline; never a traceback.
BAD_VALUES = [
    pytest.param(["serve", "--port", "99999"], "--port", "0 to 65535", id="port-too-big"),
    pytest.param(["serve", "--port", "-1"], "--port", "0 to 65535", id="port-negative"),
    pytest.param(["serve", "--port", "http"], "--port", "0 to 65535", id="port-not-a-number"),
    pytest.param(["demo-seed", "--port", "70000"], "--port", "0 to 65535", id="demo-seed-port"),
    pytest.param(["serve", "--max-body", "bogus"], "--max-body", "ROUTE=SIZE", id="max-body-garbage"),
    pytest.param(
        ["serve", "--max-body", "results=" + "9" * 400], "--max-body", "between 1 KB and 1 GB", id="max-body-huge"
    ),
    pytest.param(["serve", "--host", ""], "--host", "0.0.0.0", id="host-empty"),
    pytest.param(["serve", "--host", "garb age"], "--host", "0.0.0.0", id="host-with-space"),
    pytest.param(["serve", "--workers", "0"], "--workers", "1 to 64", id="workers-zero"),
    pytest.param(
        ["grant-credits", "--school", "s", "--assessment", "a", "--amount", "9" * 30],
        "--amount",
        "0 to 1000000",
        id="credits-huge",
    ),
    pytest.param(
        ["grant-credits", "--school", "s", "--assessment", "a", "--amount", "-1"],
        "--amount",
        "0 to 1000000",
        id="credits-negative",
    ),
    pytest.param(
        ["load-assessment", "pkg.zip", "--untimed-section-minutes", "-1"],
        "--untimed-section-minutes",
        "1 to 1440",
        id="untimed-minutes-negative",
    ),
    pytest.param(
        create_sitting("9999-12-31T23:00-05:00", "2030-01-01"),
        "--start",
        "2027-03-01T09:00",
        id="start-beyond-year-9999",
    ),
    pytest.param(
        create_sitting("2030-01-01", "0001-01-01T00:00+05:00"),
        "--end",
        "2027-03-01T09:00",
        id="end-before-year-1",
    ),
]


@pytest.mark.parametrize(("argv", "option", "what_to_give"), BAD_VALUES)
def test_an_option_value_out_of_range_is_a_numbered_usage_error(
    argv: list[str], option: str, what_to_give: str, tmp_path: Path
) -> None:
    db = tmp_path / "never-made.db"
    done = invigil_server(*argv, "--db", str(db), "--secret-file", str(tmp_path / "k"))
    line, key = refusal(done)
    assert done.returncode == 2
    assert done.stderr.endswith(" (INV-8001)\n"), repr(done.stderr[-200:])
    assert line.startswith(f"invigil-server {argv[0]}: error: argument {option}"), line
    assert what_to_give in line, line
    assert key == "server_cli.usage"
    assert not db.exists()  # refused before the database was touched
    assert done.stdout == ""


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("999.1.1.1", id="not-an-address"),
        pytest.param("192.0.2.1", id="not-this-computers"),  # TEST-NET-1: never assigned to a machine
    ],
)
def test_a_host_this_computer_cannot_listen_on_names_host_not_port(database: list[str], host: str) -> None:
    done = invigil_server("serve", "--host", host, "--port", "0", *database)
    line, key = refusal(done)
    assert done.returncode == 1
    assert line.startswith(f"invigil-server serve: Cannot listen on {host}:0: "), line
    assert "Give --host an address of this computer" in line, line
    assert "--port" not in line, line  # the port was not the problem
    assert line.endswith(" (INV-8016)")
    assert key == "server_cli.cannot_listen"
    assert "Invigil server on" not in done.stdout


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        pytest.param(
            "--db", "", "'' is not a database: give", id="db-empty"
        ),  # e.g. an unset variable: not the default file
        pytest.param("--db", "sqlite:///", "names no SQLite file", id="db-sqlite-url-without-a-file"),
        pytest.param("--db", "sqlite://", "names no SQLite file", id="db-sqlite-in-memory"),
        pytest.param("--db", "sqlite:///:memory:", "names no SQLite file", id="db-sqlite-memory"),
        pytest.param("--secret-file", "", "'' is not a key file: give", id="secret-file-empty"),
    ],
)
def test_a_database_or_key_option_that_names_no_file(option: str, value: str, says: str, tmp_path: Path) -> None:
    given = {"--db": str(tmp_path / "never-made.db"), "--secret-file": str(tmp_path / "never-made.secret")}
    given[option] = value
    done = invigil_server("init", "--db", given["--db"], "--secret-file", given["--secret-file"], data_home=tmp_path)
    line, key = refusal(done)
    assert done.returncode == 2
    assert done.stderr.endswith(" (INV-8001)\n"), repr(done.stderr[-200:])
    assert line.startswith(f"invigil-server init: error: argument {option}: "), line
    assert says in line, line
    assert key == "server_cli.usage"
    assert list(tmp_path.iterdir()) == []  # no database (named or the default one), no key file


@pytest.mark.parametrize("value", ["sqlite:///", "sqlite://", "sqlite:///:memory:"])
def test_invigil_server_db_that_names_no_file_is_refused_like_db(value: str, tmp_path: Path) -> None:
    # The environment variable is read after the parser, so the settings refuse it (it crashed with a traceback).
    done = invigil_server("init", data_home=tmp_path, extra_env={"INVIGIL_SERVER_DB": value})
    line, key = refusal(done)
    assert done.returncode == 1
    assert line.startswith("invigil-server init: INVIGIL_SERVER_DB names no SQLite file"), line
    assert key == "server_cli.bad_db"
    assert list(tmp_path.iterdir()) == []  # no key file, no default database
