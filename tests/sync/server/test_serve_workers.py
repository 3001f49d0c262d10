"""`invigil-server serve --workers N`: several real processes on one port and one PostgreSQL database, each
answering on its own, all gone after Ctrl+C; refused on SQLite and for a count out of range before anything opens."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sync.server.cli import Env, main
from sync.server.cli.server_commands import uvicorn_config
from sync.server.settings import load_secret
from sync.server.workers import APP_FACTORY, OPTIONS_ENV, WorkerOptions, create_worker_app, run_workers
from tests.helpers.cli import Run
from tests.helpers.postgres import Cluster, free_port
from tests.helpers.processes import children, connection_holder, is_running
from tests.helpers.served import START_TIMEOUT_S, Served, serving
from tests.helpers.waiting import wait_until

TIMEOUT = 10


def run(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err, stdin=io.StringIO("")))
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def pg_database(pg_cluster: Cluster, pg_migrated_template: str, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A migrated PostgreSQL database of this test's own: (its name, its URL, the key file)."""
    name = pg_cluster.new_database("workers", template=pg_migrated_template)
    key_file = tmp_path / "invigil.secret"
    load_secret(key_file, create=True)
    yield name, pg_cluster.url(name), key_file
    pg_cluster.drop_database(name)


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, dict[str, object]]:
    conn.request("GET", path)
    reply = conn.getresponse()
    return reply.status, json.loads(reply.read())


def one_connection_per_worker(served: Served, workers: int) -> dict[int, http.client.HTTPConnection]:
    """Open connections (each answering /health) until `workers` different children of the server hold one;
    the connections kept, by the pid of the worker that accepted each.

    The kernel hands each connection to whichever worker takes it first, and the banner comes before the workers
    have started (connections wait in the socket's queue), so the first ones often all go to the first worker up.
    """
    address = urlsplit(served.api)
    assert address.hostname is not None
    assert address.port is not None
    found: dict[int, http.client.HTTPConnection] = {}

    def another_connection() -> bool:
        conn = http.client.HTTPConnection(address.hostname or "", address.port or 0, timeout=TIMEOUT)
        assert get(conn, f"{address.path}health") == (200, {"status": "ok"})
        assert conn.sock is not None
        holder = connection_holder(
            children(served.process.pid), server_port=address.port or 0, client_port=conn.sock.getsockname()[1]
        )
        assert holder is not None, "a connection that answered is held by none of the server's children"
        if holder in found:
            conn.close()
        else:
            found[holder] = conn
        return len(found) == workers

    wait_until(
        another_connection,
        what=f"{workers} different workers to accept a connection",
        timeout=START_TIMEOUT_S,
        interval=0.005,
        give_up_if=lambda: served.process.poll() is not None,
    )
    return found


def test_two_workers_on_postgresql_both_answer_and_all_stop_on_ctrl_c(
    pg_database: tuple[str, str, Path], pg_cluster: Cluster, tmp_path: Path
) -> None:
    name, url, key_file = pg_database
    errors = tmp_path / "serve.stderr"
    # The connections stay open while the server stops: idle keep-alive connections must not hold a worker up.
    with (
        ExitStack() as open_connections,
        serving(url, "--secret-file", str(key_file), "--workers", "2", stderr=errors) as served,
    ):
        workers = one_connection_per_worker(served, 2)
        for conn in workers.values():
            open_connections.callback(conn.close)
        api = urlsplit(served.api).path
        for conn in workers.values():  # each worker reaches the database itself
            status, body = get(conn, f"{api}ready")
            assert (status, body["status"]) == (200, "ready")
        started = children(served.process.pid)  # the workers and multiprocessing's resource tracker
        assert set(workers) <= started
        # The database goes away under the running server: every worker stays alive, and says it is not ready.
        pg_cluster.drop_database(name)
        for conn in workers.values():
            assert get(conn, f"{api}health") == (200, {"status": "ok"})
            status, body = get(conn, f"{api}ready")
            assert (status, body["error"]) == (503, "database_unreachable")
    assert served.process.returncode == 0, errors.read_text()
    assert served.output_after_banner == ["Invigil server stopped."]
    assert "Traceback" not in errors.read_text()
    wait_until(lambda: not any(is_running(pid) for pid in started), what="every worker to end", timeout=TIMEOUT)


def test_the_banner_counts_the_workers_and_hides_the_password(pg_database: tuple[str, str, Path]) -> None:
    _, url, key_file = pg_database
    with_password = url.replace("postgres@", "postgres:not-for-the-banner@")  # the test cluster does not check it
    with serving(with_password, "--secret-file", str(key_file), "--workers", "2") as served:
        assert served.banner == (
            f"Invigil server on {served.api} (database {url.replace('postgres@', 'postgres:***@')}"
            "?connect_timeout=10, 2 workers)"
        )


@pytest.mark.sqlite_only
def test_several_workers_on_sqlite_are_refused_before_anything_is_opened(tmp_path: Path) -> None:
    db = tmp_path / "data" / "invigil.db"
    refused = run("serve", "--port", "0", "--workers", "2", "--db", str(db))
    assert refused.code == 1
    assert refused.err == (
        f"invigil-server serve: --workers 2 needs PostgreSQL, and the database is the SQLite file {db}. SQLite lets "
        "one writer in at a time, and the queue that keeps writers from waiting seconds under a surge orders them "
        "only inside one process, so several workers would hold each other up. Serve it with one worker (leave out "
        "--workers), or serve a PostgreSQL database (--db postgresql+psycopg://USER@HOST:PORT/DATABASE; see "
        "docs/server.md). (INV-8015)\n"
    )
    assert refused.out == ""
    assert not db.parent.exists()  # neither the database nor its key file was made


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("0", "argument --workers: 0 worker processes: give 1 to 64 (one per CPU core is a good start)"),
        ("65", "argument --workers: 65 worker processes: give 1 to 64"),
        ("two", "argument --workers: 'two' is not a number of worker processes: give a whole number from 1 to 64"),
    ],
)
def test_a_worker_count_out_of_range_is_a_usage_error(tmp_path: Path, given: str, says: str) -> None:
    refused = run("serve", "--workers", given, "--db", str(tmp_path / "invigil.db"))
    assert refused.code == 2
    assert says in refused.err
    assert not (tmp_path / "invigil.db").exists()


def test_a_worker_that_cannot_reach_the_database_stops_the_server(pg_cluster: Cluster, tmp_path: Path) -> None:
    # What the serve command checked may be gone by the time a worker starts: the worker says why and exits with
    # uvicorn's startup-failure code, and the supervisor stops the server instead of restarting it in a loop.
    key_file = tmp_path / "invigil.secret"
    load_secret(key_file, create=True)
    port = free_port()
    options = WorkerOptions(
        database_url=f"postgresql+psycopg://invigil@127.0.0.1:{port}/invigil", secret_file=str(key_file)
    )
    config = uvicorn_config(APP_FACTORY, log_level="critical", forwarded_allow_ips=[], workers=2)
    with socket.create_server(("127.0.0.1", 0)) as sock:
        assert run_workers(config, sock, options) is False
    assert OPTIONS_ENV not in os.environ  # handed to the workers only


def test_a_worker_says_why_it_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    options = WorkerOptions(
        database_url=f"postgresql+psycopg://invigil@127.0.0.1:{port}/invigil", secret_file=str(tmp_path / "nokey")
    )
    monkeypatch.setenv(OPTIONS_ENV, options.to_json())
    with pytest.raises(SystemExit) as exited:
        create_worker_app()
    assert exited.value.code == 3  # uvicorn's STARTUP_FAILURE
    assert capsys.readouterr().err == (
        f"invigil-server serve: worker process {os.getpid()} could not start: Secret key file {tmp_path / 'nokey'} "
        "does not exist. Run `invigil-server init` first, or point --secret-file at the key the server was set up "
        "with. (INV-8005)\n"
    )
    load_secret(tmp_path / "nokey", create=True)
    with pytest.raises(SystemExit):
        create_worker_app()
    err = capsys.readouterr().err
    assert err.startswith(
        f"invigil-server serve: worker process {os.getpid()} could not start: Cannot reach the PostgreSQL database "
        f'"invigil" on 127.0.0.1 port {port} as user invigil: Connection refused'
    )
    assert err.endswith(" (INV-8006)\n")
    monkeypatch.delenv(OPTIONS_ENV)
    with pytest.raises(SystemExit):
        create_worker_app()
    assert "start the server with that command. (INV-8022)\n" in capsys.readouterr().err
