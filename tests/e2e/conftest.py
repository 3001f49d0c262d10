"""End-to-end setup: the real server and the real player, each as its own process, talking over loopback HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.helpers.e2e import E2EServer, serve_demo
from tests.helpers.waiting import NotMet, wait_until


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EServer]:
    """`invigil-server demo-seed --json`, then `serve --port 0`, as the quick start does; stopped at the end."""
    with serve_demo(tmp_path_factory.mktemp("server")) as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def null_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PulseAudio server with a null sink, so the players here have an audio output device.

    CI machines have no sound card; without a device the player (rightly) will not start a sitting with audio.
    Its own runtime folder keeps it apart from any desktop sound server.
    """
    binary = shutil.which("pulseaudio")
    if binary is None:
        pytest.fail("pulseaudio is not installed: run ./scripts/setup-env (Debian package 'pulseaudio').")
    runtime = tmp_path_factory.mktemp("pulse")
    for sub in (".config", ".cache"):
        (runtime / sub).mkdir()
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime)}
    socket_path = runtime / "pulse" / "native"
    log_path = runtime / "pulseaudio.log"
    with log_path.open("w") as log_file:  # the child keeps its own handle
        process = subprocess.Popen(
            [
                binary,
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "-n",
                "--load=module-null-sink",
                "--load=module-native-protocol-unix",
                "--log-target=stderr",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        wait_until(
            socket_path.exists,
            what="PulseAudio's socket",
            timeout=15,
            interval=0.05,
            give_up_if=lambda: process.poll() is not None,
        )
    except NotMet:
        process.kill()
        pytest.fail(f"PulseAudio did not start: {log_path.read_text()[-500:]}")
    saved = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = f"unix:{socket_path}"
    yield os.environ["PULSE_SERVER"]
    if saved is None:
        os.environ.pop("PULSE_SERVER", None)
    else:
        os.environ["PULSE_SERVER"] = saved
    process.terminate()
    process.wait(timeout=10)
