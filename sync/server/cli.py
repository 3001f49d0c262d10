"""`invigil-server`: set up, run and administer the central server from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import getpass
import ipaddress
import json
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync import accesscode, resultcode
from sync.server import accounts, code_intake, results, sittings
from sync.server.audit import Actor
from sync.server.bodylimit import ROUTE_NAMES, parse_override
from sync.server.crypto import Keyring
from sync.server.errors import ServiceError
from sync.server.models import Allocation, School, Student, utcnow
from sync.server.settings import ServerSettings, SettingsError, database_url, default_secret_path, load_secret
from sync.server.store import Store, StoreError
from sync.staff_protocol import REASON_KINDS

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

log = logging.getLogger(__name__)


class CliError(Exception):
    """A problem with what was asked on the command line."""


@dataclass
class Env:
    """What a command may touch: injected so tests own every side effect."""

    stdout: TextIO
    stderr: TextIO
    stdin: TextIO
    clock: Callable[[], datetime] = utcnow


def open_store(args: argparse.Namespace, *, create: bool) -> tuple[Store, ServerSettings]:
    """Open the database (closed again when the command ends, see `main`)."""
    url = database_url(args.db)
    secret_path = Path(args.secret_file) if args.secret_file else default_secret_path(url)
    if url.startswith("sqlite:///"):
        db_file = Path(url.removeprefix("sqlite:///"))
        if create:
            db_file.parent.mkdir(parents=True, exist_ok=True)
        elif not db_file.exists():
            # Opening a missing SQLite file would silently create an empty one.
            raise StoreError(f"There is no database at {db_file}. Run `invigil-server init` first (or check --db).")
    settings = ServerSettings(database_url=url, secret_key=load_secret(secret_path, create=create))
    store = Store.open(url, migrate=create)
    cleanup: ExitStack | None = getattr(args, "cleanup", None)
    if cleanup is not None:
        cleanup.callback(store.close)
    return store, settings


def parse_when(value: str) -> datetime:
    """ISO date-time; without an offset it is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date-time like 2027-03-01T09:00 (UTC)") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_body_limit(value: str) -> tuple[str, int]:
    try:
        return parse_override(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2027-07-31") from exc


def find_school(session: Session, ref: str) -> School:
    school = session.get(School, ref) or session.scalar(select(School).where(School.name == ref))
    if school is None:
        raise CliError(f"No school {ref!r} (by id or exact name). `invigil-server list-schools` shows them.")
    return school


def find_students(session: Session, school: School, unique_ids: Sequence[str]) -> list[Student]:
    found = []
    for uid in unique_ids:
        student = session.scalar(select(Student).where(Student.school_id == school.id, Student.unique_id == uid))
        if student is None:
            raise CliError(f"No student with unique ID {uid!r} in {school.name}.")
        found.append(student)
    return found


def emit(env: Env, args: argparse.Namespace, data: Any, text: str) -> None:
    env.stdout.write((json.dumps(data, indent=2, default=str) if getattr(args, "json", False) else text) + "\n")


# ---- commands ------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, env: Env) -> None:
    store, settings = open_store(args, create=True)
    store.close()
    env.stdout.write(f"Database ready: {settings.database_url}\n")


def trusted_proxies(value: str) -> list[str]:
    """`--forwarded-allow-ips`: comma-separated addresses or networks (or `*`) whose X-Forwarded-For is believed."""
    trusted = [part.strip() for part in value.split(",") if part.strip()]
    for part in trusted:
        if part == "*":
            continue
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError as exc:
            raise CliError(
                f"--forwarded-allow-ips: {part!r} is not an IP address or network (like 10.0.0.5 or 10.0.0.0/24). "
                "Name the address your reverse proxy connects from."
            ) from exc
    return trusted


def uvicorn_config(app: FastAPI, *, log_level: str, forwarded_allow_ips: Sequence[str]) -> uvicorn.Config:
    """uvicorn's settings for the app, with proxy headers believed only from `forwarded_allow_ips`.

    Both passed explicitly: left out, uvicorn believes X-Forwarded-For from 127.0.0.1 (so any local process
    could pick the address its failed logins count under), or from whatever FORWARDED_ALLOW_IPS says.
    """
    import uvicorn

    return uvicorn.Config(
        app,
        log_level=log_level,
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=list(forwarded_allow_ips),
    )


def cmd_serve(args: argparse.Namespace, env: Env) -> None:
    import uvicorn

    from sync.server.app import create_app

    trusted = trusted_proxies(args.forwarded_allow_ips)  # a typo is refused before anything is opened
    store, settings = open_store(args, create=args.migrate)
    settings = dataclasses.replace(settings, body_limits=settings.body_limits.overridden(args.max_body))
    app = create_app(settings, store=store, clock=env.clock)
    # Everything made so far (modules, routes, models) lives as long as the process: move it out of the cycle
    # collector's reach, so its full collections under load walk only request garbage (measured: a 10,000-result
    # upload had one 55-110 ms full collection; with this, ~40 ms of collection in all).
    gc.collect()
    gc.freeze()
    # Bind the socket here so `--port 0` works: the kernel picks a free port and the real one is printed.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it Nagle plus delayed ACKs add ~40 ms to every reply.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        raise CliError(f"Cannot listen on {args.host}:{args.port}: {exc.strerror}. Choose another --port.") from exc
    # Listening before the banner: a client that reads the URL may connect at once (queued until uvicorn accepts).
    sock.listen(2048)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    env.stdout.write(f"Invigil server on http://{shown}:{port}/api/v1/ (database {settings.database_url})\n")
    env.stdout.flush()
    server = uvicorn.Server(uvicorn_config(app, log_level=args.log_level, forwarded_allow_ips=trusted))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn has already shut down cleanly and re-raised Ctrl-C; a traceback would only alarm the operator.
        env.stdout.write("Invigil server stopped.\n")
    finally:
        sock.close()


def cmd_create_school(args: argparse.Namespace, env: Env) -> None:
    store, _ = open_store(args, create=False)
    with store.transaction() as session:
        school = accounts.create_school(session, name=args.name)
        emit(env, args, {"id": school.id, "name": school.name}, f"Created school {school.name}: {school.id}")


def cmd_list_schools(args: argparse.Namespace, env: Env) -> None:
    store, _ = open_store(args, create=False)
    with store.transaction() as session:
        rows = list(session.scalars(select(School).order_by(School.name)))
        emit(env, args, [{"id": s.id, "name": s.name} for s in rows], "\n".join(f"{s.id}  {s.name}" for s in rows))


def read_password(args: argparse.Namespace, env: Env) -> str:
    if args.password_stdin:
        return env.stdin.readline().rstrip("\n")
    if not env.stdin.isatty():
        raise CliError("Give the password with --password-stdin (it is never taken as an argument).")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise CliError("The two passwords differ; nothing was created.")
    return first


def cmd_add_staff(args: argparse.Namespace, env: Env) -> None:
    store, _ = open_store(args, create=False)
    password = read_password(args, env)
    with store.transaction() as session:
        school = find_school(session, args.school)
        staff = accounts.add_staff(
            session,
            school_id=school.id,
            username=args.username,
            password=password,
            role=args.role,
            display_name=args.name or "",
        )
        emit(env, args, {"id": staff.id, "username": staff.username}, f"Added {staff.role} {staff.username}")


def cmd_add_student(args: argparse.Namespace, env: Env) -> None:
    store, _ = open_store(args, create=False)
    with store.transaction() as session:
        school = find_school(session, args.school)
        student = accounts.add_student(
            session,
            Actor.cli(school.id, now=env.clock()),
            unique_id=args.unique_id,
            first_name=args.first_name,
            last_name=args.last_name,
            date_of_birth=args.date_of_birth,
            groups=args.group,
            extra_time_percent=args.extra_time,
        )
        emit(env, args, {"id": student.id}, f"Added {student.display_name} ({student.unique_id}): {student.id}")


def cmd_grant_credits(args: argparse.Namespace, env: Env) -> None:
    store, _ = open_store(args, create=False)
    with store.transaction() as session:
        school = find_school(session, args.school)
        credit = accounts.grant_credits(
            session,
            Actor.cli(school.id, now=env.clock()),
            package_id=args.assessment,
            amount=args.amount,
            expires_on=args.expires,
        )
        expiry = f", service until {credit.expires_on}" if credit.expires_on else ""
        emit(
            env,
            args,
            {"package_id": credit.package_id, "balance": credit.balance},
            f"{school.name}: {credit.balance} credits for {credit.package_id}{expiry}",
        )


def cmd_load_assessment(args: argparse.Namespace, env: Env) -> None:
    store, _ = open_store(args, create=False)
    with store.transaction() as session:
        assessment, new = sittings.load_assessment(session, Path(args.path))
        verb = "Loaded" if new else "Already loaded"
        emit(
            env,
            args,
            {"id": assessment.id, "package_id": assessment.package_id, "version": assessment.version},
            f"{verb} {assessment.title} ({assessment.package_id} {assessment.version}): {assessment.id}",
        )


def _code_rows(issued: list[sittings.IssuedCode]) -> list[dict[str, str]]:
    return [
        {
            "student": c.allocation.student.display_name,
            "unique_id": c.allocation.student.unique_id,
            "access_code": accesscode.display(c.code),
        }
        for c in issued
    ]


def cmd_create_sitting(args: argparse.Namespace, env: Env) -> None:
    store, settings = open_store(args, create=False)
    with store.transaction() as session:
        school = find_school(session, args.school)
        if args.all_students:
            students = [s for s in accounts.list_students(session, Actor.cli(school.id, now=env.clock())) if s.active]
        else:
            students = find_students(session, school, args.student)
        sitting, issued = sittings.create_sitting(
            session,
            Actor.cli(school.id, now=env.clock()),
            Keyring(settings.secret_key),
            assessment_ref=args.assessment,
            name=args.name,
            window_start=args.start,
            window_end=args.end,
            student_ids=[s.id for s in students],
            now=env.clock(),
        )
        rows = _code_rows(issued)
        text = f"Created sitting {sitting.name}: {sitting.id}\n" + "\n".join(
            f"  {r['access_code']}  {r['student']} ({r['unique_id']})" for r in rows
        )
        emit(env, args, {"id": sitting.id, "codes": rows}, text)


def cmd_list_codes(args: argparse.Namespace, env: Env) -> None:
    store, settings = open_store(args, create=False)
    with store.transaction() as session:
        school = find_school(session, args.school)
        slips = sittings.list_codes(
            session, Actor.cli(school.id, now=env.clock()), Keyring(settings.secret_key), args.sitting
        )
        rows = [
            {"student": s.student_name, "unique_id": s.unique_id, "access_code": s.code, "state": s.state}
            for s in slips
        ]
        emit(
            env,
            args,
            rows,
            "\n".join(f"{r['access_code']}  {r['student']} ({r['unique_id']})  {r['state']}" for r in rows),
        )


def cmd_close_sitting(args: argparse.Namespace, env: Env) -> None:
    store, _ = open_store(args, create=False)
    with store.transaction() as session:
        school = find_school(session, args.school)
        sitting = sittings.close_sitting(session, Actor.cli(school.id, now=env.clock()), args.sitting, now=env.clock())
        refunded = sum(a.credit_refunded for a in sitting.allocations)
        extended = sum(a.extended_until is not None for a in sitting.allocations)
        emit(
            env,
            args,
            {"id": sitting.id, "refunded": refunded, "extended": extended},
            f"Closed {sitting.name}: {refunded} credits returned, {extended} students given 30 more days.",
        )


def cmd_release_code(args: argparse.Namespace, env: Env) -> None:
    if args.reason_kind == "other" and not args.reason.strip():
        raise CliError('With --reason-kind other, say what happened with --reason "...".')
    store, settings = open_store(args, create=False)
    with store.transaction() as session:
        try:
            code = accesscode.normalize(args.code)
        except accesscode.AccessCodeFormatError as exc:
            raise CliError(str(exc)) from exc
        allocation = session.scalar(
            select(Allocation).where(Allocation.code_lookup == Keyring(settings.secret_key).code_lookup(code))
        )
        if allocation is None:
            raise CliError(f"No allocation has the code {accesscode.display(code)}.")
        actor = Actor.cli(allocation.sitting.school_id, now=env.clock())
        sittings.release_code(session, actor, allocation.id, reason_kind=args.reason_kind, reason=args.reason)
        emit(
            env,
            args,
            {"allocation_id": allocation.id},
            f"Released {allocation.student.display_name}'s code: the next computer to use it resumes the test.",
        )


def cmd_remark(args: argparse.Namespace, env: Env) -> None:
    store, _ = open_store(args, create=False)
    with store.transaction() as session:
        remarked = results.remark(session, now=env.clock(), result_id=args.result)
        if args.result and not remarked:
            raise CliError(f"No result {args.result}.")
        rows = [{"id": r.id, "status": r.status, "error": r.error} for r in remarked]
        failed = [r for r in rows if r["status"] != "marked"]
        emit(
            env,
            args,
            rows,
            f"Marked {len(rows) - len(failed)} of {len(rows)} results."
            + "".join(f"\n  {r['id']}: {r['error']}" for r in failed),
        )
        if failed:
            raise CliError(f"{len(failed)} results could not be marked (see above).")


def read_code(args: argparse.Namespace, env: Env) -> str:
    """The code from the file or stdin, read no further than one character past the longest possible code
    (a wrong file of gigabytes is refused without reading it; the codec names what is wrong)."""
    limit = resultcode.MAX_TEXT_LENGTH + 1
    if args.file in (None, "-"):
        return env.stdin.read(limit)
    path = Path(args.file)
    try:
        with path.open(encoding="utf-8") as saved:
            return saved.read(limit)
    except FileNotFoundError as exc:
        raise CliError(f"There is no file {path}. Give the file the result code was saved to, or - for stdin.") from exc
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{path} is not a text file, so it is not a saved result code: give the file the code was saved to."
        ) from exc
    except OSError as exc:
        raise CliError(f"Cannot read a result code from {path}: {exc}. Save the code as plain text and retry.") from exc


def cmd_submit_code(args: argparse.Namespace, env: Env) -> None:
    store, settings = open_store(args, create=False)
    code = read_code(args, env)
    keyring = Keyring(settings.secret_key)
    try:
        with store.transaction() as session:
            receipt = code_intake.submit_code(session, keyring, code, now=env.clock(), actor=None)
    except IntegrityError:
        # A worker stored the same envelope at the same moment; submitting again answers as a repeat.
        with store.transaction() as session:
            receipt = code_intake.submit_code(session, keyring, code, now=env.clock(), actor=None)
    outcome = "already received: nothing changed" if receipt.duplicate else "new"
    sections = ", ".join(receipt.section_ids) or "none"
    emit(
        env,
        args,
        receipt.model_dump(mode="json"),
        f"Stored the result of {receipt.student_name} ({receipt.sitting_name}), sections {sections}: {outcome}",
    )


def cmd_demo_seed(args: argparse.Namespace, env: Env) -> None:
    from sync.server.demo import seed

    store, settings = open_store(args, create=True)
    with store.transaction() as session:
        data = seed(session, Keyring(settings.secret_key), now=env.clock(), host=args.host, port=args.port)
    if args.json:
        env.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    env.stdout.write(f"Demo school: {data['school']['name']}\n")
    env.stdout.write(f"Staff sign-in: {data['staff']['username']} / {data['staff']['password']}\n")
    env.stdout.write(f"Sitting: {data['sitting']['name']} (open until {data['sitting']['window_end']})\n")
    for student in data["students"]:
        env.stdout.write(f"  {student['access_code']}  {student['name']}\n")


# ---- parser --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="invigil-server", description=__doc__)
    # --db and --secret-file work before or after the command; SUPPRESS keeps a later default from undoing an earlier value.
    db_help = "database file or SQLAlchemy URL (default: the platform data dir; env INVIGIL_SERVER_DB)"
    key_file_help = "the server key file (default: beside an SQLite database; env INVIGIL_SERVER_SECRET_FILE)"
    parser.add_argument("--db", help=db_help)
    parser.add_argument("--secret-file", help=key_file_help)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help=db_help, default=argparse.SUPPRESS)
    common.add_argument("--secret-file", help=key_file_help, default=argparse.SUPPRESS)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace, Env], None], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    add("init", cmd_init, "create or upgrade the database and the key file")
    p = add("serve", cmd_serve, "run the HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free port, printed at start)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--migrate", action="store_true", help="create or upgrade the database first")
    p.add_argument(
        "--forwarded-allow-ips",
        default="",
        metavar="IPS",
        help="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For header gives the "
        "client's address (default: none; the connecting address counts). See docs/server.md",
    )
    p.add_argument(
        "--max-body",
        type=parse_body_limit,
        action="append",
        default=[],
        metavar="ROUTE=SIZE",
        help=f"largest request body for ROUTE ({', '.join(ROUTE_NAMES)}), e.g. results=8MB; repeatable "
        "(defaults in docs/server.md)",
    )
    p = add("create-school", cmd_create_school, "add a school")
    p.add_argument("name")
    add("list-schools", cmd_list_schools, "list schools and their ids")
    p = add("add-staff", cmd_add_staff, "add a staff login (password from a prompt or --password-stdin)")
    p.add_argument("--school", required=True, help="school id or exact name")
    p.add_argument("--username", required=True)
    p.add_argument("--role", required=True, choices=accounts.ROLES)
    p.add_argument("--name", help="display name")
    p.add_argument("--password-stdin", action="store_true")
    p = add("add-student", cmd_add_student, "add a student")
    p.add_argument("--school", required=True)
    p.add_argument("--unique-id", required=True, help="unique per school, at most 100 characters (e.g. the UPN)")
    p.add_argument("--first-name", required=True)
    p.add_argument("--last-name", required=True)
    p.add_argument("--date-of-birth", type=parse_day)
    p.add_argument("--group", action="append", default=[])
    p.add_argument("--extra-time", type=int, default=0, help="extra time in percent")
    p = add("grant-credits", cmd_grant_credits, "give a school credits for an assessment")
    p.add_argument("--school", required=True)
    p.add_argument("--assessment", required=True, help="the assessment's package id")
    p.add_argument("--amount", type=int, required=True)
    p.add_argument("--expires", type=parse_day, help="service expiry date (YYYY-MM-DD)")
    p = add("load-assessment", cmd_load_assessment, "validate and store a content package (folder or zip)")
    p.add_argument("path")
    p = add("create-sitting", cmd_create_sitting, "create a sitting and print its access codes")
    p.add_argument("--school", required=True)
    p.add_argument("--assessment", required=True, help="assessment id, package id or package_id@version")
    p.add_argument("--name", required=True)
    p.add_argument("--start", type=parse_when, required=True, help="window start, ISO date-time (UTC unless offset)")
    p.add_argument("--end", type=parse_when, required=True, help="window end, ISO date-time (UTC unless offset)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--student", action="append", help="a student's unique ID (repeat)")
    who.add_argument("--all-students", action="store_true")
    p = add("list-codes", cmd_list_codes, "print a sitting's access codes (for slips)")
    p.add_argument("--school", required=True)
    p.add_argument("--sitting", required=True)
    p = add(
        "close-sitting", cmd_close_sitting, "close a sitting now: refund unstarted credits, extend part-way students"
    )
    p.add_argument("--school", required=True)
    p.add_argument("--sitting", required=True)
    p = add("release-code", cmd_release_code, "let a student's attempt continue on another computer")
    p.add_argument("code", help="the student's access code")
    p.add_argument(
        "--reason-kind",
        choices=REASON_KINDS,
        default="moved_machine",
        help="why, from the short list (kept in the log)",
    )
    p.add_argument("--reason", default="", help="why, in words (kept in the log; needed with --reason-kind other)")
    p = add("remark", cmd_remark, "mark again every result whose marking failed (or one by --result)")
    p.add_argument("--result")
    p = add("submit-code", cmd_submit_code, "store the results in a result code (from a file, or stdin)")
    p.add_argument("file", nargs="?", metavar="FILE", help="a file holding the code; omitted or - reads stdin")
    p = add("demo-seed", cmd_demo_seed, "create a demo school, staff login, students, credits and an open sitting")
    p.add_argument("--host", default="127.0.0.1", help="host the demo server will listen on (for the printed URL)")
    p.add_argument("--port", type=int, default=8765)
    return parser


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    env = env or Env(stdout=sys.stdout, stderr=sys.stderr, stdin=sys.stdin)
    try:
        # Usage errors and --help go to the injected streams too (argparse writes to sys.* and exits).
        with redirect_stdout(env.stdout), redirect_stderr(env.stderr):
            args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        with ExitStack() as args.cleanup:
            args.func(args, env)
    except (ServiceError, SettingsError, StoreError, CliError) as exc:
        env.stderr.write(f"invigil-server {args.command}: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
