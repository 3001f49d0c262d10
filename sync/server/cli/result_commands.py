"""Commands for results: marking again and storing a result code brought in by hand."""

from __future__ import annotations

import argparse
from pathlib import Path

from sync import resultcode
from sync.server import code_intake, results
from sync.server.cli.common import CliError, Env, emit, open_store
from sync.server.crypto import Keyring
from sync.server.store import retry_on_race
from sync.staff_protocol import ResultCodeReceipt


def cmd_remark(args: argparse.Namespace, env: Env) -> None:
    store, _ = open_store(args, create=False)
    with store.transaction() as session:
        remarked = results.remark(session, now=env.clock(), result_id=args.result)
        if args.result and not remarked:
            raise CliError(f"No result {args.result}.", key="server_cli.unknown_result")
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
            raise CliError(f"{len(failed)} results could not be marked (see above).", key="server_cli.remark_failed")


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
        raise CliError(
            f"There is no file {path}. Give the file the result code was saved to, or - for stdin.",
            key="server_cli.code_file",
        ) from exc
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{path} is not a text file, so it is not a saved result code: give the file the code was saved to.",
            key="server_cli.code_file",
        ) from exc
    except OSError as exc:
        raise CliError(
            f"Cannot read a result code from {path}: {exc}. Save the code as plain text and retry.",
            key="server_cli.code_file",
        ) from exc


def cmd_submit_code(args: argparse.Namespace, env: Env) -> None:
    store, settings = open_store(args, create=False)
    code = read_code(args, env)
    keyring = Keyring(settings.secret_key)

    def submit() -> ResultCodeReceipt:
        with store.transaction() as session:
            return code_intake.submit_code(session, keyring, code, now=env.clock(), actor=None)

    # A worker may store the same envelope at the same moment; the retry answers as a repeat.
    receipt = retry_on_race(submit, what="A result code")
    outcome = "already received: nothing changed" if receipt.duplicate else "new"
    sections = ", ".join(receipt.section_ids) or "none"
    emit(
        env,
        args,
        receipt.model_dump(mode="json"),
        f"Stored the result of {receipt.student_name} ({receipt.sitting_name}), sections {sections}: {outcome}",
    )
