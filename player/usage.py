"""Command-line usage errors, for `invigil` with or without a command: exit status 64 (EX_USAGE), kept apart from
doctor's 2 ("failures"), and a message that says where a command's option belongs. Standard library only: the
window's own argument parser (player/app.py) uses it before its first paint."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import NoReturn

EX_USAGE = 64
"""BSD sysexits' "the command was used incorrectly": a script can tell a typo from doctor's failures (2)."""
COMMANDS = ("doctor", "support-bundle")
COMMAND_OPTIONS = {"--json": "doctor", "--output": "support-bundle"}
"""Options only a command takes: given without it, the message names the command."""
_EXAMPLES = {"--json": "invigil doctor --json", "--output": "invigil support-bundle --output PATH"}
USAGE_KEY = "startup.usage"


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit with EX_USAGE, name the command an option belongs to, list the
    commands and carry the catalogue number (argparse's own exit with 2 would read as doctor's "failures")."""

    def error(self, message: str) -> NoReturn:
        from sync.error_catalogue import number_for  # only on an error: nothing before the window's first paint

        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}{_hints(message)} ({number_for(USAGE_KEY)})\n")


def data_dir_argument(text: str) -> Path:
    """--data-dir's value. Empty or blank is refused: Path("") is ".", so the journal would silently go into
    whatever folder the command was typed in (data_dir = "" in a config file is refused too)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty; give the folder for the journal, media and logs, e.g. --data-dir /var/lib/invigil, or leave "
            "--data-dir out to use the config's data_dir"
        )
    return Path(text)


def _hints(message: str) -> str:
    """What to do, after argparse's own words (which say what was wrong)."""
    options = [word for word in re.split(r"[\s=,']+", message) if word in COMMAND_OPTIONS]
    if options:
        first = options[0]
        belongs = "".join(
            f"; {option} belongs to `invigil {COMMAND_OPTIONS[option]}`" for option in dict.fromkeys(options)
        )
        return f"{belongs}: run e.g. `{_EXAMPLES[first]}`"
    if message.startswith("unrecognized arguments"):
        return f"; the commands are {', '.join(COMMANDS)}: see `invigil --help`"
    return "; see `invigil --help`"
