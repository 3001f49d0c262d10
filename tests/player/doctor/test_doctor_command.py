"""`invigil doctor` as an IT admin runs it over SSH, in its own process (the real `python -m player doctor`): the
terminal shows the report alone (none of QtMultimedia's own messages), and the data folder it diagnoses is not made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.doctor import closed_port_url

REPO = Path(__file__).resolve().parents[3]
TIMEOUT_S = 120


def test_doctor_over_ssh_prints_the_report_alone_and_makes_no_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "home" / "invigil-data"
    machine_file = tmp_path / "etc" / "config.toml"
    machine_file.parent.mkdir()
    machine_file.write_text(f'server_url = "{closed_port_url()}"\ndata_dir = "{data_dir}"\n', encoding="utf-8")
    # No display and no sound server, as over SSH: Qt picks its offscreen platform itself, and QtMultimedia has
    # plenty to say (PipeWire's library, FFmpeg's version, PulseAudio's refused connection).
    leave_out = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "QT_MESSAGE_PATTERN")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVIGIL_") and k not in leave_out}
    env.update(
        INVIGIL_CONFIG=str(machine_file),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PULSE_SERVER=f"unix:{tmp_path / 'no-sound-server'}",
        QT_FORCE_STDERR_LOGGING="1",  # Qt's messages to stderr, where a person at the terminal would see them
        PYTHONIOENCODING="utf-8",
        PYTHONPATH=str(REPO),
    )

    done = subprocess.run(
        [sys.executable, "-m", "player", "doctor", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT_S,
        check=False,
    )

    report = json.loads(done.stdout)
    assert done.stderr == ""
    checks = {c["key"]: c for c in report["checks"]}
    assert (checks["display"]["status"], checks["display"]["number"]) == ("not_checked", None)
    assert checks["wal"]["detail"].startswith(f"The data folder {data_dir} does not exist yet")
    assert not data_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc"]  # nothing made for the user either
