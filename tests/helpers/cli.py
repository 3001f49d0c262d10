"""`invigil-server` run in process as an operator would (injected streams and clock), on an SQLite file or a
PostgreSQL database, and the server opened on the same database."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, inspect, select, table

from sync import resultcode
from sync.protocol import ResultEnvelope
from sync.server.app import create_app
from sync.server.cli import Env, main
from sync.server.settings import ServerSettings, load_secret
from sync.server.store import Store
from tests.helpers.clock import FakeClock
from tests.helpers.server import API, envelope


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs commands against one database, as an operator would: on SQLite a file (its key file beside it), on
    PostgreSQL a database of the run's cluster, every command given `--db URL --secret-file FILE`."""

    def __init__(self, *, url: str, secret_file: Path, clock: FakeClock, db_option: str | None = None) -> None:
        self.url = url
        self.secret_file = secret_file
        self.clock = clock
        self.options = ["--db", db_option or url]
        if not url.startswith("sqlite"):
            self.options += ["--secret-file", str(secret_file)]  # a database given as a URL must name its key

    @property
    def db(self) -> Path:
        """The SQLite file (for a test about the file itself)."""
        assert self.url.startswith("sqlite:///"), "only an SQLite database is a file"
        return Path(self.url.removeprefix("sqlite:///"))

    def __call__(self, *argv: str, stdin: str = "") -> Run:
        out, err = io.StringIO(), io.StringIO()
        env = Env(stdout=out, stderr=err, stdin=io.StringIO(stdin), clock=self.clock)
        code = main([*argv, *self.options], env)
        return Run(code, out.getvalue(), err.getvalue())

    def ok(self, *argv: str, stdin: str = "") -> Run:
        run = self(*argv, stdin=stdin)
        assert run.code == 0, run.err
        return run

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The database as the server opens it (initialised, at this code's schema)."""
        store = Store.open(self.url, migrate=False)
        try:
            yield store
        finally:
            store.close()

    def client(self) -> Iterator[TestClient]:
        settings = ServerSettings(database_url=self.url, secret_key=load_secret(self.secret_file, create=False))
        with self.store() as store, TestClient(create_app(settings, store=store, clock=self.clock)) as client:
            yield client

    def tables(self) -> list[str]:
        """The database's tables, whether or not it is set up (none before `init`)."""
        if self.url.startswith("sqlite:///") and not self.db.exists():
            return []
        engine = create_engine(self.url)
        try:
            return inspect(engine).get_table_names()
        finally:
            engine.dispose()

    def row_counts(self) -> dict[str, int]:
        """Rows in each table, to show that a refusal changed nothing."""
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return {
                    name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
                    for name in inspect(conn).get_table_names()
                }
        finally:
            engine.dispose()


def demo_result_code(cli: Cli, answers: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """A demo student's result code (as the offline player shows it) and the envelope inside it."""
    data = cli.ok("demo-seed", "--json").json()
    for client in cli.client():
        login = client.post(
            f"{API}/login", json={"access_code": data["students"][0]["access_code"], "machine_id": "pc"}
        ).json()
    body = envelope(login["attempt_id"], {"mc-circles": "b"} if answers is None else answers)
    code = resultcode.encode(ResultEnvelope.model_validate(body), result_secret=login["result_secret"])
    return code, body
