"""End-to-end setup: the real server and the real player, each as its own process, talking over loopback HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from tests.helpers.e2e import SERVER_BANNER, START_TIMEOUT_S, E2EServer, LineReader, invigil_server, isolated_env
from tests.helpers.null_sink import NoSoundServer, null_sink_server


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EServer]:
    """`invigil-server demo-seed --json`, then `serve --port 0`, as the quick start does; stopped at the end."""
    folder = tmp_path_factory.mktemp("server")
    db = folder / "server.db"
    env = isolated_env(folder / "env")
    seeded = subprocess.run(
        [*invigil_server(), "--db", str(db), "demo-seed", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert seeded.returncode == 0, f"demo-seed failed ({seeded.returncode}): {seeded.stderr}"
    codes = [student["access_code"] for student in json.loads(seeded.stdout)["students"]]
    with (folder / "serve.stderr").open("w") as stderr:  # the child keeps its own copy of the handle
        serve = subprocess.Popen(
            [*invigil_server(), "--db", str(db), "serve", "--port", "0", "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    lines = LineReader(serve.stdout)
    banner = lines.next(START_TIMEOUT_S) or ""
    if not banner.startswith(SERVER_BANNER):
        serve.kill()
        serve.wait()
        pytest.fail(f"the server did not start: {banner!r}; {(folder / 'serve.stderr').read_text()}")
    api = banner.removeprefix(SERVER_BANNER).split()[0]
    url = api.removesuffix("/").removesuffix("/api/v1")
    yield E2EServer(url=url, codes=codes, db=db)
    serve.send_signal(signal.SIGINT)
    try:
        serve.wait(timeout=START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        serve.kill()
        serve.wait()
    lines.rest()
    if serve.stdout is not None:
        serve.stdout.close()


@pytest.fixture(scope="session", autouse=True)
def null_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PulseAudio server with a null sink, so the players here have an audio output device.

    CI machines have no sound card; without a device the player (rightly) will not start a sitting with audio.
    """
    saved = os.environ.get("PULSE_SERVER")
    try:
        with null_sink_server(tmp_path_factory.mktemp("pulse")) as server:
            os.environ["PULSE_SERVER"] = server
            yield server
    except NoSoundServer as missing:
        pytest.fail(str(missing))
    finally:
        if saved is None:
            os.environ.pop("PULSE_SERVER", None)
        else:
            os.environ["PULSE_SERVER"] = saved
