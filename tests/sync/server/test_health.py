"""/health and /ready, what a load balancer polls: liveness without the database, readiness with it (reachable, at
this server's schema), each refusal naming its cause. No sign-in on either."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text

from sync.server.app import create_app
from sync.server.settings import ServerSettings
from sync.server.store import Store, alembic_config
from tests.helpers.postgres import Cluster
from tests.helpers.server import API


def head_and_previous(url: str) -> tuple[str, str]:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(url))
    head = scripts.get_revision("head")
    assert head is not None
    previous = head.down_revision
    assert isinstance(previous, str)
    return head.revision, previous


def migrate(store: Store, revision: str) -> None:
    """Move the schema to `revision` over the store's own engine. (Alembic's env.py, given only a URL, opens an
    engine it never disposes: a PostgreSQL connection left open, which the run's ResourceWarning check fails.)"""
    cfg = alembic_config(store.engine.url.render_as_string(hide_password=False))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        if revision == "head":
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)


def test_a_server_at_this_schema_is_alive_and_ready(client: TestClient, database_url: str) -> None:
    head, _ = head_and_previous(database_url)
    health = client.get(f"{API}/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = client.get(f"{API}/ready", headers={"Authorization": "Bearer not-a-token"})  # a token is not looked at
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "schema_revision": head})


def test_ready_names_both_revisions_when_the_schema_is_one_behind(
    client: TestClient, store: Store, database_url: str
) -> None:
    head, previous = head_and_previous(database_url)
    migrate(store, "-1")
    ready = client.get(f"{API}/ready")
    assert ready.status_code == 503
    assert ready.json() == {
        "error": "schema_not_current",
        "message": f"The database schema is at revision {previous}, this server needs {head}. Run `invigil-server "
        "init` to upgrade it (back the database up first).",
        "retry_after_seconds": None,
        "number": "INV-2109",
    }
    assert client.get(f"{API}/health").status_code == 200
    migrate(store, "head")
    assert client.get(f"{API}/ready").status_code == 200  # ready again once upgraded, without a restart


def test_ready_says_a_newer_server_upgraded_the_database(client: TestClient, store: Store, database_url: str) -> None:
    head, _ = head_and_previous(database_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9001_from_the_future'"))
    ready = client.get(f"{API}/ready")
    assert ready.status_code == 503
    assert ready.json()["error"] == "schema_not_current"
    assert ready.json()["message"] == (
        f"The database schema is at revision 9001_from_the_future, which this server does not know (it needs {head}): "
        "a newer server has upgraded it. Run that newer version of the server."
    )


def test_ready_says_an_emptied_database_is_not_set_up(client: TestClient, store: Store, database_url: str) -> None:
    head, _ = head_and_previous(database_url)
    migrate(store, "base")
    ready = client.get(f"{API}/ready")
    assert ready.status_code == 503
    assert ready.json()["message"] == (
        f"The database is not set up (it has no schema revision; this server needs {head}). "
        "Run `invigil-server init` on it."
    )


@pytest.fixture
def pg_server(pg_cluster: Cluster, pg_migrated_template: str, server_key: bytes) -> Iterator[tuple[TestClient, str]]:
    """The app on a PostgreSQL database of its own, and the database's name (to take it away)."""
    name = pg_cluster.new_database("ready", template=pg_migrated_template)
    settings = ServerSettings(database_url=pg_cluster.url(name), secret_key=server_key)
    with TestClient(create_app(settings)) as client:
        yield client, name
    pg_cluster.drop_database(name)


def test_health_answers_and_ready_refuses_while_the_database_is_gone(
    pg_server: tuple[TestClient, str], pg_cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    client, name = pg_server
    assert client.get(f"{API}/ready").status_code == 200  # a pooled connection is open from here on
    pg_cluster.drop_database(name)  # WITH (FORCE): the server's connections are cut, as by a database restart
    with caplog.at_level(logging.WARNING, logger="sync.server.routes_health"):
        ready = client.get(f"{API}/ready")
    assert ready.status_code == 503
    assert ready.json()["error"] == "database_unreachable"
    assert ready.json()["message"].startswith("This server cannot reach its database, so it cannot serve requests")
    assert name not in ready.text  # which database and why are for the log, not for whoever can reach the route
    assert [r.getMessage() for r in caplog.records] == [
        f'Not ready: Cannot reach the PostgreSQL database "{name}" on 127.0.0.1 port {pg_cluster.port} as user '
        f'{pg_cluster.owner}: database "{name}" does not exist. Create the database (`createdb -h 127.0.0.1 -p '
        f"{pg_cluster.port} -U {pg_cluster.owner} {name}`, or CREATE DATABASE as an administrator), or correct its "
        "name in the server's --db; then run `invigil-server init`."
    ]
    for _ in range(3):
        assert client.get(f"{API}/health").json() == {"status": "ok"}
