"""The token store against a real Secret Service: gnome-keyring in a private D-Bus session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NEEDED = ("dbus-run-session", "gnome-keyring-daemon")
missing = [tool for tool in NEEDED if shutil.which(tool) is None]

pytestmark = pytest.mark.skipif(
    bool(missing),
    reason=f"{', '.join(missing)} not installed: apt-get install dbus gnome-keyring (scripts/setup-env lists them)",
)


def test_tokens_round_trip_through_gnome_keyring(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # gnome-keyring waits for ever if it cannot make its folders, so they exist before it starts.
    for sub in (".cache", ".local/share/keyrings", ".config"):
        (home / sub).mkdir(parents=True)
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PYTHONPATH": str(REPO),
    }
    (tmp_path / "run").mkdir(mode=0o700)
    # A throwaway password: gnome-keyring 42 makes no login keyring for an empty one (and then prompts on a
    # display that is not there); the keyring file is encrypted with it, so the leak check below means something.
    script = (
        "printf invigil-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null "
        f"&& {sys.executable} -m tests.integration.secret_service_body"
    )
    done = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, report
    assert "OK Secret Service" in done.stdout, report
    leaked = [p for p in home.rglob("*") if p.is_file() and b"secret-token-123" in p.read_bytes()]
    assert leaked == [], f"the token was written in plain text to {leaked}"
