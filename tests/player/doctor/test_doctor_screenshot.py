"""docs/screens/doctor.png: the real text of `invigil doctor` against the real server over TLS (the school's CA in
ca_bundle), with two warnings, shown in a monospace text box offscreen as a terminal would show it.

Written to docs/screens/ only when INVIGIL_UPDATE_SCREENS=1:
`INVIGIL_UPDATE_SCREENS=1 .venv/bin/pytest tests/player/doctor/test_doctor_screenshot.py`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from PySide6.QtGui import QFontDatabase, QFontMetrics
from PySide6.QtWidgets import QPlainTextEdit
from pytestqt.qtbot import QtBot

from player.config import ConfigSources, load_config
from player.credentials import ChosenBackend, InMemoryBackend
from player.doctor.checks import run_doctor
from player.doctor.report import Status
from player.doctor.text import WIDTH, render_text
from tests.helpers.doctor import good_edges
from tests.helpers.screens import DOCS_SCREENS, Camera
from tests.helpers.tls import School, TlsFiles

MAX_BYTES = 250_000


def gnome_keyring(setting: str) -> ChosenBackend:
    return ChosenBackend(InMemoryBackend(), "Secret Service (GNOME Keyring / KWallet)", True, "tokens kept there")


def test_doctor_screenshot(qtbot: QtBot, tls_school: School, tls_files: TlsFiles, tmp_path: Path) -> None:
    # A short folder name, so the paths in the picture read like a real machine's.
    with tempfile.TemporaryDirectory(prefix="invigil-") as folder:
        root = Path(folder)
        machine_file = root / "config.toml"
        ca_bundle = root / "school-ca.pem"
        shutil.copy(tls_files.ca_cert, ca_bundle)
        machine_file.write_text(
            f'server_url = "{tls_school.url}"\nca_bundle = "{ca_bundle}"\ndata_dir = "{root / "data"}"\n'
        )
        config = load_config(ConfigSources(machine_file=machine_file, user_file=root / "absent.toml", env={}))
        # A generated host name and a small disk: the two warnings.
        from player.doctor.edges import DiskSpace

        edges = good_edges(
            host_name=lambda: "DESKTOP-4F7K2QX",
            keyring=gnome_keyring,
            disk_space=lambda path: DiskSpace(total_bytes=64_000 << 20, free_bytes=420 << 20),
        )
        report = run_doctor(config, edges=edges)
    text = render_text(report)
    assert [c.key for c in report.checks if c.status is not Status.OK] == ["disk_space", "machine_name"]

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
    camera.shoot(
        view,
        "doctor",
        "✓ Server reachable",
        "✓ Secure connection (TLS)",
        "! Machine name",
        "! Free disk space",
        "Usable, with warnings: read them before a sitting.",
    )
