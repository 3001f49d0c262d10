"""docs/screens/doctor.png: what `invigil doctor` prints on this machine, as an IT admin would see it over SSH, shown
in a monospace text box offscreen as a terminal would show it.

Nothing in it is made up: the real `python -m player doctor` in its own process, against the real server over TLS
(the school's CA in ca_bundle), with a real audio output (a PulseAudio null sink: this machine has no sound card),
this machine's own keyring, disk, display (none: offscreen) and host name. Whatever is not OK here is shown as it
is, with its error number.

Written to docs/screens/ only when INVIGIL_UPDATE_SCREENS=1:
`INVIGIL_UPDATE_SCREENS=1 .venv/bin/pytest tests/player/doctor/test_doctor_screenshot.py`."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from PySide6.QtGui import QFontDatabase, QFontMetrics
from PySide6.QtWidgets import QPlainTextEdit
from pytestqt.qtbot import QtBot

from player.doctor.text import WIDTH
from sync.error_catalogue import by_number, number_for
from tests.helpers.player_cli import run_player
from tests.helpers.screens import DOCS_SCREENS, Camera
from tests.helpers.tls import School, TlsFiles

MAX_BYTES = 250_000
NUMBER = re.compile(r"\[(INV-\d{4})\]")


def run_doctor(*argv: str, server_url: str, ca_cert: Path, pulse_server: str) -> str:
    """`invigil doctor ARGV`'s output, run as an admin runs it: the machine-wide config file, this machine's user."""
    # A short folder name, so the paths in the picture read like a real machine's.
    with tempfile.TemporaryDirectory(prefix="invigil-") as folder:
        root = Path(folder)
        machine_file = root / "config.toml"
        ca_bundle = root / "school-ca.pem"
        shutil.copy(ca_cert, ca_bundle)
        machine_file.write_text(
            f'server_url = "{server_url}"\nca_bundle = "{ca_bundle}"\ndata_dir = "{root / "data"}"\n', encoding="utf-8"
        )
        done = run_player(
            "doctor",
            *argv,
            cwd=root,
            machine_file=machine_file,
            config_home=root / "user-config",
            pulse_server=pulse_server,
        )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1, 2), done.stderr
    return done.stdout


def test_doctor_screenshot(
    qtbot: QtBot, tls_school: School, tls_files: TlsFiles, null_sink: str, tmp_path: Path
) -> None:
    machine = {"server_url": tls_school.url, "ca_cert": tls_files.ca_cert, "pulse_server": null_sink}
    checks = {c["key"]: c for c in json.loads(run_doctor("--json", **machine))["checks"]}
    text = run_doctor(**machine)
    # What this machine really has: the server over verified TLS, a real (null) audio output that played the tone.
    assert {k: checks[k]["status"] for k in ("server", "tls", "audio_output", "audio_tone")} == dict.fromkeys(
        ("server", "tls", "audio_output", "audio_tone"), "ok"
    ), text
    assert "Null Output" in checks["audio_output"]["detail"]
    # No display (offscreen, as over SSH): said plainly, not a faked 1920x1080; no made-up sound card either.
    assert checks["display"]["status"] != "ok", text
    assert "1920x1080" not in text
    assert "Built-in Audio" not in text
    # The numbers the text shows are those of the checks that are not OK, each in the catalogue; an OK check has none.
    numbered = {c["number"] for c in checks.values() if c["number"]}
    assert all(c["status"] != "ok" for c in checks.values() if c["number"]), checks
    if checks["keyring"]["status"] != "ok":  # no Secret Service here (no desktop session): a warning, numbered
        assert checks["keyring"]["number"] == number_for("doctor.keyring"), checks["keyring"]
    assert set(NUMBER.findall(text)) == numbered, text
    assert all(by_number(n) is not None for n in numbered), numbered

    view = QPlainTextEdit()
    qtbot.addWidget(view)
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSize(10)
    view.setFont(font)
    view.setReadOnly(True)
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    view.setPlainText(text)
    metrics = QFontMetrics(font)
    width = metrics.horizontalAdvance("M" * (WIDTH + 4)) + 24
    height = metrics.lineSpacing() * (text.count("\n") + 3) + 40
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)

    folders = [tmp_path]
    if os.environ.get("INVIGIL_UPDATE_SCREENS") == "1":
        folders.append(DOCS_SCREENS)
    camera = Camera(folders, max_bytes=MAX_BYTES, width=width)
    camera.shoot(view, "doctor", "✓ Server reachable", "✓ Test tone", "1 found: Null Output.", *sorted(numbered))
