"""Shared test setup: headless Qt, garbage collected on the main thread, and the real server (a migrated SQLite
file, the app in-process and under uvicorn, a clock the test owns), here so every folder's tests can use it."""

from __future__ import annotations

import gc
import os
import secrets
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from tests.helpers.clock import START, FakeClock
from tests.helpers.qt_messages import QtMessageCheck, route_qt_messages_to_stderr

# No hypothesis deadline: speed is measured in bench/, never in a test, and a busy CI machine (or a second run beside
# this one) made single examples cross the 200 ms default and fail tests that were right.
settings.register_profile("invigil", deadline=None)
settings.load_profile("invigil")

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from sync.server.settings import ServerSettings
    from sync.server.store import Store
    from tests.helpers.live_server import LiveServer
    from tests.helpers.postgres import Cluster
    from tests.helpers.server import Demo, DemoTemplate
    from tests.helpers.tls import School, TlsFiles

# A run started in the background (bash's `cmd &` without job control, nohup, some CI runners) inherits Ctrl+C
# ignored, and every process the tests start would inherit that too: the tests that press Ctrl+C on the demo, the
# server and the frozen player would fail. A terminal gives the default, so the tests start from it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# pytest-qt aborts on a machine with no display unless this is set before Qt loads.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Qt's messages go to stderr with no Python handler (pytest-qt's crashed when a media thread logged meanwhile);
# QtMessageCheck below fails a test on a Qt warning, as pytest-qt's log capture did.
route_qt_messages_to_stderr()


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("qt_log"):
        raise pytest.UsageError(
            "Run with --no-qt-log (pyproject.toml adds it): pytest-qt's per-test Qt message handler crashes when one "
            "of Qt's media threads logs while it is swapped; tests/helpers/qt_messages.py checks Qt's messages."
        )
    config.pluginmanager.register(QtMessageCheck(config), "invigil_qt_messages")


@pytest.fixture(autouse=True, scope="session")
def _collect_garbage_on_the_main_thread_only() -> Iterator[None]:
    """As the app does (player/ui/garbage.py): a collection started by a worker thread could free Qt widgets
    there and crash the run, so automatic collection is off and the tests collect on the main thread instead.

    A full collection walks every live object: ~150,000 made by the imports before the first test, and by the end
    as many again that outlive tests (caches, fixtures). One after every test cost 0.1-0.3 s each, over a third of
    the suite's time. So the import-time objects are frozen out of all collections, and only Qt tests and the end
    of each module pay for a full collection (see below).
    """
    gc.disable()
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
    gc.enable()


class _Collections:
    young_only_since_full = False
    """True once a collection of the young generations alone has run since the last full one."""


@pytest.fixture(autouse=True, scope="module")
def _collect_after_each_module() -> Iterator[None]:
    """A full collection once the module's own fixtures are torn down (this one is set up before them)."""
    yield
    gc.collect()
    _Collections.young_only_since_full = False


@pytest.fixture(autouse=True)
def _collect_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test's garbage, collected before the next test starts.

    A test that does not use Qt made all its garbage in the young generations (nothing collects automatically),
    so collecting those frees it without walking what outlived earlier tests (caches, module and session
    fixtures); garbage tied to those older objects waits for the next full collection.

    A Qt test starts and ends with nothing left to collect, as with a full collection after every test: a window or
    timer left behind must not live into the next test (one looking through the top-level widgets would find it).
    """
    uses_qt = "qapp" in request.fixturenames
    if uses_qt and _Collections.young_only_since_full:
        gc.collect()
    yield
    if uses_qt:
        gc.collect()
        _Collections.young_only_since_full = False
    else:
        gc.collect(1)
        _Collections.young_only_since_full = True


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A school's own CA and a server certificate for 127.0.0.1 it signed (made once per run)."""
    from tests.helpers.tls import make_tls_files

    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_school(app: FastAPI, tls_files: TlsFiles) -> Iterator[School]:
    """The real app (the test's `app`) over TLS with `tls_files`, as at a school whose filter re-signs TLS."""
    from tests.helpers.tls import school_over_tls

    with school_over_tls(app, tls_files) as school:
        yield school


# ---- the real server ---------------------------------------------------------------------------------
# Imports of the server stay inside the fixtures, so a run of tests that never start it does not load it.


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The database engine this test's server uses: parametrized over tests.helpers.engines.ENGINES for the server
    suite, SQLite elsewhere."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole run, started on first use (tests/helpers/postgres.py)."""
    from tests.helpers.postgres import start_cluster

    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrations run once; each test copies the resulting file (a real, fully migrated database)."""
    from tests.helpers.server import migrate_template

    return migrate_template(tmp_path_factory.mktemp("template") / "template.db")


@pytest.fixture(scope="session")
def pg_migrated_template(pg_cluster: Cluster) -> str:
    """The PostgreSQL counterpart: a migrated database each test's database is copied from."""
    from sync.server.store import Store

    name = pg_cluster.new_database("migrated")
    Store.open(pg_cluster.url(name), migrate=True).close()
    return name


@pytest.fixture(scope="session")
def server_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture(scope="session")
def sqlite_demo_template(
    tmp_path_factory: pytest.TempPathFactory, migrated_template: Path, server_key: bytes
) -> DemoTemplate:
    """The demo seeded (and its admin signed in) once: argon2 hashing would otherwise cost ~0.5 s per test."""
    from tests.helpers.server import seed_demo_template

    path = tmp_path_factory.mktemp("demo-template") / "demo.db"
    shutil.copy(migrated_template, path)
    return seed_demo_template(f"sqlite:///{path}", server_key, path=path)


@pytest.fixture(scope="session")
def pg_demo_template(pg_cluster: Cluster, pg_migrated_template: str, server_key: bytes) -> DemoTemplate:
    from tests.helpers.server import seed_demo_template

    name = pg_cluster.new_database("demo", template=pg_migrated_template)
    return seed_demo_template(pg_cluster.url(name), server_key, database=name)


@pytest.fixture
def demo_template(request: pytest.FixtureRequest, engine: str) -> DemoTemplate:
    """The seeded demo for this test's engine."""
    template: DemoTemplate = request.getfixturevalue(
        "sqlite_demo_template" if engine == "sqlite" else "pg_demo_template"
    )
    return template


@pytest.fixture
def database_url(request: pytest.FixtureRequest, engine: str, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, copied from the migrated template (or the seeded demo when the test asks
    for `demo`): a file on SQLite, a database in the run's cluster on PostgreSQL."""
    wants_demo = "demo" in request.fixturenames
    if engine == "sqlite":
        path = tmp_path / "server.db"
        source = (
            request.getfixturevalue("demo_template").path
            if wants_demo
            else request.getfixturevalue("migrated_template")
        )
        shutil.copy(source, path)
        yield f"sqlite:///{path}"
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    template = (
        request.getfixturevalue("demo_template").database
        if wants_demo
        else request.getfixturevalue("pg_migrated_template")
    )
    name = cluster.new_database(template=template)
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture
def db_path(database_url: str) -> Path:
    """The SQLite file of a test that works on the file itself (such tests run on SQLite only)."""
    assert database_url.startswith("sqlite:///"), "a test that uses db_path runs on SQLite only"
    return Path(database_url.removeprefix("sqlite:///"))


@pytest.fixture
def settings(database_url: str, server_key: bytes) -> ServerSettings:
    from sync.server.settings import LoginLimits, ServerSettings

    return ServerSettings(
        database_url=database_url,
        secret_key=server_key,
        login_limits=LoginLimits(per_machine=10, per_address=100),
    )


@pytest.fixture
def store(settings: ServerSettings) -> Iterator[Store]:
    from sync.server.store import Store

    opened = Store.open(settings.database_url, migrate=False)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(settings: ServerSettings, store: Store, clock: FakeClock) -> FastAPI:
    from sync.server.app import create_app

    return create_app(settings, store=store, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def demo(store: Store, demo_template: DemoTemplate, clock: FakeClock) -> Demo:
    """The demo school, seeded at START (db_path copied it from the template)."""
    from tests.helpers.server import Demo

    assert clock() == START, "the demo is seeded at START; move the clock inside the test"
    return Demo(demo_template.data)


@pytest.fixture
def admin(client: TestClient, demo: Demo, demo_template: DemoTemplate) -> dict[str, str]:
    """The demo admin, signed in at START (the token is in the template, valid 12 h)."""
    return {"Authorization": f"Bearer {demo_template.admin_token}"}


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The real app under uvicorn on 127.0.0.1, port 0, believing no X-Forwarded-For (as `serve` by default);
    a test of a trusted proxy serves the app itself with tests.helpers.live_server.serve_app(forwarded_allow_ips=)."""
    from tests.helpers.live_server import LiveServer, serve_app

    with serve_app(app) as url:
        yield LiveServer(url=url)
