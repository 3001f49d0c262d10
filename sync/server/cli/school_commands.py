"""Commands that set a school up: schools, staff logins, students and credits."""

from __future__ import annotations

import argparse
import getpass

from sqlalchemy import select

from sync.server import accounts
from sync.server.audit import Actor
from sync.server.cli.common import CliError, Env, emit, open_school, open_store
from sync.server.models import School


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
        raise CliError(
            "Give the password with --password-stdin (it is never taken as an argument).", key="server_cli.password"
        )
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise CliError("The two passwords differ; nothing was created.", key="server_cli.password")
    return first


def cmd_add_staff(args: argparse.Namespace, env: Env) -> None:
    school_store = open_school(args)
    password = read_password(args, env)
    with school_store.transaction() as (session, school):
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
    school_store = open_school(args)
    with school_store.transaction() as (session, school):
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
    school_store = open_school(args)
    with school_store.transaction() as (session, school):
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
