"""The PyInstaller bundles: build/build.sh makes both, and each runs from its folder as an IT admin would run it.

The build itself starts in the background at collection (conftest.py); the tests here that need it run last.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.build.running import (
    PLAYER_STARTED,
    START_TIMEOUT_S,
    assert_player_ran_and_stopped,
    read_text,
    sigint_caught,
    start_player,
    stop,
    wait_for,
)
from tests.helpers.bundles import BUILD_SH, REPO, Bundles

SERVER_BANNER = "Invigil server on "
FFMPEG_LOADED = "qt.multimedia.ffmpeg: Using Qt multimedia with FFmpeg"
DEMO_TITLE = json.loads((REPO / "resources" / "demo" / "manifest.json").read_text(encoding="utf-8"))["title"]


def run_build_sh(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(BUILD_SH), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def isolated_env(folder: Path, **extra: str) -> dict[str, str]:
    """The test's environment minus any INVIGIL_* setting or Python path of the developer's, plus `extra`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("INVIGIL_", "PYTHON", "QT_")) and name != "VIRTUAL_ENV"
    }
    folder.mkdir(parents=True, exist_ok=True)
    env.update(XDG_CONFIG_HOME=str(folder / "user-config"), XDG_DATA_HOME=str(folder / "user-data"))
    env.update(extra)
    return env


# ---- build.sh ------------------------------------------------------------------------------------


def test_build_sh_without_the_venv_says_to_run_setup_env(tmp_path: Path) -> None:
    missing = tmp_path / "no-venv"
    result = run_build_sh("server", env={**os.environ, "INVIGIL_VENV": str(missing)}, timeout=60)
    assert result.returncode == 2
    assert f"no virtualenv at {missing}; run ./scripts/setup-env first" in result.stderr
    assert result.stdout == "", "nothing is built without the venv"


def test_build_sh_names_the_targets_it_knows(tmp_path: Path) -> None:
    result = run_build_sh("everything", env=dict(os.environ), timeout=60)
    assert result.returncode == 2
    assert "unknown argument 'everything'; expected player, server or all" in result.stderr


@pytest.mark.slow
def test_build_sh_prints_each_bundle_folder_and_size(bundles: Bundles) -> None:
    lines = bundles.report.splitlines()
    for name in ("invigil", "invigil-server"):
        line = next((line for line in lines if line.startswith(f"{name}: ")), None)
        assert line is not None, f"no line for {name} in:\n{bundles.report}"
        assert line.startswith(f"{name}: {bundles.folder(name)} (")
        assert line.endswith("M)"), line
        assert bundles.executable(name).is_file()
    assert lines[-1].startswith("built in ")


# ---- the server ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_frozen_server_seeds_the_demo_and_a_student_signs_in(bundles: Bundles, tmp_path: Path) -> None:
    server = str(bundles.executable("invigil-server"))
    db = tmp_path / "x.db"
    env = isolated_env(tmp_path / "env")
    # demo-seed creates the database through the Alembic migrations shipped as data, then loads resources/demo.
    seeded = subprocess.run(
        [server, "--db", str(db), "demo-seed", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    demo = json.loads(seeded.stdout)
    assert demo["assessment"]["title"] == DEMO_TITLE
    students = demo["students"]
    assert len(students) == 3
    assert all(student["access_code"] for student in students)

    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("w") as stdout, err.open("w") as stderr:  # the child keeps its own copies of the handles
        serve = subprocess.Popen(
            [server, "--db", str(db), "serve", "--port", "0", "--log-level", "warning"],
            stdout=stdout,
            stderr=stderr,
            text=True,
            env={**env, "PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_for(lambda: SERVER_BANNER in read_text(out), what="the server's address", process=serve, details=err)
        api = read_text(out).split(SERVER_BANNER, 1)[1].split()[0]
        reply = requests.post(
            f"{api}login",
            json={"access_code": students[0]["access_code"], "machine_id": "frozen-build-test"},
            timeout=START_TIMEOUT_S,
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["student"] == students[0]["name"]
        assert body["assessment"]["title"] == DEMO_TITLE
        assert body["assessment"]["sections"], "the delivery form has no sections"
    finally:
        code = stop(serve, signal.SIGINT)
    assert code == 0, read_text(err)[-3000:]


@pytest.mark.slow
def test_server_bundle_holds_no_qt_and_no_player(bundles: Bundles) -> None:
    modules = bundles.modules("invigil-server")
    assert "sync.server.cli" in modules
    assert not {m for m in modules if m.split(".")[0] in ("player", "PySide6", "shiboken6")}
    assert not list(bundles.folder("invigil-server").rglob("*Qt6Core*"))


# ---- the player ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_player_bundle_has_the_qt_plugins_it_loads(bundles: Bundles) -> None:
    plugins = next(bundles.folder("invigil").rglob("PySide6/Qt/plugins"), None)
    assert plugins is not None, "no Qt plugins folder in the player bundle"
    # The FFmpeg backend decodes the audio; offscreen runs the tests; xcb shows the window on an X11 desktop.
    assert list(plugins.glob("multimedia/*ffmpegmediaplugin*")), sorted(p.name for p in plugins.iterdir())
    assert list(plugins.glob("platforms/*qoffscreen*"))
    if sys.platform.startswith("linux"):
        assert list(plugins.glob("platforms/*qxcb*"))
    # The reason for the excludes in the spec: QtWebEngine alone would add ~200 MB.
    assert not list(bundles.folder("invigil").rglob("*WebEngine*"))


@pytest.mark.slow
def test_player_bundle_carries_no_server_code_and_no_answer_keys(bundles: Bundles) -> None:
    modules = bundles.modules("invigil")
    assert {"player.app", "sync.client", "player.ui.console"} <= modules
    # Result codes as QR codes: segno draws them (pure Python), zxing-cpp's extension reads them in the console.
    assert {"player.ui.qr", "segno", "sync.resultcode_qr"} <= modules
    assert list(bundles.folder("invigil").rglob("zxingcpp*.so")) or list(
        bundles.folder("invigil").rglob("zxingcpp*.pyd")
    )
    leaked = {m for m in modules if m.startswith("sync.server") or m.split(".")[0] in ("fastapi", "sqlalchemy")}
    assert not leaked
    # The demo package's manifest holds its answer keys; only the server loads it, so it stays out of here.
    assert not list(bundles.folder("invigil").rglob("manifest.json"))
    assert list(bundles.folder("invigil").rglob("resources/soundcheck.ogg"))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the SIGINT handler state from /proc")
def test_frozen_player_starts_logs_and_closes_on_ctrl_c(bundles: Bundles, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = isolated_env(
        tmp_path / "env",
        QT_QPA_PLATFORM="offscreen",
        QT_LOGGING_RULES="qt.multimedia.ffmpeg.info=true",
        INVIGIL_CONFIG=str(tmp_path / "no-machine-config.toml"),
        INVIGIL_DATA_DIR=str(data),
        # Nothing listens there: the access-code screen does not need the server until a code is entered.
        INVIGIL_SERVER_URL="http://127.0.0.1:9",
    )
    log_file = data / "logs" / "player.log"
    err = tmp_path / "player.err"
    player = start_player([str(bundles.executable("invigil"))], env=env, stderr_file=err)
    try:
        wait_for(lambda: PLAYER_STARTED in read_text(log_file), what="the start line", process=player, details=err)
        # The bundled FFmpeg plugin is found and loaded (not only copied): Qt says so when the backend starts.
        wait_for(lambda: FFMPEG_LOADED in read_text(err), what="the FFmpeg backend", process=player, details=err)
        wait_for(lambda: sigint_caught(player.pid), what="the Ctrl+C handler", process=player, details=err)
    finally:
        code = stop(player, signal.SIGINT)
    assert_player_ran_and_stopped(code, log_file=log_file, stderr_file=err, server="http://127.0.0.1:9", data=data)
