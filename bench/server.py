"""A real server in its own process, on a bench school seeded through the server's own functions."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from resources import demo_assessment_path
from sync import accesscode
from sync.server import accounts, sittings
from sync.server.audit import Actor
from sync.server.crypto import Keyring
from sync.server.settings import default_secret_path, load_secret
from sync.server.store import Store

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 30.0
BANNER = "Invigil server on "


ROOT = Path(__file__).resolve().parents[1]
"""This checkout: the server processes import it (PYTHONPATH), not whichever checkout the venv was installed from."""


@dataclass(frozen=True)
class BenchSchool:
    db_path: Path | str
    """An SQLite file, or a database URL (PostgreSQL)."""
    codes: list[str]
    sitting_id: str
    secret_file: Path | None = None
    """The key file, when it is not the default beside an SQLite file."""


def database_url(db: Path | str) -> str:
    return db if isinstance(db, str) else f"sqlite:///{db}"


def seed_school(db_path: Path | str, *, students: int, secret_file: Path | None = None) -> BenchSchool:
    """A migrated database with one school, `students` students, credits and one sitting open for hours.

    `db_path`: an SQLite file or a database URL; `secret_file`: the key file (needed for a URL)."""
    url = database_url(db_path)
    key = load_secret(secret_file or default_secret_path(url), create=True)
    store = Store.open(url, migrate=True)
    now = datetime.now(UTC)
    try:
        with store.transaction() as session:
            school = accounts.create_school(session, name="Bench School")
            actor = Actor.cli(school.id, now=now)
            assessment, _ = sittings.load_assessment(session, demo_assessment_path())
            accounts.grant_credits(
                session,
                actor,
                package_id=assessment.package_id,
                amount=students,
                expires_on=(now + timedelta(days=30)).date(),
            )
            ids = [
                accounts.add_student(
                    session, actor, unique_id=f"B{n:05d}", first_name="Bench", last_name=f"Student {n}"
                ).id
                for n in range(students)
            ]
            sitting, issued = sittings.create_sitting(
                session,
                actor,
                Keyring(key),
                assessment_ref=assessment.id,
                name="Bench sitting",
                window_start=now - timedelta(minutes=5),
                window_end=now + timedelta(hours=6),
                student_ids=ids,
                now=now,
            )
            codes = [accesscode.display(c.code) for c in issued]
            sitting_id = sitting.id
    finally:
        store.close()
    return BenchSchool(db_path=db_path, codes=codes, sitting_id=sitting_id, secret_file=secret_file)


class ServerProcess:
    """`invigil-server serve --port 0` as a child process; the URL is read from its banner.

    `workers`: `serve --workers N` (uvicorn's worker processes on one socket; PostgreSQL only), or None for the
    plain single-process server."""

    def __init__(self, db_path: Path | str, *, secret_file: Path | None = None, workers: int | None = None) -> None:
        argv = [sys.executable, "-m", "sync.server", "--db", str(db_path)]
        if secret_file is not None:
            argv += ["--secret-file", str(secret_file)]
        argv += ["serve", "--port", "0", "--log-level", "error"]
        if workers is not None:
            argv += ["--workers", str(workers)]
        self._process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
            cwd=ROOT,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if BANNER not in line:
            self.close()
            raise RuntimeError(f"the bench server did not start (first line of its output: {line!r})")
        # "Invigil server on http://127.0.0.1:PORT/api/v1/ (database ...)": the client wants the origin.
        self.url = line.split(BANNER, 1)[1].split("/api/v1/", 1)[0]
        self.pid = self._process.pid

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
