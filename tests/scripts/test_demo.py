"""scripts/demo as a person runs it: it stops everything it started, outlives a dead player, and resumes its school.

Each run is a real process group (as a terminal makes one): the script, its server and its player. The demo keeps
its data in the test's folder (INVIGIL_DEMO_DIR) and uses this test's environment (INVIGIL_DEMO_VENV).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.e2e import REPO, LineReader, isolated_env
from tests.helpers.waiting import wait_until

START_S = 90.0
"""Seeding a school and starting the server (and the player) on 2 busy cores."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """As the demo itself checks (SO_REUSEADDR, so sockets in TIME_WAIT do not count), and nothing answers there."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def group_members(pgid: int) -> list[str]:
    """The processes still in the process group: 'pid command line' each."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue  # it ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(f"{stat.parent.name} {cmdline.strip()}")
    return found


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@dataclass
class Demo:
    """One run of ./scripts/demo in its own process group, its output read line by line."""

    process: subprocess.Popen[str]
    lines: LineReader
    seen: list[str] = field(default_factory=list)

    def wait_for(self, pattern: str, timeout: float = START_S) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (line := self.lines.next(deadline - time.monotonic())) is not None:
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        pytest.fail(f"the demo never printed /{pattern}/; it printed:\n" + "\n".join(self.seen))

    def output(self) -> str:
        self.seen += self.lines.rest()
        return "\n".join(self.seen)


RunDemo = Callable[..., Demo]
"""run_demo(*args, display=False, port=None): start ./scripts/demo with these arguments."""


@pytest.fixture
def run_demo(tmp_path: Path) -> Iterator[RunDemo]:
    started: list[Demo] = []

    def run(*args: str, display: bool = False, port: int | None = None) -> Demo:
        env = isolated_env(
            tmp_path / "env",
            INVIGIL_DEMO_DIR=str(tmp_path / "demo"),
            INVIGIL_DEMO_VENV=str(Path(sys.executable).parent.parent),
            INVIGIL_DEMO_PORT=str(port or free_port()),
        )
        env.pop("WAYLAND_DISPLAY", None)
        env.pop("DISPLAY", None)
        if display:
            env["DISPLAY"] = ":invigil-test"  # the player opens offscreen (QT_QPA_PLATFORM), never on this
        process = subprocess.Popen(
            ["bash", str(REPO / "scripts" / "demo"), *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
        demo = Demo(process, LineReader(process.stdout))
        started.append(demo)
        return demo

    yield run
    for demo in started:  # a failed test must not leave a demo behind
        if demo.process.poll() is None or group_members(demo.process.pid):
            os.killpg(demo.process.pid, signal.SIGKILL)
            demo.process.wait()
        if demo.process.stdout is not None:
            demo.process.stdout.close()


def stopped_cleanly(demo: Demo, port: int) -> None:
    demo.process.wait(timeout=30)
    wait_until(lambda: not group_members(demo.process.pid), what="every process the demo started to end", timeout=5)
    assert port_is_free(port), f"port {port} is still taken after the demo stopped"


def test_sigterm_to_the_demo_stops_its_server_and_frees_the_port(run_demo: RunDemo, tmp_path: Path) -> None:
    port = free_port()
    demo = run_demo(port=port)
    api = demo.wait_for(r"The server is up at (\S+)").group(1)
    demo.wait_for("Press Ctrl\\+C to stop")
    assert answers(api)
    server = [m for m in group_members(demo.process.pid) if "invigil-server" in m]
    assert server, group_members(demo.process.pid)

    demo.process.send_signal(signal.SIGTERM)  # to the script alone, as `kill <pid>` or a closed session does

    stopped_cleanly(demo, port)
    assert not answers(api)
    assert not (tmp_path / "demo" / "server.pid").exists()


@pytest.mark.parametrize("stop", ["Ctrl+C in its terminal", "SIGTERM to the script alone"])
def test_stopping_the_demo_stops_the_player_and_the_server(run_demo: RunDemo, stop: str) -> None:
    port = free_port()
    demo = run_demo(display=True, port=port)
    demo.wait_for("Opening the player")
    wait_until(
        lambda: any(" --data-dir " in m and "invigil-server" not in m for m in group_members(demo.process.pid)),
        what="the player process",
        timeout=START_S,
    )

    if stop == "Ctrl+C in its terminal":
        os.killpg(demo.process.pid, signal.SIGINT)  # the terminal sends it to the whole foreground group
    else:
        demo.process.send_signal(signal.SIGTERM)  # while the player is open: bash must not wait for it to close

    stopped_cleanly(demo, port)


def test_the_server_outlives_a_dead_player_and_the_demo_says_how_to_resume(run_demo: RunDemo, tmp_path: Path) -> None:
    port = free_port()
    demo = run_demo(display=True, port=port)
    api = demo.wait_for(r"The server is up at (\S+)").group(1)
    demo.wait_for("Opening the player")
    player: list[str] = []

    def find_player() -> bool:
        player[:] = [m for m in group_members(demo.process.pid) if " --data-dir " in m and "invigil-server" not in m]
        return bool(player)

    wait_until(find_player, what="the player process", timeout=START_S)
    os.kill(int(player[0].split()[0]), signal.SIGKILL)  # the player dies

    demo.wait_for("The player stopped unexpectedly")
    command = demo.wait_for(r"^    (\S*invigil .*)$").group(1)
    assert answers(api), "the server stopped with the player"
    words = shlex.split(command)
    assert words[words.index("--server") + 1] == api.removesuffix("/").removesuffix("/api/v1")
    assert words[words.index("--data-dir") + 1] == str(tmp_path / "demo" / "player")
    assert Path(words[0]).name == "invigil"
    assert Path(words[0]).is_file()
    # Qt's and FFmpeg's chatter went to the log file, not the terminal.
    log = tmp_path / "demo" / "player-output.log"
    assert command.endswith(f">>{log} 2>&1")
    assert log.is_file()
    assert not [line for line in demo.seen if line.startswith(("qt.", "[ffmpeg", "QStandardPaths"))], demo.seen

    demo.process.send_signal(signal.SIGTERM)
    stopped_cleanly(demo, port)


def test_a_second_run_resumes_the_same_school_and_fresh_starts_a_new_one(run_demo: RunDemo) -> None:
    def codes(demo: Demo) -> list[str]:
        demo.wait_for("Press Ctrl\\+C to stop")
        demo.process.send_signal(signal.SIGTERM)
        demo.process.wait(timeout=30)
        # Each code once: the curl example repeats the first.
        return list(dict.fromkeys(re.findall(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b", demo.output())))

    first = codes(run_demo())
    again = run_demo()
    resumed = codes(again)
    fresh = codes(run_demo("--fresh"))

    assert len(first) == 3, first
    assert resumed == first
    assert "Resuming the demo" in again.output()
    assert set(fresh).isdisjoint(first)
