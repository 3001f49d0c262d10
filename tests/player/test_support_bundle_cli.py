"""`invigil support-bundle` as an IT admin runs it (the real `python -m player` in its own process): --output a
folder writes the default-named zip in it; a destination that is no folder, or a disk that fails mid-write, gives
a numbered message on stderr and leaves nothing behind (no zip, no .partial). The mid-write failures are real: the
kernel's file-size limit (RLIMIT_FSIZE) in the child, and in process a disk that fills (ENOSPC) after some bytes."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import zipfile
from pathlib import Path
from types import TracebackType
from typing import IO

import pytest

from player.config import ConfigSources
from player.support_bundle import make_support_bundle
from tests.helpers.player_cli import PLAYER, run_player

NAME = re.compile(r"invigil-support-\d{8}-\d{6}\.zip")
LIMITED_PLAYER = """
import resource, runpy, signal, sys
limit = int(sys.argv.pop(1))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
runpy.run_module("player", run_name="__main__", alter_sys=True)
"""
"""`python -m player` with a largest file size: argv is the limit, then the player's arguments."""


def run_bundle(home: Path, *args: str, file_size_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m player support-bundle ARGS` with its own config (a server nobody listens on: doctor's server
    check fails at once), data folder and no sound server; file_size_limit: the largest file it may write."""
    (home / "etc").mkdir(parents=True, exist_ok=True)
    machine_file = home / "etc" / "config.toml"
    machine_file.write_text(
        f'server_url = "http://127.0.0.1:9"\ndata_dir = "{home / "data"}"\nkeyring_backend = "memory"\n'
    )
    python_args: tuple[str, ...] = PLAYER
    if file_size_limit is not None:
        # The limit is set by the child itself, then `python -m player` runs as usual (no preexec_fn: the test
        # process has threads). With SIGXFSZ ignored, a write past the limit fails with EFBIG instead of killing.
        python_args = ("-c", LIMITED_PLAYER, str(file_size_limit))
    return run_player(
        "support-bundle",
        *args,
        cwd=home,
        machine_file=machine_file,
        config_home=home / "config",
        data_home=home / "xdg-data",
        pulse_server="unix:/nonexistent",
        python_args=python_args,
    )


def last_line(stderr: str) -> str:
    """Qt may print its own notes on stderr first (no PipeWire, no PulseAudio): the command's message is last."""
    return stderr.strip().splitlines()[-1]


def test_output_a_folder_writes_the_default_named_zip_in_it(tmp_path: Path) -> None:
    out = tmp_path / "for support"
    out.mkdir()

    done = run_bundle(tmp_path, "--output", str(out))

    assert done.returncode == 0, done.stderr
    made = [p.name for p in out.iterdir()]
    assert len(made) == 1, made
    assert NAME.fullmatch(made[0]), made
    assert done.stdout == f"Support bundle written to {out / made[0]}\n"
    with zipfile.ZipFile(out / made[0]) as bundle:
        assert "invigil-support/README.txt" in bundle.namelist()


@pytest.mark.parametrize("where", ["missing", "a file"])
def test_a_destination_in_no_folder_is_refused_with_its_number(tmp_path: Path, where: str) -> None:
    parent = tmp_path / "nowhere"
    if where == "a file":
        parent.write_text("not a folder\n")

    done = run_bundle(tmp_path, "--output", str(parent / "b.zip"))

    assert done.returncode == 2
    what = "is a file" if where == "a file" else "does not exist"
    assert last_line(done.stderr) == (
        f"invigil support-bundle: cannot write the bundle to {parent / 'b.zip'}: {parent} {what}. Give --output an "
        f"existing folder (the zip is named for you) or a .zip path in one. (INV-5101)"
    )
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc", *(["nowhere"] if where == "a file" else [])]


def test_a_write_that_fails_midway_leaves_nothing_behind(tmp_path: Path) -> None:
    """The log is a megabyte of random hex (it compresses to about half), the file-size limit 256 kB: the zip
    cannot be finished, for real, while it is being written."""
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    (logs / "player.log").write_text(os.urandom(500_000).hex())
    out = tmp_path / "out"
    out.mkdir()

    done = run_bundle(tmp_path, "--output", str(out / "bundle.zip"), file_size_limit=256_000)

    assert done.returncode == 2
    assert last_line(done.stderr) == (
        f"invigil support-bundle: cannot write {out / 'bundle.zip'}: File too large. Nothing was left behind; free "
        f"some space or give --output another folder. (INV-5102)"
    )
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # never "written" for a zip cut short
    assert list(out.iterdir()) == []  # neither the zip nor .bundle.zip.partial


class FillingDisk:
    """A file on a disk that fills: the first `room` bytes are written (to the real file), then ENOSPC, as a full
    disk gives. Notes whether the file was there when the disk filled, so the test knows cleanup had work to do."""

    def __init__(self, path: Path, room: int) -> None:
        self.path = path
        self.file: IO[bytes] = path.open("wb")
        self.room = room
        self.existed_when_full = False

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.existed_when_full = self.path.exists()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        self.room -= len(data)
        return self.file.write(data)

    def tell(self) -> int:
        return self.file.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def seekable(self) -> bool:
        return True

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> FillingDisk:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def test_a_disk_that_fills_leaves_no_partial_file(tmp_path: Path) -> None:
    sources = ConfigSources(machine_file=tmp_path / "none.toml", user_file=tmp_path / "none-either.toml", env={})
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    (logs / "player.log").write_text(os.urandom(50_000).hex())
    out = tmp_path / "out"
    out.mkdir()
    opened: list[FillingDisk] = []

    def open_on_a_filling_disk(path: Path) -> IO[bytes]:
        opened.append(FillingDisk(path, room=4_000))
        return opened[-1]  # type: ignore[return-value]  # the calls zipfile makes of a file

    with pytest.raises(OSError, match="No space left on device") as raised:
        make_support_bundle(
            None,
            out / "b.zip",
            report=None,
            sources=sources,
            data_dir=tmp_path / "data",
            open_file=open_on_a_filling_disk,
        )

    assert raised.value.errno == errno.ENOSPC
    assert opened[0].path == out / ".b.zip.partial"
    assert opened[0].existed_when_full  # there was a partial file to remove
    assert list(out.iterdir()) == []
