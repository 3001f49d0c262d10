"""A private PulseAudio server with a null sink: a real audio output device on machines with no sound card."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.waiting import NotMet, wait_until


class NoSoundServer(RuntimeError):
    """pulseaudio is missing or would not start; the message says which and how to fix it."""


@contextmanager
def null_sink_server(folder: Path) -> Iterator[str]:
    """Run `pulseaudio` with one null sink, its runtime in `folder`; yields the PULSE_SERVER value for clients.

    Its own runtime folder and HOME keep it apart from any desktop sound server; it is stopped on exit.
    """
    binary = shutil.which("pulseaudio")
    if binary is None:
        raise NoSoundServer("pulseaudio is not installed: run ./scripts/setup-env (Debian package 'pulseaudio').")
    for sub in (".config", ".cache"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(folder), "HOME": str(folder)}
    socket_path = folder / "pulse" / "native"
    log_path = folder / "pulseaudio.log"
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
        try:
            wait_until(
                socket_path.exists,
                what="PulseAudio's socket",
                timeout=15,
                interval=0.05,
                give_up_if=lambda: process.poll() is not None,
            )
        except NotMet as late:
            raise NoSoundServer(f"PulseAudio did not start: {log_path.read_text()[-500:]}") from late
        yield f"unix:{socket_path}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
