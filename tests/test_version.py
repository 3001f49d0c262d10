"""One version everywhere: sync/version.py equals pyproject.toml's, and both programs print it with --version."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from sync.version import VERSION

REPO = Path(__file__).resolve().parents[1]


def test_the_version_constant_is_pyprojects() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["version"] == VERSION


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def test_invigil_version() -> None:
    done = run("player", "--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"invigil {VERSION}\n", "")


def test_invigil_server_version() -> None:
    done = run("sync.server", "--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"invigil-server {VERSION}\n", "")


LOADED_AFTER_VERSION = """
import sys
from player.cli import main
try:
    main(["--version"])
except SystemExit:
    pass
print(sorted(m for m in sys.modules if m.startswith(("PySide6", "pydantic", "requests", "player.app"))))
"""


def test_version_is_answered_without_loading_qt() -> None:
    # Start-up stays fast: the command line is looked at before anything heavy is imported.
    done = subprocess.run(
        [sys.executable, "-c", LOADED_AFTER_VERSION], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.splitlines() == [f"invigil {VERSION}", "[]"]
