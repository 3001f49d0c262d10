"""`invigil-server`: set up, run and administer the central server from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from typing import NoReturn

from sync.error_catalogue import Problem, api_number, number_for, problem
from sync.server import accounts
from sync.server.bodylimit import ROUTE_NAMES
from sync.server.cli.common import (
    MAX_WORKERS,
    CliError,
    Env,
    parse_body_limit,
    parse_credits,
    parse_day,
    parse_db,
    parse_host,
    parse_port,
    parse_secret_file,
    parse_when,
    parse_workers,
    whole_number,
)
from sync.server.cli.content_commands import register_content_commands
from sync.server.cli.result_commands import cmd_remark, cmd_submit_code
from sync.server.cli.school_commands import (
    cmd_add_staff,
    cmd_add_student,
    cmd_create_school,
    cmd_grant_credits,
    cmd_list_schools,
)
from sync.server.cli.server_commands import cmd_demo_seed, cmd_init, cmd_serve
from sync.server.cli.sitting_commands import (
    cmd_close_sitting,
    cmd_create_sitting,
    cmd_list_codes,
    cmd_load_assessment,
    cmd_release_code,
)
from sync.server.errors import ServiceError
from sync.server.settings import SettingsError
from sync.server.store import StoreError
from sync.staff_protocol import MAX_UNTIMED_SECTION_MINUTES, REASONS_FOR
from sync.version import VERSION

__all__ = ["CliError", "Env", "build_parser", "main"]


class NumberedParser(argparse.ArgumentParser):
    """argparse, with the catalogue number after its refusal ("invigil-server serve: error: ... (INV-8001)"); the
    subcommands' parsers are of this class too (add_subparsers makes them of the parser's own class)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {problem('server_cli.usage', message)}\n")


def cli_problem(exc: Exception) -> Problem:
    """A refusal as the command prints it, numbered: a CliError's own entry, a service refusal's (the API's
    number for the same refusal), else the catch-all entry for the server's settings and database."""
    if isinstance(exc, CliError):
        return exc.problem
    if isinstance(exc, ServiceError):
        return Problem(str(exc), api_number(exc.error) or number_for("server_cli.failed"))
    return problem("server_cli.failed", str(exc))


def build_parser() -> argparse.ArgumentParser:
    parser = NumberedParser(prog="invigil-server", description=__doc__)
    parser.add_argument("--version", action="version", version=f"invigil-server {VERSION}")
    # --db and --secret-file work before or after the command; SUPPRESS keeps a later default from undoing an earlier value.
    db_help = "database file or SQLAlchemy URL (default: the platform data dir; env INVIGIL_SERVER_DB)"
    key_file_help = "the server key file (default: beside an SQLite database; env INVIGIL_SERVER_SECRET_FILE)"
    parser.add_argument("--db", type=parse_db, help=db_help)
    parser.add_argument("--secret-file", type=parse_secret_file, help=key_file_help)
    common = NumberedParser(add_help=False)
    common.add_argument("--db", type=parse_db, help=db_help, default=argparse.SUPPRESS)
    common.add_argument("--secret-file", type=parse_secret_file, help=key_file_help, default=argparse.SUPPRESS)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace, Env], None], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    add("init", cmd_init, "create or upgrade the database and the key file")
    p = add("serve", cmd_serve, "run the HTTP API")
    p.add_argument(
        "--host",
        type=parse_host,
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this computer only; 0.0.0.0: every network interface)",
    )
    p.add_argument(
        "--port", type=parse_port, default=8765, help="port to listen on (0: any free port, printed at start)"
    )
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--migrate", action="store_true", help="create or upgrade the database first")
    p.add_argument(
        "--workers",
        type=parse_workers,
        default=1,
        metavar="N",
        help=f"server processes sharing the port (1 to {MAX_WORKERS}, default 1); more than one needs PostgreSQL",
    )
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
    p.add_argument(
        "--content-uploads",
        action="store_true",
        help="let school admins load content packages through the staff API and console (default: off; "
        "assessments are shared by every school on the server, see docs/server.md)",
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
    p.add_argument("--amount", type=parse_credits, required=True, help="credits to add (0 to 1000000)")
    p.add_argument("--expires", type=parse_day, help="service expiry date (YYYY-MM-DD)")
    p = add("load-assessment", cmd_load_assessment, "validate and store a content package (folder or zip)")
    p.add_argument("path")
    p.add_argument(
        "--untimed-section-minutes",
        type=whole_number(1, MAX_UNTIMED_SECTION_MINUTES, "a number of minutes"),
        metavar="N",
        help="QTI packages: minutes for each section without timeLimits (without it such a package is refused)",
    )
    register_content_commands(add)
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
        choices=REASONS_FOR["release"],
        default="moved_machine",
        help="why, from the short list (kept in the log)",
    )
    p.add_argument("--reason", default="", help="why, in words (kept in the log; needed with --reason-kind other)")
    p = add("remark", cmd_remark, "mark again every result whose marking failed (or one by --result)")
    p.add_argument("--result")
    p = add("submit-code", cmd_submit_code, "store the results in a result code (from a file, or stdin)")
    p.add_argument("file", nargs="?", metavar="FILE", help="a file holding the code; omitted or - reads stdin")
    p = add("demo-seed", cmd_demo_seed, "create a demo school, staff login, students, credits and an open sitting")
    p.add_argument(
        "--host", type=parse_host, default="127.0.0.1", help="host the demo server will listen on (for the printed URL)"
    )
    p.add_argument("--port", type=parse_port, default=8765, help="port the demo server will listen on (0 to 65535)")
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
        env.stderr.write(f"invigil-server {args.command}: {cli_problem(exc)}\n")
        return 1
    return 0
