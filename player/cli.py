"""`invigil`'s command line: `--version`, `doctor` and `support-bundle`; with no command it starts the player's
window (player/app.py), as before. Only the standard library is imported until a command is chosen, so the
window starts as fast as it did without this layer."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from player.usage import COMMANDS, EX_USAGE, UsageParser, data_dir_argument
from sync.version import VERSION

if TYPE_CHECKING:
    from PySide6.QtGui import QGuiApplication

__all__ = ["COMMANDS", "EX_USAGE", "build_parser", "main", "wants_command_line"]

_VALUE_OPTIONS = ("--server", "--data-dir", "--output")
"""Options followed by a value, which is not a command. (--output alone is support-bundle's: given without it, the
window's parser says where it belongs.)"""


def wants_command_line(argv: Sequence[str]) -> bool:
    """True when argv names a command, --version or --help; otherwise the window starts (app.py parses argv)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _VALUE_OPTIONS:
            skip = True
        elif arg in ("--version", "-h", "--help") or not arg.startswith("-"):
            return True
    return False


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="invigil",
        description="Invigil test player. With no command, starts the player's window. A command line that is "
        f"not understood exits with status {EX_USAGE}.",
    )
    parser.add_argument("--version", action="version", version=f"invigil {VERSION}")
    common = UsageParser(add_help=False)
    for target in (parser, common):
        # SUPPRESS in the commands, so `invigil --server X doctor` keeps X.
        default = None if target is parser else argparse.SUPPRESS
        target.add_argument("--server", metavar="URL", default=default, help="the server's address (over the config)")
        target.add_argument(
            "--data-dir",
            metavar="PATH",
            type=data_dir_argument,
            default=default,
            help="where the journal, media and logs are kept",
        )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    doctor = sub.add_parser(
        "doctor",
        parents=[common],
        help="check this computer is ready for a sitting",
        description="Check this computer is ready for a sitting. Exit status: 0 all OK, 1 warnings, 2 failures, "
        f"{EX_USAGE} the command line was not understood (nothing was checked).",
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    bundle = sub.add_parser(
        "support-bundle",
        parents=[common],
        help="make a zip of logs, config and doctor's report for support",
        description="Make a zip for support: logs, config (secrets redacted), doctor's report and journal "
        "statistics. It never holds answers, access codes, tokens or keys.",
    )
    bundle.add_argument(
        "--output",
        metavar="PATH",
        type=Path,
        help="a folder to write the zip in (named for you), or the zip's path: .zip is added when missing, and "
        "an existing file is never replaced (default: this folder)",
    )
    return parser


def gui_application() -> QGuiApplication:
    """The Qt application doctor's audio and display checks need. With no display to show on (over SSH, a
    service), Qt's offscreen platform, unless QT_QPA_PLATFORM says otherwise: doctor then says the screen was not
    checked instead of failing to start."""
    if (
        sys.platform.startswith("linux")
        and "QT_QPA_PLATFORM" not in os.environ
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        return app
    return QGuiApplication([sys.argv[0] if sys.argv else "invigil"])


def _print(text: str) -> None:
    # A windowed build on Windows has no console: nothing to print to.
    if sys.stdout is None:
        return
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        # A console that cannot show ✓ / ✗ (Windows' cp1252): "?" instead, never a crash.
        encoding = sys.stdout.encoding or "ascii"
        sys.stdout.write(text.encode(encoding, errors="replace").decode(encoding))
    sys.stdout.flush()


def cmd_doctor(args: argparse.Namespace) -> int:
    from player.config import default_sources
    from player.doctor.checks import run_doctor_from_sources
    from player.doctor.text import render_text

    app = gui_application()  # kept alive for the checks
    report = run_doctor_from_sources(default_sources(), server_url=args.server, data_dir=args.data_dir)
    del app
    if args.json:
        _print(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        _print(render_text(report))
    return report.exit_status


def cmd_support_bundle(args: argparse.Namespace) -> int:
    """Write the bundle to --output (a folder: the default-named zip in it; a path: that zip), else here.
    The destination is checked before doctor runs, so a mistyped path fails at once and changes nothing."""
    from player.config import ConfigError, default_sources, load_config
    from player.doctor.checks import run_doctor_from_sources, with_overrides
    from player.support_bundle import default_bundle_name, make_support_bundle
    from sync.error_catalogue import problem

    def refuse(key: str, text: str) -> int:
        print(f"invigil support-bundle: {problem(key, text)}", file=sys.stderr)
        return 2

    def exists(path: Path) -> int:
        return refuse(
            "doctor.support_bundle.exists",
            f"{path} already exists; the bundle never replaces a file. Give --output a new name, or a folder (the "
            "zip is named for you). Nothing was changed.",
        )

    dest = (args.output or Path.cwd()).expanduser().resolve()
    if not dest.is_dir():
        # A file name: never one that is there already, and always a .zip (`--output ob` writes ob.zip, so the
        # file opens as what it is on any computer support uses).
        if dest.exists():
            return exists(dest)
        if dest.suffix.lower() != ".zip":
            dest = dest.with_name(dest.name + ".zip")
            if dest.exists():
                return exists(dest)
    folder = dest if dest.is_dir() else dest.parent
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        return refuse(
            "doctor.support_bundle.not_a_folder",
            f"cannot write the bundle to {dest}: {folder} {what}. Give --output an existing folder (the zip is "
            "named for you) or a .zip path in one.",
        )
    sources = default_sources()
    app = gui_application()
    report = run_doctor_from_sources(sources, server_url=args.server, data_dir=args.data_dir)
    del app
    try:
        config = with_overrides(load_config(sources), server_url=args.server, data_dir=args.data_dir)
    except ConfigError:
        config = None  # doctor's report names the problem; the bundle is made all the same
    if dest.is_dir():
        dest = dest / default_bundle_name()
    try:
        made = make_support_bundle(config, dest, report=report, sources=sources, data_dir=args.data_dir)
    except FileExistsError:
        return exists(dest)  # made by something else while doctor ran
    except OSError as exc:
        return refuse(
            "doctor.support_bundle.cannot_write",
            f"cannot write {dest}: {exc.strerror or exc}. Nothing was left behind; free some space or give "
            "--output another folder.",
        )
    _print(f"Support bundle written to {made}\n")
    return 0


def _console_on_windows() -> None:
    """On Windows `invigil.exe` is a windowed program with no console, so `invigil doctor` typed in a Command
    Prompt would print nothing: attach to that prompt's console for the command's output. (Not testable here;
    on Linux and macOS a program always has its terminal.)"""
    if sys.platform == "win32" and sys.stdout is None:
        import ctypes

        if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
            sys.stdout = open("CONOUT$", "w", encoding="utf-8")  # noqa: SIM115 -- lives as long as the process
            sys.stderr = sys.stdout


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not wants_command_line(args_list):
        from player.app import main as start_window

        return start_window(args_list)
    _console_on_windows()
    args = build_parser().parse_args(args_list)
    import logging

    # Only errors on stderr: the report itself says what a warning would (e.g. the keyring falling back).
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "doctor":
        return cmd_doctor(args)
    if args.command == "support-bundle":
        return cmd_support_bundle(args)
    build_parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
