"""`invigil doctor` as an IT admin runs it over SSH, in its own process (the real `python -m player doctor`): the
terminal shows the report alone (none of QtMultimedia's own messages), and the data folder it diagnoses is not made."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.doctor import closed_port_url
from tests.helpers.player_cli import run_player


def test_doctor_over_ssh_prints_the_report_alone_and_makes_no_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "home" / "invigil-data"
    machine_file = tmp_path / "etc" / "config.toml"
    machine_file.parent.mkdir()
    machine_file.write_text(f'server_url = "{closed_port_url()}"\ndata_dir = "{data_dir}"\n', encoding="utf-8")
    # No display and no sound server, as over SSH: Qt picks its offscreen platform itself, and QtMultimedia has
    # plenty to say (PipeWire's library, FFmpeg's version, PulseAudio's refused connection).
    done = run_player(
        "doctor",
        "--json",
        cwd=tmp_path,
        machine_file=machine_file,
        config_home=tmp_path / "config",
        data_home=tmp_path / "data",
        pulse_server=f"unix:{tmp_path / 'no-sound-server'}",
        # Qt's messages to stderr, where a person at the terminal would see them.
        extra_env={"QT_FORCE_STDERR_LOGGING": "1"},
        without=("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "QT_MESSAGE_PATTERN"),
    )

    report = json.loads(done.stdout)
    assert done.stderr == ""
    checks = {c["key"]: c for c in report["checks"]}
    assert (checks["display"]["status"], checks["display"]["number"]) == ("not_checked", None)
    assert checks["wal"]["detail"].startswith(f"The data folder {data_dir} does not exist yet")
    assert not data_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc"]  # nothing made for the user either
