"""Commands for assessments and sittings: loading a package, creating and closing sittings, access codes."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import select

from sync import accesscode
from sync.server import accounts, sittings
from sync.server.audit import Actor
from sync.server.cli.common import CliError, Env, emit, find_students, open_school, open_store
from sync.server.crypto import Keyring
from sync.server.models import Allocation


def cmd_load_assessment(args: argparse.Namespace, env: Env) -> None:
    store, _ = open_store(args, create=False)
    with store.transaction() as session:
        assessment, new = sittings.load_assessment(
            session, Path(args.path), untimed_section_minutes=args.untimed_section_minutes
        )
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
    school_store = open_school(args)
    with school_store.transaction() as (session, school):
        if args.all_students:
            students = [s for s in accounts.list_students(session, Actor.cli(school.id, now=env.clock())) if s.active]
        else:
            students = find_students(session, school, args.student)
        sitting, issued = sittings.create_sitting(
            session,
            Actor.cli(school.id, now=env.clock()),
            Keyring(school_store.settings.secret_key),
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
    school_store = open_school(args)
    with school_store.transaction() as (session, school):
        slips = sittings.list_codes(
            session, Actor.cli(school.id, now=env.clock()), Keyring(school_store.settings.secret_key), args.sitting
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
    school_store = open_school(args)
    with school_store.transaction() as (session, school):
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
        raise CliError(
            'With --reason-kind other, say what happened with --reason "...".', key="server_cli.release_reason"
        )
    store, settings = open_store(args, create=False)
    with store.transaction() as session:
        try:
            code = accesscode.normalize(args.code)
        except accesscode.AccessCodeFormatError as exc:
            raise CliError(str(exc), key="server_cli.unknown_code") from exc
        allocation = session.scalar(
            select(Allocation).where(Allocation.code_lookup == Keyring(settings.secret_key).code_lookup(code))
        )
        if allocation is None:
            raise CliError(f"No allocation has the code {accesscode.display(code)}.", key="server_cli.unknown_code")
        actor = Actor.cli(allocation.sitting.school_id, now=env.clock())
        sittings.release_code(session, actor, allocation.id, reason_kind=args.reason_kind, reason=args.reason)
        emit(
            env,
            args,
            {"allocation_id": allocation.id},
            f"Released {allocation.student.display_name}'s code: the next computer to use it resumes the test.",
        )
