"""The player's command line (`python -m player ...`) run as an IT admin runs it: in its own process, with its own
machine-wide config file, user folders and sound server, and none of the developer's INVIGIL_* settings.
(tests/helpers/cli.py is the server's command line, run in process.)"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120
PLAYER = ("-m", "player")


def run_player(
    *args: str,
    cwd: Path,
    machine_file: Path,
    config_home: Path,
    pulse_server: str,
    data_home: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    without: Collection[str] = (),
    python_args: Sequence[str] = PLAYER,
) -> subprocess.CompletedProcess[str]:
    """`python -m player ARGS` (or `python PYTHON_ARGS ARGS`) run from `cwd`, its output captured as text.

    The child reads `machine_file` as the machine-wide config (INVIGIL_CONFIG), has `config_home` as
    XDG_CONFIG_HOME and `data_home` as XDG_DATA_HOME (None: the parent's), plays sound through `pulse_server`
    (PULSE_SERVER), and has no display: QT_QPA_PLATFORM=offscreen, what an SSH session without one gets.
    `extra_env` is added; the variables named in `without` are left out, this helper's own as well."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("INVIGIL_")}
    env.update(
        INVIGIL_CONFIG=str(machine_file),
        XDG_CONFIG_HOME=str(config_home),
        PULSE_SERVER=pulse_server,
        QT_QPA_PLATFORM="offscreen",
        PYTHONIOENCODING="utf-8",
        PYTHONPATH=str(REPO),  # run from another folder, as an admin would, this checkout's code
    )
    if data_home is not None:
        env["XDG_DATA_HOME"] = str(data_home)
    env.update(extra_env or {})
    for name in without:
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, *python_args, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT_S,
        check=False,
    )
