"""The PyInstaller bundles for tests/build: build/build.sh starts in the background as soon as the tests that need
the bundles are collected, and those tests run last, so the build overlaps the rest of the suite.

Building both bundles takes over a minute of CPU, and most of the suite keeps only one of the two cores busy. The
build runs at a lower priority (nice 10), so the tests running beside it keep the CPU they would have alone.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_SH = REPO / "build" / "build.sh"
BUILD_TIMEOUT_S = 900.0
USES_BUNDLES = "bundles"
"""The fixture name that marks a test as needing the built bundles."""


@dataclass(frozen=True)
class Bundles:
    dist: Path
    report: str
    """What build.sh printed on stdout: the folder and size of each bundle."""

    def folder(self, name: str) -> Path:
        return self.dist / name

    def executable(self, name: str) -> Path:
        return self.folder(name) / (name + (".exe" if sys.platform == "win32" else ""))

    def modules(self, name: str) -> set[str]:
        """The Python modules frozen into an executable's archive."""
        from PyInstaller.archive.readers import CArchiveReader  # here: the module must load without PyInstaller

        archive = CArchiveReader(str(self.executable(name)))
        return set(archive.open_embedded_archive("PYZ.pyz").toc)


@dataclass
class BackgroundBuild:
    """`build.sh all` into a temporary folder, running while other tests do; removed with its output at the end."""

    folder: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls) -> BackgroundBuild:
        folder = Path(tempfile.mkdtemp(prefix="invigil-pyinstaller-"))
        command = ["bash", str(BUILD_SH), "--dist", str(folder / "dist"), "--work", str(folder / "work"), "all"]
        nice = shutil.which("nice")
        if nice is not None:
            command = [nice, "-n", "10", *command]
        env = {**os.environ, "INVIGIL_VENV": sys.prefix}
        with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:  # the child keeps copies
            # Its own process group, so that stopping it also stops the two PyInstaller processes it starts.
            process = subprocess.Popen(command, stdout=out, stderr=err, env=env, start_new_session=True)
        return cls(folder=folder, process=process)

    def finish(self, timeout: float) -> Bundles:
        """Wait for the build; fail the test with build.sh's stderr if it failed or took longer than `timeout`."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"build.sh did not finish within {timeout:.0f} s")
        if code != 0:
            pytest.fail(f"build.sh failed ({code}):\n{self._read('stderr')[-4000:]}")
        return Bundles(dist=self.folder / "dist", report=self._read("stdout"))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def remove(self) -> None:
        self.stop()
        # About 330 MB: do not leave it behind.
        shutil.rmtree(self.folder, ignore_errors=True)

    def _read(self, name: str) -> str:
        return (self.folder / name).read_text(encoding="utf-8", errors="replace")


BUILD = pytest.StashKey[BackgroundBuild]()


def pyinstaller_missing() -> bool:
    return importlib.util.find_spec("PyInstaller") is None


@pytest.hookimpl(trylast=True)  # after -k, -m and deselection have had their say
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needing = [item for item in items if USES_BUNDLES in getattr(item, "fixturenames", ())]
    if not needing:
        return
    wanted = set(needing)
    items[:] = [item for item in items if item not in wanted] + needing
    if not config.option.collectonly and not pyinstaller_missing():
        config.stash[BUILD] = BackgroundBuild.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    build = session.config.stash.get(BUILD, None)
    if build is not None:
        build.remove()


@pytest.fixture(scope="session")
def bundles(pytestconfig: pytest.Config) -> Bundles:
    """Both bundles, built once per session by build.sh (side by side) into a temporary folder; removed at the end."""
    if pyinstaller_missing():
        pytest.skip("PyInstaller is not installed here; ./scripts/setup-env installs it with the dev extras")
    build = pytestconfig.stash.get(BUILD, None)
    if build is None:  # not started at collection (a test asked for the fixture some other way): start it now
        build = pytestconfig.stash[BUILD] = BackgroundBuild.start()
    return build.finish(BUILD_TIMEOUT_S)
