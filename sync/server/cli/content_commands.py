"""Commands for content: writing a loaded assessment out as a QTI 3.0 content package."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from sync.server import content, sittings
from sync.server.cli.common import CliError, Env, emit, open_store
from sync.server.content.qti.export import ExportError, export_qti
from sync.server.models import AssessmentMedia, Media

Command = Callable[[argparse.Namespace, Env], None]


def register_content_commands(add: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    p = add("export-assessment", cmd_export_assessment, "write a loaded assessment as a QTI 3.0 content package")
    p.add_argument("assessment", metavar="REF", help="assessment id, package id (newest version) or package_id@version")
    p.add_argument("--qti", required=True, metavar="OUT.zip", help="the zip file to write (IMS content package)")
    p.add_argument("--force", action="store_true", help="replace OUT.zip if it exists")


def cmd_export_assessment(args: argparse.Namespace, env: Env) -> None:
    out = Path(args.qti).expanduser()
    if out.suffix.lower() != ".zip":
        raise CliError(
            f"{out}: a QTI package is a .zip file; give --qti a name ending in .zip", key="server_cli.export_target"
        )
    if out.is_dir():
        raise CliError(
            f"{out} is a folder; give --qti the name of the zip file to write", key="server_cli.export_target"
        )
    if out.exists() and not args.force:
        raise CliError(
            f"{out} already exists; choose another name, or add --force to replace it", key="server_cli.export_target"
        )
    if not out.parent.is_dir():
        raise CliError(
            f"there is no folder {out.parent} to write {out.name} in; create it first", key="server_cli.export_target"
        )
    store, _ = open_store(args, create=False)
    with store.transaction() as session:
        assessment = sittings.find_assessment(session, args.assessment)
        manifest = content.load_stored_manifest(assessment.manifest_json)
        hashes = select(AssessmentMedia.sha256).where(AssessmentMedia.assessment_id == assessment.id)
        media = {row.sha256: row.data for row in session.scalars(select(Media).where(Media.sha256.in_(hashes)))}
        name = f"{assessment.title} ({assessment.package_id} {assessment.version})"
    try:
        report = export_qti(manifest, media, out)
    except ExportError as exc:
        raise CliError(f"cannot export {name}: {exc}", key="server_cli.export_failed") from exc
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}", key="server_cli.export_failed") from exc
    text = f"Exported {name} to {out}: {report.items} items, {report.media_files} media files."
    note = ""
    if report.dictation_items:
        # QTI has no dictation interaction: the items go out as extended text with their audio (see export.py).
        note = (
            f"{len(report.dictation_items)} dictation items ({', '.join(report.dictation_items)}) have no QTI "
            "equivalent: they were written as extended-text items with their audio and play limit, and need "
            "hand marking once the package is loaded again."
        )
        text += f"\nNote: {note}"
    data = {"path": str(out), "items": report.items, "media_files": report.media_files}
    emit(env, args, data | {"dictation_items": report.dictation_items, "note": note}, text)
