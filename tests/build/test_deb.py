"""The .deb packages: built from the session's bundles, inspected, installed into a throwaway root with dpkg, run
from there as a school PC would run them, then removed and purged.

Uses the bundles tests/build/conftest.py builds once per session (so these tests run last, with the others here).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.version import VERSION
from tests.build.debs import (
    FakeSystemd,
    ThrowawayRoot,
    build_debs,
    control_fields,
    control_members,
    control_modes,
    data_members,
    depends_names,
)
from tests.build.running import (
    PLAYER_STARTED,
    assert_player_ran_and_stopped,
    read_text,
    sigint_caught,
    start_player,
    stop,
    wait_for,
)
from tests.helpers.bundles import REPO, Bundles
from tests.helpers.live_server import LiveServer

CONFFILE = "/etc/invigil/config.toml"
SERVER_DEFAULTS = "/etc/default/invigil-server"
SERVER_UNIT = "/usr/lib/systemd/system/invigil-server.service"
ICON_FILES = {
    "/usr/share/icons/hicolor/scalable/apps/invigil.svg",
    *(f"/usr/share/icons/hicolor/{size}x{size}/apps/invigil.png" for size in (48, 128, 256)),
}
PLAYER_FILES = {
    "/opt/invigil/invigil",
    "/usr/bin/invigil",
    "/usr/share/applications/invigil.desktop",
    "/usr/share/doc/invigil/copyright",
    CONFFILE,
    *ICON_FILES,
}
SERVER_SCRIPTS = ("prerm", "postinst", "postrm")
SERVER_FILES = {
    "/opt/invigil-server/invigil-server",
    "/usr/bin/invigil-server",
    SERVER_UNIT,
    SERVER_DEFAULTS,
    "/usr/share/doc/invigil-server/copyright",
    "/usr/share/doc/invigil-server/README.md",
}


def run_command(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command], capture_output=True, text=True, timeout=120, check=False)


def architecture() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def debs(bundles: Bundles) -> Iterator[dict[str, Path]]:
    """invigil and invigil-server, built once for this module; about 360 MB, removed at its end."""
    folder = Path(tempfile.mkdtemp(prefix="invigil-debs-"))
    try:
        yield build_debs(bundles.dist, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def make_root(debs: dict[str, Path], folder: Path) -> ThrowawayRoot:
    depends = set()
    for deb in debs.values():
        depends |= depends_names(control_fields(deb)["Depends"])
    return ThrowawayRoot.create(folder, depends_on=depends)


@pytest.fixture(scope="module")
def installed(debs: dict[str, Path]) -> Iterator[ThrowawayRoot]:
    """A throwaway root with both packages installed by dpkg, for the tests that run what was installed."""
    root = make_root(debs, Path(tempfile.mkdtemp(prefix="invigil-root-")))
    try:
        result = root.dpkg("--install", debs["invigil"], debs["invigil-server"])
        assert result.returncode == 0, result.stderr
        yield root
    finally:
        shutil.rmtree(root.path, ignore_errors=True)


@pytest.fixture
def fresh_root() -> Iterator[Path]:
    """An empty folder for a root of its own, removed afterwards even when the test fails with ~360 MB in it."""
    folder = Path(tempfile.mkdtemp(prefix="invigil-root-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def player_env(home: Path, **extra: str) -> dict[str, str]:
    """A desktop user's environment without the developer's INVIGIL_*, Python or Qt settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("INVIGIL_", "PYTHON", "QT_", "XDG_")) and name != "VIRTUAL_ENV"
    }
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), QT_QPA_PLATFORM="offscreen", INVIGIL_KEYRING_BACKEND="memory", **extra)
    return env


def run_installed(
    root: ThrowawayRoot, program: str, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root.under(program)), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


# ---- build-deb.sh ----------------------------------------------------------------------------------------------


def test_build_deb_sh_without_a_bundle_says_to_build_it_first(tmp_path: Path) -> None:
    result = run_command("bash", REPO / "packaging" / "deb" / "build-deb.sh", "--dist", tmp_path, "server")
    assert result.returncode == 2
    assert f"no bundle at {tmp_path}/invigil-server; build it first: build/build.sh --dist {tmp_path} server" in (
        result.stderr
    )
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_build_deb_sh_names_what_it_accepts() -> None:
    result = run_command("bash", REPO / "packaging" / "deb" / "build-deb.sh", "--compress", "lzma")
    assert result.returncode == 2
    assert "--compress: 'lzma' is not one of xz, gzip, zstd, none" in result.stderr
    result = run_command("bash", REPO / "packaging" / "deb" / "build-deb.sh", "everything")
    assert result.returncode == 2
    assert "unknown argument 'everything'; expected player, server or all" in result.stderr


# ---- what the packages hold ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_player_deb_names_itself_its_version_and_what_it_needs(debs: dict[str, Path]) -> None:
    fields = control_fields(debs["invigil"])
    assert debs["invigil"].name == f"invigil_{VERSION}_{architecture()}.deb"
    assert (fields["Package"], fields["Version"], fields["Architecture"]) == ("invigil", VERSION, architecture())
    assert fields["Section"] == "education"
    assert fields["Description"].startswith("Invigil test player for schools\n")
    assert fields["Depends"].startswith("libc6 (>= ")  # the bundle needs the build machine's glibc or newer
    assert {"libegl1", "libgl1", "libxcb1"} <= depends_names(fields["Depends"])
    sizes = sum(member.size for member in data_members(debs["invigil"]).values())
    assert sizes / 1024 <= int(fields["Installed-Size"]) <= sizes / 1024 * 1.05


@pytest.mark.slow
def test_player_deb_files_belong_to_root_and_only_root_may_change_them(debs: dict[str, Path]) -> None:
    members = data_members(debs["invigil"])
    assert set(members) >= PLAYER_FILES, sorted(PLAYER_FILES - set(members))
    assert {(m.uname, m.gname, m.uid, m.gid) for m in members.values()} == {("root", "root", 0, 0)}
    writable = sorted(path for path, m in members.items() if m.mode & 0o022 and not m.issym())
    assert not writable, f"group- or world-writable: {writable[:5]}"
    assert members["/usr/bin/invigil"].mode == 0o755
    assert members["/opt/invigil/invigil"].mode == 0o755
    assert all(members[path].mode == 0o644 for path in ICON_FILES | {CONFFILE})
    # The answer keys stay off students' machines (as in the bundle: tests/build/test_frozen.py).
    assert not [path for path in members if path.endswith("manifest.json")]


@pytest.mark.slow
def test_player_deb_has_one_conffile_and_no_maintainer_scripts(debs: dict[str, Path]) -> None:
    control = control_members(debs["invigil"])
    # No preinst/postinst/prerm/postrm: nothing runs as root on install or removal that could touch the students'
    # data. (A script added later must respect DPKG_ROOT, or the throwaway installs below would run it on this
    # machine itself; see tests/build/debs.py.)
    assert set(control) == {"control", "conffiles", "md5sums"}
    assert control["conffiles"] == f"{CONFFILE}\n"
    regular = {path for path, m in data_members(debs["invigil"]).items() if m.isfile()}
    assert {"/" + line.split("  ", 1)[1] for line in control["md5sums"].splitlines()} == regular


@pytest.mark.slow
def test_player_deb_depends_on_every_system_library_its_programs_link(debs: dict[str, Path], bundles: Bundles) -> None:
    bundle = bundles.folder("invigil")
    elf_files = [path for path in bundle.rglob("*") if path.is_file() and path.read_bytes()[:4] == b"\x7fELF"]
    dump = subprocess.run(["objdump", "-p", *map(str, elf_files)], capture_output=True, text=True, check=True).stdout
    needed = {line.split()[1] for line in dump.splitlines() if line.strip().startswith("NEEDED")}
    bundled = {path.name for path in bundle.rglob("*.so*")}
    from_system = sorted(needed - bundled)
    assert "libEGL.so.1" in from_system, "the scan found none of the libraries PyInstaller leaves to the system"
    owners = subprocess.run(["dpkg", "-S", *(f"*/{name}" for name in from_system)], capture_output=True, text=True)
    packages = {line.split(":", 1)[0] for line in owners.stdout.splitlines()}
    unowned = [name for name in from_system if f"/{name}" not in owners.stdout]
    assert not unowned, f"no installed package holds {unowned}; find where they come from"
    missing = packages - depends_names(control_fields(debs["invigil"])["Depends"])
    assert not missing, f"the player links libraries of {sorted(missing)}: add them to PLAYER_DEPENDS in build-deb.sh"


@pytest.mark.slow
def test_server_deb_ships_the_unit_and_a_symlinked_command(debs: dict[str, Path]) -> None:
    fields = control_fields(debs["invigil-server"])
    assert (fields["Package"], fields["Version"], fields["Architecture"]) == ("invigil-server", VERSION, architecture())
    members = data_members(debs["invigil-server"])
    assert set(members) >= SERVER_FILES, sorted(SERVER_FILES - set(members))
    assert members["/usr/bin/invigil-server"].linkname == "../../opt/invigil-server/invigil-server"
    unit = REPO / "deploy" / "systemd" / "invigil-server.service"
    assert members[SERVER_UNIT].size == unit.stat().st_size
    control = control_members(debs["invigil-server"])
    assert set(control) == {"control", "conffiles", "md5sums", *SERVER_SCRIPTS}
    assert control["conffiles"] == f"{SERVER_DEFAULTS}\n"
    # The scripts tests/build/test_installer_scripts.py runs (stop on removal, restart after an upgrade; never in
    # another root, never the data), as shipped: valid sh, executable.
    for script in SERVER_SCRIPTS:
        assert control[script] == (REPO / "packaging" / "deb" / f"invigil-server-{script}").read_text(), script
        result = subprocess.run(["sh", "-n"], input=control[script], capture_output=True, text=True, check=False)
        assert (result.returncode, result.stderr) == (0, ""), script
    modes = control_modes(debs["invigil-server"])
    assert {script: modes[script] for script in SERVER_SCRIPTS} == dict.fromkeys(SERVER_SCRIPTS, 0o755)


# ---- installed into a throwaway root ---------------------------------------------------------------------------


def write_conffile(root: ThrowawayRoot, text: str) -> Path:
    path = root.under(CONFFILE)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
def test_installed_launcher_reads_the_machine_config_from_etc_invigil(installed: ThrowawayRoot, tmp_path: Path) -> None:
    conffile = write_conffile(installed, 'sever_url = "http://127.0.0.1:9"\n')
    result = run_installed(installed, "/usr/bin/invigil", env=player_env(tmp_path / "home"))
    assert result.returncode == 2, result.stderr
    assert f"Invigil cannot start: {conffile}: sever_url: is not a known setting; did you mean server_url?" in (
        result.stderr
    )
    # INVIGIL_CONFIG set by the admin still wins over the package's file.
    other = tmp_path / "other.toml"
    other.write_text("log_level = 3\n", encoding="utf-8")
    result = run_installed(installed, "/usr/bin/invigil", env=player_env(tmp_path / "home", INVIGIL_CONFIG=str(other)))
    assert result.returncode == 2
    assert f"Invigil cannot start: {other}: log_level:" in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the SIGINT handler state from /proc")
def test_installed_player_starts_with_the_packaged_config_and_closes_on_ctrl_c(
    installed: ThrowawayRoot, live_server: LiveServer, tmp_path: Path
) -> None:
    # What an admin does: the server and the data folder in the packaged file; the menu entry runs `invigil`.
    data = tmp_path / "data"
    write_conffile(installed, f'server_url = "{live_server.url}"\ndata_dir = "{data}"\n')
    log_file = data / "logs" / "player.log"
    err = tmp_path / "player.err"
    player = start_player(
        [str(installed.under("/usr/bin/invigil"))], env=player_env(tmp_path / "home"), stderr_file=err
    )
    try:
        wait_for(lambda: PLAYER_STARTED in read_text(log_file), what="the start line", process=player, details=err)
        wait_for(lambda: sigint_caught(player.pid), what="the Ctrl+C handler", process=player, details=err)
        assert player.poll() is None, read_text(err)[-3000:]
    finally:
        code = stop(player, signal.SIGINT)
    # The launcher found the app under the root and handed it the installed conffile: its server and data folder.
    assert_player_ran_and_stopped(code, log_file=log_file, stderr_file=err, server=live_server.url, data=data)


@pytest.mark.slow
def test_installed_player_prints_its_version(installed: ThrowawayRoot, tmp_path: Path) -> None:
    # Passes once player/cli.py (the doctor work of issue 13) is merged.
    result = run_installed(installed, "/usr/bin/invigil", "--version", env=player_env(tmp_path / "home"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"invigil {VERSION}"


@pytest.mark.slow
def test_installed_player_runs_doctor_with_the_packaged_config(installed: ThrowawayRoot, tmp_path: Path) -> None:
    conffile = write_conffile(installed, 'server_url = "http://127.0.0.1:9"\n')  # nothing listens on port 9
    result = run_installed(installed, "/usr/bin/invigil", "doctor", "--json", env=player_env(tmp_path / "home"))
    assert result.returncode in (0, 1, 2), result.stderr
    report = json.loads(result.stdout)
    assert report["version"] == VERSION
    assert report["exit_status"] == result.returncode
    checks = {check["key"]: check for check in report["checks"]}
    assert {"config", "server", "disk_space"} <= set(checks)
    # The packaged config was read; run as root (as here), the one warning is that it checked root's, not a student's.
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    assert checks["config"]["status"] == ("warning" if as_root else "ok"), checks["config"]
    assert f"machine-wide {conffile} read, sets server_url" in checks["config"]["detail"]
    assert report["settings"]["server_url"]["source"] == str(conffile)
    assert checks["server"]["status"] == "failure"
    assert result.returncode == 2


@pytest.mark.slow
def test_installed_server_runs_through_its_symlink(installed: ThrowawayRoot, tmp_path: Path) -> None:
    db = tmp_path / "server" / "invigil.db"
    result = run_installed(installed, "/usr/bin/invigil-server", "--db", str(db), "init", env=player_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Database ready: sqlite:///{db}\n"
    assert (db.parent / "invigil.db.secret").stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
def test_installed_unit_passes_systemd_analyze_verify(installed: ThrowawayRoot) -> None:
    # verify resolves the unit's dependencies (sysinit.target, network-online.target, ...) and checks that
    # ExecStart's program exists, all under --root: so the root gets this machine's own units beside ours.
    units = Path("/usr/lib/systemd/system")
    assert (units / "sysinit.target").exists(), "systemd's units are missing here; ./scripts/setup-env installs systemd"
    copied = run_command("cp", "-an", f"{units}/.", installed.under(str(units)))
    assert copied.returncode == 0, copied.stderr
    result = run_command("systemd-analyze", "verify", f"--root={installed.path}", "invigil-server.service")
    assert (result.returncode, result.stderr) == (0, "")
    # The same check does catch a mistake: a misspelt setting in a copy of the unit.
    typo = installed.under("/etc/systemd/system/invigil-typo.service")
    typo.parent.mkdir(parents=True, exist_ok=True)
    typo.write_text(installed.under(SERVER_UNIT).read_text().replace("ProtectClock=", "ProtectClok="))
    result = run_command("systemd-analyze", "verify", f"--root={installed.path}", "invigil-typo.service")
    assert "Unknown key 'ProtectClok'" in result.stderr


@pytest.mark.slow
def test_server_upgrade_in_another_root_leaves_this_machines_services_alone(
    installed: ThrowawayRoot, debs: dict[str, Path], tmp_path: Path
) -> None:
    why = FakeSystemd.unavailable()
    if why:
        pytest.skip(f"cannot make a user and mount namespace here ({why})")
    systemd = FakeSystemd.create(tmp_path)
    # An upgrade over the installed version: dpkg runs the old prerm ("upgrade") and the new postinst ("configure
    # VERSION"), which on a server restarts a running service (test_installer_scripts.py). Here, with systemd
    # seemingly this machine's init, dpkg's DPKG_ROOT must keep them off this machine's services.
    result = installed.dpkg("--install", debs["invigil-server"], systemd=systemd)
    assert result.returncode == 0, result.stderr
    assert installed.installed_status("invigil-server") == "installed"
    assert systemd.calls() == []


# ---- remove and purge ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_remove_and_purge_keep_the_data_and_handle_the_conffiles(debs: dict[str, Path], fresh_root: Path) -> None:
    root = make_root(debs, fresh_root)
    result = root.dpkg("--install", debs["invigil"], debs["invigil-server"])
    assert result.returncode == 0, result.stderr
    # What a school PC and a server hold after use: each account's player data, a configured data_dir, the
    # server's database and key (with DynamicUser=, systemd keeps StateDirectory under /var/lib/private).
    data = {
        root.under("/home/student/.local/share/invigil/journal.sqlite"): b"answers not yet sent",
        root.under("/home/student/.local/share/invigil/machine-id"): b"room12-pc03\n",
        root.under("/var/lib/invigil/journal.sqlite"): b"answers of a shared data_dir",
        root.under("/var/lib/private/invigil-server/invigil.db"): b"the server's database",
        root.under("/var/lib/private/invigil-server/invigil.db.secret"): b"the server's key",
    }
    for path, content in data.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    edited = '# Room 12\nserver_url = "https://invigil.example.org"\n'
    write_conffile(root, edited)

    result = root.dpkg("--remove", "invigil", "invigil-server")
    assert result.returncode == 0, result.stderr
    assert root.installed_status("invigil") == "config-files"
    assert not root.under("/opt/invigil").exists()
    assert not root.under("/opt/invigil-server").exists()
    assert not [
        path
        for path in PLAYER_FILES | SERVER_FILES
        if root.under(path).exists() and path not in (CONFFILE, SERVER_DEFAULTS)
    ]
    assert root.under(CONFFILE).read_text(encoding="utf-8") == edited  # removal keeps the admin's settings
    assert root.under(SERVER_DEFAULTS).exists()

    # Installing again (as an upgrade would) keeps the edited file without asking: the packaged one is unchanged.
    result = root.dpkg("--install", debs["invigil"])
    assert result.returncode == 0, result.stderr
    assert root.installed_status("invigil") == "installed"
    assert root.under(CONFFILE).read_text(encoding="utf-8") == edited

    result = root.dpkg("--purge", "invigil", "invigil-server")
    assert result.returncode == 0, result.stderr
    assert root.installed_status("invigil") == root.installed_status("invigil-server") == ""
    assert not root.under("/etc/invigil").exists()
    assert not root.under(SERVER_DEFAULTS).exists()
    assert not root.under("/opt/invigil").exists()
    assert {path: path.read_bytes() for path in data} == data, "the data must outlive the packages"
