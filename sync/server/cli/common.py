"""What every command shares: the injected streams, opening the store and finding the school, output."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from sync.error_catalogue import Problem, problem
from sync.server.bodylimit import parse_override
from sync.server.db_failures import describe_failure
from sync.server.models import School, Student, utcnow
from sync.server.settings import (
    DB_ENV,
    ServerSettings,
    SettingsError,
    database_url,
    default_secret_path,
    load_secret,
    sqlite_url_names_no_file,
)
from sync.server.store import Store, StoreError

MAX_WORKERS = 64
"""More processes than this would mostly wait on the database (each holds its own pool of connections)."""


class CliError(Exception):
    """A problem with what was asked on the command line; `key` is its entry in the error catalogue (server_cli.*,
    8xxx), whose number is printed after the message."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key

    @property
    def problem(self) -> Problem:
        return problem(self.key, str(self))


@dataclass
class Env:
    """What a command may touch: injected so tests own every side effect."""

    stdout: TextIO
    stderr: TextIO
    stdin: TextIO
    clock: Callable[[], datetime] = utcnow


def locate_database(args: argparse.Namespace) -> tuple[str, Path]:
    """The database URL and the key file a command was given (or their defaults); nothing is opened."""
    try:
        url = database_url(args.db)
    except SettingsError as exc:
        raise CliError(str(exc), key="server_cli.bad_db") from exc
    try:
        secret_path = Path(args.secret_file) if args.secret_file else default_secret_path(url)
    except SettingsError as exc:
        raise CliError(str(exc), key="server_cli.secret_file") from exc
    return url, secret_path.expanduser().resolve()


def open_store(args: argparse.Namespace, *, create: bool) -> tuple[Store, ServerSettings]:
    """Open the database (closed again when the command ends, see `main`)."""
    url, secret_path = locate_database(args)
    if url.startswith("sqlite:///"):
        db_file = Path(url.removeprefix("sqlite:///"))
        if create:
            try:
                db_file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CliError(
                    f"Cannot make the folder {db_file.parent} for the database: {exc.strerror}. "
                    "Choose a --db path this user may write to.",
                    key="server_cli.db_folder",
                ) from exc
        elif not db_file.exists():
            # Opening a missing SQLite file would silently create an empty one.
            raise CliError(
                f"There is no database at {db_file}. Run `invigil-server init` first (or check --db).",
                key="server_cli.no_database",
            )
    try:
        settings = ServerSettings(database_url=url, secret_key=load_secret(secret_path, create=create))
    except SettingsError as exc:
        raise CliError(str(exc), key="server_cli.secret_file") from exc
    try:
        store = Store.open(url, migrate=create)
    except DBAPIError as exc:
        # The driver's error as a paragraph to act on (which database, why, what to check), not a traceback.
        given_as = "--db" if args.db else DB_ENV
        raise CliError(describe_failure(url, exc, given_as=given_as), key="server_cli.database_unreachable") from exc
    except StoreError as exc:
        raise CliError(str(exc), key="server_cli.database_not_ready") from exc
    cleanup: ExitStack | None = getattr(args, "cleanup", None)
    if cleanup is not None:
        cleanup.callback(store.close)
    return store, settings


def parse_workers(value: str) -> int:
    """`serve --workers N`: how many server processes share the listening socket."""
    try:
        count = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a number of worker processes: give a whole number from 1 to {MAX_WORKERS}"
        ) from exc
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"{count} worker processes: give 1 to {MAX_WORKERS} (one per CPU core is a good start)"
        )
    return count


def parse_db(value: str) -> str:
    """`--db`: refused here when it names no file. Empty (often an unset variable) would quietly mean the default
    database, and an SQLite URL without a path (`sqlite://`, `sqlite:///`, `sqlite:///:memory:`) a database that
    vanishes when the command ends; both also failed deep inside with a traceback."""
    if not value.strip():
        raise argparse.ArgumentTypeError(
            "'' is not a database: give the database file's path (like /var/lib/invigil-server/invigil.db) or a "
            "PostgreSQL URL, or leave --db out for the default database"
        )
    if sqlite_url_names_no_file(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} names no SQLite file: give the file's path (like /var/lib/invigil-server/invigil.db, "
            "or sqlite:////var/lib/invigil-server/invigil.db)"
        )
    return value


def parse_secret_file(value: str) -> str:
    """`--secret-file`: empty would quietly mean the default key file beside the database."""
    if not value.strip():
        raise argparse.ArgumentTypeError(
            "'' is not a key file: give the server key file's path, or leave --secret-file out for the file "
            "beside an SQLite database"
        )
    return value


def parse_when(value: str) -> datetime:
    """ISO date-time; without an offset it is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date-time like 2027-03-01T09:00 (UTC)") from exc
    except OverflowError as exc:  # its offset moves it past year 9999 or before year 1 in UTC
        raise argparse.ArgumentTypeError(
            f"{value!r} is outside the years 1 to 9999 in UTC: give a date-time like 2027-03-01T09:00 (UTC)"
        ) from exc


def parse_body_limit(value: str) -> tuple[str, int]:
    try:
        return parse_override(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    except OverflowError as exc:  # a size of hundreds of digits is infinite as a float
        size = value.partition("=")[2].strip()
        raise argparse.ArgumentTypeError(f"a body limit must be between 1 KB and 1 GB, not {size[:20]}...") from exc


def whole_number(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high` (argparse names the option; `what` says what it
    counts), so a value out of range is a usage error here rather than a traceback from the socket or the
    database (an int too large for SQLite, a port past 65535)."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            shown = value if len(value) <= 20 else value[:20] + "..."
            raise argparse.ArgumentTypeError(f"{shown!r} is not {what}: give a whole number from {low} to {high}")
        return number

    parse.__name__ = what  # argparse's own fallback message names the type by it
    return parse


parse_port = whole_number(0, 65535, "a TCP port (0: any free port)")
parse_credits = whole_number(0, 1_000_000, "a number of credits")


def parse_host(value: str) -> str:
    """`--host`: the address to listen on. An empty one (often an unset variable in INVIGIL_SERVE_ARGS) would
    quietly mean every interface, and no address has spaces; whether it is this computer's is known at bind."""
    if not value.strip() or any(c.isspace() for c in value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an address to listen on: give one of this computer's addresses or names, like "
            "127.0.0.1 (this computer only), 0.0.0.0 (every network interface) or ::1"
        )
    return value


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2027-07-31") from exc


def find_school(session: Session, ref: str) -> School:
    school = session.get(School, ref) or session.scalar(select(School).where(School.name == ref))
    if school is None:
        raise CliError(
            f"No school {ref!r} (by id or exact name). `invigil-server list-schools` shows them.",
            key="server_cli.unknown_school",
        )
    return school


@dataclass(frozen=True)
class SchoolStore:
    """The opened store and the school a command names with --school (by id or exact name)."""

    store: Store
    settings: ServerSettings
    school_ref: str

    @contextmanager
    def transaction(self) -> Iterator[tuple[Session, School]]:
        """One transaction with the school found in it; an unknown school is refused before anything is written."""
        with self.store.transaction() as session:
            yield session, find_school(session, self.school_ref)


def open_school(args: argparse.Namespace) -> SchoolStore:
    """Open the store for a command that acts for one school (`args.school`); the school is looked up in each
    transaction, so every command refuses an unknown one with the same message."""
    store, settings = open_store(args, create=False)
    return SchoolStore(store=store, settings=settings, school_ref=args.school)


def find_students(session: Session, school: School, unique_ids: Sequence[str]) -> list[Student]:
    found = []
    for uid in unique_ids:
        student = session.scalar(select(Student).where(Student.school_id == school.id, Student.unique_id == uid))
        if student is None:
            raise CliError(f"No student with unique ID {uid!r} in {school.name}.", key="server_cli.unknown_student")
        found.append(student)
    return found


def emit(env: Env, args: argparse.Namespace, data: Any, text: str) -> None:
    env.stdout.write((json.dumps(data, indent=2, default=str) if getattr(args, "json", False) else text) + "\n")
