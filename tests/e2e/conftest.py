"""End-to-end setup: the real server and the real player, each as its own process, talking over loopback HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers.e2e import E2EServer, serve_demo
from tests.helpers.null_sink import NoSoundServer, null_sink_server


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EServer]:
    """`invigil-server demo-seed --json`, then `serve --port 0`, as the quick start does; stopped at the end."""
    with serve_demo(tmp_path_factory.mktemp("server")) as server:
        yield server


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
