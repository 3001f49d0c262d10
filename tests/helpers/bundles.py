"""The PyInstaller bundles tests/build checks: build/build.sh run in the background, and what it built."""

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
