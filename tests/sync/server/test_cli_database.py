"""`--db`: the URL forms the server takes, the ones it refuses, and a PostgreSQL it cannot reach, said in one
paragraph (which database, never its password, what to check) by every command, with nothing changed."""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.server.cli import Env, main
from sync.server.settings import CONNECT_TIMEOUT_S, DB_ENV, SettingsError, database_url, load_secret
from tests.helpers.cli import Run
from tests.helpers.postgres import Cluster, free_port
from tests.helpers.waiting import wait_until

PASSWORD = "not-this-one-9f3c"
"""Made up; it must never be printed."""


def run(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err, stdin=io.StringIO("")))
    return Run(code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("postgresql://u:pw@db.example.org:5433/invigil", "postgresql+psycopg://u:pw@db.example.org:5433/invigil"),
        ("postgres://u@db.example.org/invigil", "postgresql+psycopg://u@db.example.org/invigil"),
        ("postgresql+psycopg://u@[::1]:5432/invigil", "postgresql+psycopg://u@[::1]:5432/invigil"),
        ("postgresql:///invigil", "postgresql+psycopg:///invigil"),
    ],
)
def test_a_postgresql_url_means_psycopg_3_with_a_connect_timeout(given: str, meant: str) -> None:
    assert database_url(given, env={}) == f"{meant}?connect_timeout={CONNECT_TIMEOUT_S}"


def test_a_connect_timeout_the_url_sets_is_kept() -> None:
    given = "postgresql://u@db.example.org/invigil?connect_timeout=3&sslmode=require"
    assert (
        database_url(given, env={}) == "postgresql+psycopg://u@db.example.org/invigil?connect_timeout=3&sslmode=require"
    )


def test_sqlite_paths_and_urls_are_taken_as_they_are(tmp_path: Path) -> None:
    assert database_url(str(tmp_path / "x.db"), env={}) == f"sqlite:///{tmp_path / 'x.db'}"
    assert database_url(f"sqlite:///{tmp_path}/x.db", env={}) == f"sqlite:///{tmp_path}/x.db"
    assert database_url(f"sqlite+pysqlite:///{tmp_path}/x.db", env={}) == f"sqlite:///{tmp_path}/x.db"
    assert database_url(None, env={DB_ENV: str(tmp_path / "y.db")}) == f"sqlite:///{tmp_path / 'y.db'}"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (f"mysql://root:{PASSWORD}@db/invigil", "--db: mysql:// databases are not supported."),
        (f"postgresql+psycopg2://u:{PASSWORD}@db/invigil", "--db: postgresql+psycopg2:// databases are not supported."),
        (f"postgresql://u:{PASSWORD}@db:fivefourthreetwo/invigil", "--db is not a database URL that can be read"),
    ],
)
def test_another_database_is_refused_naming_the_ones_supported(tmp_path: Path, given: str, says: str) -> None:
    key_file = tmp_path / "invigil.secret"
    refused = run("init", "--db", given, "--secret-file", str(key_file))
    assert refused.code == 1
    assert refused.err.startswith(f"invigil-server init: {says}")
    assert "sqlite:///PATH" in refused.err
    assert "postgresql://USER:PASSWORD@HOST:PORT/DATABASE" in refused.err
    assert PASSWORD not in refused.err
    assert refused.err.endswith(" (INV-8002)\n")
    assert not key_file.exists()  # refused before anything was made


def test_the_environment_variable_is_named_when_its_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_ENV, "oracle://scott@db/invigil")
    with pytest.raises(SettingsError, match=f"^{DB_ENV}: oracle:// databases are not supported"):
        database_url(None)


def test_a_plain_postgres_url_sets_up_and_serves_commands(pg_cluster: Cluster, tmp_path: Path) -> None:
    name = pg_cluster.new_database("plain")
    try:
        given = pg_cluster.url(name).replace("postgresql+psycopg://", "postgres://")
        key = ("--secret-file", str(tmp_path / "invigil.secret"))
        ready = run("init", "--db", given, *key)
        assert ready.code == 0, ready.err
        shown = f"postgresql+psycopg://{pg_cluster.owner}@127.0.0.1:{pg_cluster.port}/{name}"
        assert ready.out == f"Database ready: {shown}?connect_timeout={CONNECT_TIMEOUT_S}\n"
        assert run("create-school", "Hill School", "--db", given, *key).code == 0
        listed = run("list-schools", "--db", given.replace("postgres://", "postgresql://"), *key)
        assert "Hill School" in listed.out
    finally:
        pg_cluster.drop_database(name)


def test_a_password_in_the_url_is_never_printed(pg_cluster: Cluster, tmp_path: Path) -> None:
    name = pg_cluster.new_database("shown")
    try:
        # The test cluster trusts local connections: the password is carried, not checked.
        given = f"postgresql://{pg_cluster.owner}:{PASSWORD}@127.0.0.1:{pg_cluster.port}/{name}"
        ready = run("init", "--db", given, "--secret-file", str(tmp_path / "invigil.secret"))
        assert ready.code == 0, ready.err
        assert PASSWORD not in ready.out
        assert f"{pg_cluster.owner}:***@127.0.0.1" in ready.out
    finally:
        pg_cluster.drop_database(name)


# ---- a PostgreSQL that cannot be reached ------------------------------------------------------------

COMMANDS = [
    ("init",),
    ("serve", "--port", "0"),
    ("serve", "--port", "0", "--workers", "2"),
    ("serve", "--port", "0", "--migrate"),
    ("list-schools",),
    ("create-school", "Hill School"),
    ("demo-seed",),
    ("remark",),
]


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """A key file, so that every command gets as far as the database."""
    path = tmp_path / "invigil.secret"
    load_secret(path, create=True)
    return path


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_command_names_a_missing_database_and_says_to_create_it(
    pg_cluster: Cluster, key_file: Path, argv: tuple[str, ...]
) -> None:
    url = f"postgresql://{pg_cluster.owner}:{PASSWORD}@127.0.0.1:{pg_cluster.port}/no_such_db"
    refused = run(*argv, "--db", url, "--secret-file", str(key_file))
    assert refused.code == 1
    assert refused.err == (
        f'invigil-server {argv[0]}: Cannot reach the PostgreSQL database "no_such_db" on 127.0.0.1 port '
        f'{pg_cluster.port} as user {pg_cluster.owner}: database "no_such_db" does not exist. Create the database '
        f"(`createdb -h 127.0.0.1 -p {pg_cluster.port} -U {pg_cluster.owner} no_such_db`, or CREATE DATABASE as an "
        "administrator), or correct its name in --db; then run `invigil-server init`. (INV-8006)\n"
    )
    assert refused.out == ""  # no banner: nothing was served


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_command_names_a_closed_port_and_says_what_to_check(key_file: Path, argv: tuple[str, ...]) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://invigil:{PASSWORD}@127.0.0.1:{port}/invigil"
    refused = run(*argv, "--db", url, "--secret-file", str(key_file))
    assert refused.code == 1
    assert refused.err.startswith(
        f'invigil-server {argv[0]}: Cannot reach the PostgreSQL database "invigil" on 127.0.0.1 port {port} as '
        "user invigil: Connection refused; Is the server running on that host and accepting TCP/IP connections? "
        "Check that PostgreSQL is running on that host and port"
    )
    assert "(listen_addresses and port in postgresql.conf), and the host and port in --db. (INV-8006)\n" in refused.err
    assert refused.err.count("\n") == 1  # one paragraph
    assert PASSWORD not in refused.err


def test_an_unknown_user_is_named(pg_cluster: Cluster, key_file: Path) -> None:
    url = f"postgresql://nobody_here@127.0.0.1:{pg_cluster.port}/postgres"
    refused = run("list-schools", "--db", url, "--secret-file", str(key_file))
    assert refused.code == 1
    assert 'as user nobody_here: role "nobody_here" does not exist. Correct the user name in --db' in refused.err


def test_an_unknown_host_is_named(key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_ENV, "postgresql://invigil@no-such-host.invalid/invigil")
    refused = run("init", "--secret-file", str(key_file))
    assert refused.code == 1
    assert 'database "invigil" on no-such-host.invalid port 5432 as user invigil' in refused.err
    assert refused.err.endswith(f"Check the host name in {DB_ENV}. (INV-8006)\n")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel completes them) and never says a word: a wrong address
    behind a firewall that lets the connection in, or a hung server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_server_that_never_answers_is_given_up_on_after_the_connect_timeout(
    silent_server: int, key_file: Path
) -> None:
    url = f"postgresql://invigil@127.0.0.1:{silent_server}/invigil?connect_timeout=1"
    refused = run("init", "--db", url, "--secret-file", str(key_file))
    assert refused.code == 1
    assert "port" in refused.err
    assert "timeout expired" in refused.err
    assert "Nothing answered in time: check the host and port in --db" in refused.err


def test_a_user_without_rights_on_the_database_is_told_to_own_it(pg_cluster: Cluster, tmp_path: Path) -> None:
    import psycopg

    name = pg_cluster.new_database("rights")
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("CREATE ROLE clerk LOGIN")  # may connect; PostgreSQL 15+ lets only the owner create in public
    try:
        url = f"postgresql://clerk@127.0.0.1:{pg_cluster.port}/{name}"
        refused = run("init", "--db", url, "--secret-file", str(tmp_path / "invigil.secret"))
        assert refused.code == 1
        assert refused.err.startswith(
            f'invigil-server init: Cannot use the PostgreSQL database "{name}" on 127.0.0.1 port {pg_cluster.port} '
            "as user clerk: permission denied for schema public"
        )
        assert refused.err.endswith(
            f"make it the database's owner (`ALTER DATABASE {name} OWNER TO clerk` as an administrator), or name "
            "the owner in --db. (INV-8006)\n"
        )
    finally:
        pg_cluster.drop_database(name)
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            conn.execute("DROP ROLE clerk")


# ---- an SQLite file that cannot be opened or made --------------------------------------------------


def test_a_folder_given_as_the_database_file_is_named(tmp_path: Path) -> None:
    load_secret(tmp_path / "invigil.secret", create=True)
    refused = run("list-schools", "--db", str(tmp_path), "--secret-file", str(tmp_path / "invigil.secret"))
    assert refused.code == 1
    assert refused.err == (
        f"invigil-server list-schools: Cannot open the SQLite database {tmp_path}: unable to open database file. "
        "Check that its folder exists and that this user may read and write there, and the path in --db. (INV-8006)\n"
    )


def test_a_database_or_key_file_where_no_folder_can_be_made_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    db = run("init", "--db", str(blocker / "data" / "invigil.db"))
    assert db.code == 1
    assert db.err == (
        f"invigil-server init: Cannot make the folder {blocker / 'data'} for the database: Not a directory. "
        "Choose a --db path this user may write to. (INV-8003)\n"
    )
    key = run("init", "--db", str(tmp_path / "invigil.db"), "--secret-file", str(blocker / "keys" / "invigil.secret"))
    assert key.code == 1
    assert key.err == (
        f"invigil-server init: Cannot create the secret key file {blocker / 'keys' / 'invigil.secret'}: Not a "
        "directory. Choose a --secret-file path this user may write to. (INV-8005)\n"
    )
    assert not (tmp_path / "invigil.db").exists()  # refused before the database was opened


@pytest.fixture
def password_user(pg_cluster: Cluster) -> Iterator[str]:
    """A user that must give its password (the test cluster trusts every other one): its name; the password is
    "right-password"."""
    import psycopg

    user = f"pw_user_{os.getpid()}"
    hba = pg_cluster.data / "pg_hba.conf"
    trusting = hba.read_text()
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {user} LOGIN PASSWORD 'right-password'")
        # pg_hba.conf's first matching line counts: this one, for this user alone, asks for the password.
        hba.write_text(f"host all {user} 127.0.0.1/32 scram-sha-256\n{trusting}")
        conn.execute("SELECT pg_reload_conf()")

    def password_asked() -> bool:  # the reload is a signal to the server: done once the rule is in force
        try:
            psycopg.connect(f"host=127.0.0.1 port={pg_cluster.port} user={user} dbname=postgres").close()
        except psycopg.OperationalError as exc:
            return "password" in str(exc)
        return False

    wait_until(password_asked, what=f"PostgreSQL to ask {user} for a password")
    try:
        yield user
    finally:
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            hba.write_text(trusting)
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f"DROP ROLE {user}")


def test_a_wrong_password_is_named_without_printing_it(pg_cluster: Cluster, password_user: str, key_file: Path) -> None:
    url = f"postgresql://{password_user}:{PASSWORD}@127.0.0.1:{pg_cluster.port}/postgres"
    refused = run("init", "--db", url, "--secret-file", str(key_file))
    assert refused.code == 1
    assert refused.err == (
        f'invigil-server init: Cannot reach the PostgreSQL database "postgres" on 127.0.0.1 port {pg_cluster.port} '
        f'as user {password_user}: password authentication failed for user "{password_user}". Check the user name '
        "and password in --db (or in PGPASSWORD or ~/.pgpass). (INV-8006)\n"
    )
