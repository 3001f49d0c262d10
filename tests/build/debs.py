"""The .deb packages for tests/build: packaging/deb/build-deb.sh run on the session's bundles, reading a package's
control data and files, and a throwaway root that dpkg installs into and removes from as it would on a school PC.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.bundles import REPO

BUILD_DEB = REPO / "packaging" / "deb" / "build-deb.sh"
DPKG_STATUS = Path("/var/lib/dpkg/status")
TIMEOUT_S = 120.0


def run(*command: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command], capture_output=True, text=True, env=env, timeout=TIMEOUT_S, check=False)


def build_debs(dist: Path, out: Path) -> dict[str, Path]:
    """Both packages from the bundles in `dist`, uncompressed (seconds instead of a minute of xz); name -> file."""
    result = run("bash", BUILD_DEB, "--dist", dist, "--out", out, "--compress", "none", "all")
    assert result.returncode == 0, result.stderr
    files = [Path(line) for line in result.stdout.splitlines()]
    return {path.name.split("_", 1)[0]: path for path in files}


def control_fields(deb: Path) -> dict[str, str]:
    """DEBIAN/control as a dict (a continued field's lines joined with newlines)."""
    result = run("dpkg-deb", "--field", deb)
    assert result.returncode == 0, result.stderr
    fields: dict[str, str] = {}
    name = ""
    for line in result.stdout.splitlines():
        if line.startswith((" ", "\t")):
            fields[name] += "\n" + line.strip()
        else:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields


def control_members(deb: Path) -> dict[str, str]:
    """The files of the control archive (control, conffiles, md5sums, maintainer scripts): name -> text."""
    archive = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb)], capture_output=True, check=True).stdout
    members: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
        for member in tar:
            if member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                members[member.name.removeprefix("./")] = handle.read().decode("utf-8")
    return members


def control_modes(deb: Path) -> dict[str, int]:
    """The permission bits of each file of the control archive (a maintainer script must be executable)."""
    archive = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb)], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
        return {member.name.removeprefix("./"): member.mode for member in tar if member.isfile()}


def data_members(deb: Path) -> dict[str, tarfile.TarInfo]:
    """Every entry of the data archive, by its installed path ("/opt/invigil/invigil")."""
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        with tarfile.open(fileobj=process.stdout, mode="r|") as tar:
            entries = {"/" + member.name.removeprefix("./").rstrip("/"): member for member in tar}
    assert process.returncode == 0
    return entries


def depends_names(field: str) -> set[str]:
    """Every package a Depends field names, alternatives included, without versions or architectures."""
    return {re.split(r"[\s(:]", alt.strip(), maxsplit=1)[0] for part in field.split(",") for alt in part.split("|")}


# Stands in for systemctl: notes each call, fails when SYSTEMCTL_FAILS is set.
FAKE_SYSTEMCTL = '#!/bin/sh\nprintf "%s\\n" "$*" >>"$SYSTEMCTL_CALLS"\n[ -z "${SYSTEMCTL_FAILS:-}" ]\n'
# Run by `unshare` in a user and mount namespace of its own: a tmpfs over /run holding /run/systemd/system (how a
# maintainer script tells that systemd is the running init), so the real /run and systemd are never touched.
AS_UNDER_SYSTEMD = 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && exec "$@"'


@dataclass(frozen=True)
class FakeSystemd:
    """A machine that looks as if systemd were its init, with a fake systemctl first on PATH that notes its calls."""

    folder: Path

    @classmethod
    def create(cls, folder: Path) -> FakeSystemd:
        (folder / "bin").mkdir(parents=True, exist_ok=True)
        fake = folder / "bin" / "systemctl"
        fake.write_text(FAKE_SYSTEMCTL, encoding="utf-8")
        fake.chmod(0o755)
        (folder / "calls").write_text("", encoding="utf-8")
        return cls(folder)

    @staticmethod
    def unavailable() -> str:
        """Why no such namespace can be made here ("" when it can)."""
        probe = subprocess.run(FakeSystemd.wrap(["true"]), capture_output=True, text=True, check=False)
        return "" if probe.returncode == 0 else f"unshare: {probe.stderr.strip()}"

    @staticmethod
    def wrap(command: list[str]) -> list[str]:
        return ["unshare", "--map-root-user", "--mount", "sh", "-c", AS_UNDER_SYSTEMD, "sh", *command]

    def env(self, *, fails: bool = False) -> dict[str, str]:
        env = {"PATH": f"{self.folder / 'bin'}:{os.environ.get('PATH', '')}:/usr/local/sbin:/usr/sbin:/sbin"}
        env["SYSTEMCTL_CALLS"] = str(self.folder / "calls")
        if fails:
            env["SYSTEMCTL_FAILS"] = "1"
        return env

    def calls(self) -> list[str]:
        """The systemctl calls since the last time they were read."""
        path = self.folder / "calls"
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("", encoding="utf-8")
        return lines


@dataclass(frozen=True)
class ThrowawayRoot:
    """A folder that dpkg treats as a system root (--root: files under it, its own package database).

    The database starts with this machine's own entries for the packages a .deb depends on, so dpkg checks the
    Depends against what is really installed here (the packages' files are not copied: only their records).
    --force-script-chrootless runs maintainer scripts without chroot(2), with DPKG_ROOT set to the root, as
    dpkg's documentation describes for installing into another root; --force-not-root lets the same commands
    run without root; --force-unsafe-io skips the fsync per file, which a throwaway folder does not need.
    """

    path: Path

    @property
    def admindir(self) -> Path:
        return self.path / "var" / "lib" / "dpkg"

    @classmethod
    def create(cls, path: Path, *, depends_on: set[str]) -> ThrowawayRoot:
        root = cls(path)
        for folder in ("info", "updates", "triggers"):
            (root.admindir / folder).mkdir(parents=True, exist_ok=True)
        stanzas = []
        for stanza in DPKG_STATUS.read_text(encoding="utf-8").split("\n\n"):
            fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
            if fields.get("Package") in depends_on and fields.get("Status") == "install ok installed":
                stanzas.append(stanza.strip("\n"))
                # The file list dpkg reads for an installed package (empty: its files are this machine's).
                arch = f":{fields['Architecture']}" if fields.get("Multi-Arch") == "same" else ""
                (root.admindir / "info" / f"{fields['Package']}{arch}.list").touch()
        (root.admindir / "status").write_text("\n\n".join(stanzas) + "\n", encoding="utf-8")
        return root

    def dpkg(self, *args: str | Path, systemd: FakeSystemd | None = None) -> subprocess.CompletedProcess[str]:
        """dpkg on this root; with `systemd`, as on a machine whose init is systemd, its systemctl calls noted."""
        # dpkg looks for ldconfig and start-stop-daemon on PATH before it acts, even when it will not run them.
        env = {**os.environ, "PATH": f"{os.environ.get('PATH', '')}:/usr/local/sbin:/usr/sbin:/sbin"}
        command = ["dpkg", f"--root={self.path}", "--force-script-chrootless,not-root,unsafe-io", *map(str, args)]
        if systemd is not None:
            env.update(systemd.env())
            command = systemd.wrap(command)
        return run(*command, env=env)

    def installed_status(self, package: str) -> str:
        """dpkg's status word for `package` in this root: "installed", "config-files", or "" when unknown."""
        result = run("dpkg-query", f"--admindir={self.admindir}", "-W", "-f=${db:Status-Status}", package)
        return result.stdout.strip() if result.returncode == 0 else ""

    def under(self, path: str) -> Path:
        """An absolute installed path ("/etc/invigil/config.toml") inside this root."""
        return self.path / path.lstrip("/")
