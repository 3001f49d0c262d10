"""What can be checked here of the installers that are not built here (Windows, macOS), and of the files the .deb
packages carry: the Inno Setup script, the macOS Info.plist and icons, the desktop entry, the example configs and
the systemd unit's command lines. Fast: no bundle needed (tests/build/test_deb.py builds and installs the .debs).
"""

from __future__ import annotations

import ast
import plistlib
import re
import runpy
import shlex
import struct
import subprocess
from pathlib import Path

import pytest

from player.config import APP_NAME, CONFIG_FILE_NAME, ConfigSources, load_config
from sync.server.cli import build_parser
from sync.server.settings import database_url
from sync.version import VERSION
from tests.build.debs import FakeSystemd, depends_names
from tests.helpers.bundles import REPO
from tests.scripts.test_setup_env import setup_list

PACKAGING = REPO / "packaging"
ISS = PACKAGING / "windows" / "invigil.iss"
UNIT = REPO / "deploy" / "systemd" / "invigil-server.service"
EXAMPLE_CONFIGS = [
    PACKAGING / "deb" / "config.toml",
    PACKAGING / "windows" / "config.toml",
    PACKAGING / "macos" / "config.toml",
]


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command], capture_output=True, text=True, timeout=60, check=False)


# ---- Windows: the Inno Setup script ----------------------------------------------------------------------------


def iss_sections(text: str) -> dict[str, list[str]]:
    """Each [Section]'s lines, without comments and blank lines ([Code] keeps its Pascal as written)."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        header = re.fullmatch(r"\[(\w+)\]", line.strip())
        if header:
            current = header.group(1)
            sections[current] = []
        elif current and line.strip() and (current == "Code" or not line.lstrip().startswith(";")):
            sections[current].append(line)
    return sections


def iss_setup(sections: dict[str, list[str]]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in sections["Setup"])


def iss_entries(lines: list[str]) -> list[dict[str, str]]:
    """`Name: "x"; Flags: a b` lines as dicts, quotes removed."""
    entries = []
    for line in lines:
        parts = (part.split(":", 1) for part in line.split("; "))
        entries.append({key.strip(): value.strip().strip('"') for key, value in parts})
    return entries


@pytest.fixture(scope="module")
def iss() -> dict[str, list[str]]:
    return iss_sections(ISS.read_text(encoding="utf-8"))


def test_iss_version_is_the_one_version() -> None:
    match = re.search(r'^\s*#define AppVersion "([^"]+)"$', ISS.read_text(encoding="utf-8"), re.M)
    assert match, "invigil.iss has no default AppVersion"
    assert match.group(1) == VERSION


def test_iss_setup_installs_for_the_machine_under_its_version(iss: dict[str, list[str]]) -> None:
    setup = iss_setup(iss)
    assert re.fullmatch(r"\{\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}", setup["AppId"]), "AppId must stay fixed"
    assert setup["AppVersion"] == "{#AppVersion}"
    assert setup["OutputBaseFilename"] == "invigil-setup-{#AppVersion}"
    assert setup["PrivilegesRequired"] == "admin"
    assert setup["DefaultDirName"] == r"{autopf}\Invigil"
    icon = ISS.parent / setup["SetupIconFile"].replace("\\", "/")
    assert icon.resolve() == REPO / "resources" / "icons" / "invigil.ico"


def test_iss_puts_the_example_config_where_the_player_reads_it_and_keeps_it(iss: dict[str, list[str]]) -> None:
    files = iss_entries(iss["Files"])
    bundle = next(entry for entry in files if entry["Source"] == r"{#BundleDir}\*")
    assert {"recursesubdirs", "createallsubdirs"} <= set(bundle["Flags"].split())
    config = next(entry for entry in files if entry["Source"] == CONFIG_FILE_NAME)
    # player/config.py: platformdirs' site config folder on Windows is %ProgramData%\<APP_NAME>.
    assert config["DestDir"] == "{commonappdata}\\" + APP_NAME
    assert {"onlyifdoesntexist", "uninsneveruninstall"} <= set(config["Flags"].split())
    assert (ISS.parent / CONFIG_FILE_NAME).is_file()
    code = "\n".join(iss["Code"])
    assert f"MachineConfig = '{{commonappdata}}\\{APP_NAME}\\{CONFIG_FILE_NAME}';" in code


def test_iss_makes_start_menu_and_optional_desktop_shortcuts(iss: dict[str, list[str]]) -> None:
    icons = {entry["Name"]: entry for entry in iss_entries(iss["Icons"])}
    assert icons[r"{autoprograms}\Invigil"]["Filename"] == r"{app}\invigil.exe"
    assert icons[r"{autodesktop}\Invigil"]["Tasks"] == "desktopicon"
    assert [entry["Name"] for entry in iss_entries(iss["Tasks"])] == ["desktopicon"]


def test_iss_takes_config_and_stays_silent(iss: dict[str, list[str]]) -> None:
    header = ISS.read_text(encoding="utf-8").split("[Setup]", 1)[0]
    assert "/VERYSILENT /SUPPRESSMSGBOXES /NORESTART /CONFIG=" in header
    code = "\n".join(iss["Code"])
    assert "ExpandConstant('{param:CONFIG|}')" in code
    assert "FileExists(Source)" in code.split("function InitializeSetup", 1)[1].split("end;\n\n", 1)[0]
    # A plain MsgBox would wait for a click that never comes in a /VERYSILENT install on 30 machines.
    assert not re.search(r"(?<!Suppressible)MsgBox\(", code)
    assert "SuppressibleMsgBox(" in code
    runs = iss_entries(iss["Run"])
    assert all("skipifsilent" in entry["Flags"].split() for entry in runs)


def test_iss_upgrade_deletes_the_old_program_files_and_nothing_else(iss: dict[str, list[str]]) -> None:
    deleted = {(entry["Type"], entry["Name"]) for entry in iss_entries(iss["InstallDelete"])}
    # The two things at the top of the one-folder bundle (build/invigil.spec: PyInstaller's default contents
    # folder, _internal); a new version's files are then copied into an empty place.
    assert deleted == {("filesandordirs", r"{app}\_internal"), ("files", r"{app}\invigil.exe")}
    assert "contents_directory" not in (REPO / "build" / "invigil.spec").read_text(encoding="utf-8")
    # Never {app} itself or all of it (the uninstaller unins000.* lives there), never the data or the config.
    assert all(name.startswith("{app}\\") and "*" not in name for _, name in deleted)
    # [InstallDelete] runs before [Files]: the order setup works in, and the order read here.
    sections = list(iss)
    assert sections.index("InstallDelete") < sections.index("Files")


def test_iss_uninstall_leaves_the_data_and_the_config(iss: dict[str, list[str]]) -> None:
    assert "UninstallDelete" not in iss
    text = ISS.read_text(encoding="utf-8")
    assert not re.search(r"DelTree|DeleteFile|RemoveDir", text)
    assert "{localappdata}" not in text
    assert "{userappdata}" not in text


# ---- macOS: the app bundle and the installer package -----------------------------------------------------------


def test_info_plist_reads_and_leaves_the_version_to_the_spec() -> None:
    info = plistlib.loads((PACKAGING / "macos" / "Info.plist").read_bytes())
    assert info["CFBundleDisplayName"] == "Invigil"
    assert info["LSApplicationCategoryType"] == "public.app-category.education"
    assert info["NSHighResolutionCapable"] is True
    assert not {"CFBundleShortVersionString", "CFBundleVersion", "CFBundleIdentifier"} & set(info)


def test_player_spec_bundles_the_app_on_macos_with_the_one_version() -> None:
    spec = (REPO / "build" / "invigil.spec").read_text(encoding="utf-8")
    bundle = spec.split("BUNDLE(\n", 1)[1].split("\n    )", 1)[0]
    assert 'bundle_identifier="org.invigil.player"' in bundle
    assert "version=VERSION" in bundle
    assert '"packaging" / "macos" / "Info.plist"' in bundle
    # The spec reads VERSION with this expression (it does not import sync); it must find the real one.
    expression = re.search(r"^VERSION = re\.search\((r'[^']+'),", spec, re.M)
    assert expression, "the spec no longer reads VERSION from sync/version.py"
    pattern = ast.literal_eval(expression.group(1))
    found = re.search(pattern, (REPO / "sync" / "version.py").read_text(encoding="utf-8"), re.M)
    assert found
    assert found.group(1) == VERSION


def test_macos_pkg_script_says_it_needs_macos(tmp_path: Path) -> None:
    script = PACKAGING / "macos" / "build-pkg.sh"
    assert run("bash", "-n", script).returncode == 0
    assert run("sh", "-n", PACKAGING / "macos" / "scripts" / "postinstall").returncode == 0
    result = run("bash", script, "--dist", tmp_path)
    assert result.returncode == 2
    assert "pkgbuild is missing: it comes with macOS" in result.stderr


def test_icon_files_hold_the_sizes_each_os_asks_for() -> None:
    icons = REPO / "resources" / "icons"
    for size in (48, 128, 256):
        png = (icons / f"invigil-{size}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", png[16:24]) == (size, size)
    ico = (icons / "invigil.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1)
    sizes = {ico[6 + 16 * i] or 256 for i in range(count)}
    assert sizes == {16, 32, 48, 256}
    icns = (icons / "invigil.icns").read_bytes()
    assert icns[:4] == b"icns"
    assert struct.unpack(">I", icns[4:8])[0] == len(icns)
    assert {b"ic07", b"ic08", b"ic09"} <= {icns[at : at + 4] for at in _icns_offsets(icns)}


def _icns_offsets(icns: bytes) -> list[int]:
    offsets, at = [], 8
    while at < len(icns):
        offsets.append(at)
        at += struct.unpack(">I", icns[at + 4 : at + 8])[0]
    assert at == len(icns), "an ICNS entry's length runs past the file"
    return offsets


# ---- Linux: the desktop entry, the launcher and the example configs --------------------------------------------


def test_desktop_entry_is_valid_and_names_the_command_and_icon() -> None:
    entry = PACKAGING / "deb" / "invigil.desktop"
    result = run("desktop-file-validate", entry)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    fields = dict(line.split("=", 1) for line in entry.read_text(encoding="utf-8").splitlines() if "=" in line)
    assert fields["Exec"] == "invigil"  # /usr/bin/invigil, the launcher
    assert fields["Icon"] == "invigil"  # /usr/share/icons/hicolor/*/apps/invigil.{png,svg}


def test_launcher_and_package_scripts_parse() -> None:
    assert run("sh", "-n", PACKAGING / "deb" / "invigil.sh").returncode == 0
    for script in SERVER_SCRIPTS:
        result = run("sh", "-n", PACKAGING / "deb" / f"invigil-server-{script}")
        assert (result.returncode, result.stderr) == (0, ""), script
    assert run("bash", "-n", PACKAGING / "deb" / "build-deb.sh").returncode == 0


# ---- Linux: the server package's maintainer scripts ------------------------------------------------------------

SERVER_SCRIPTS = ("prerm", "postinst", "postrm")


def run_maintainer_script(
    script: str, *args: str, folder: Path, systemd: bool, dpkg_root: str = "", systemctl_fails: bool = False
) -> tuple[int, str, list[str]]:
    """The server package's `script` run as dpkg runs it; (exit status, stderr, the systemctl calls)."""
    fake = FakeSystemd.create(folder)
    env = fake.env(fails=systemctl_fails)
    if dpkg_root:
        env["DPKG_ROOT"] = dpkg_root
    command = ["sh", str(PACKAGING / "deb" / f"invigil-server-{script}"), *args]
    if systemd:
        command = FakeSystemd.wrap(command)
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    return result.returncode, result.stderr, fake.calls()


@pytest.fixture
def namespaces() -> None:
    why = FakeSystemd.unavailable()
    if why:
        pytest.skip(f"cannot make a user and mount namespace here ({why})")


@pytest.mark.usefixtures("namespaces")
def test_server_postinst_restarts_a_running_service_after_an_upgrade_only(tmp_path: Path) -> None:
    upgrade = run_maintainer_script("postinst", "configure", "0.0.9", folder=tmp_path, systemd=True)
    assert upgrade == (0, "", ["--system daemon-reload", "try-restart invigil-server.service"])
    # A first install (no version replaced) starts nothing: the admin enables the service when it is set up.
    first = run_maintainer_script("postinst", "configure", "", folder=tmp_path, systemd=True)
    assert first == (0, "", ["--system daemon-reload"])
    # A restart that fails leaves the upgrade done (the new files are in place) and says where to look.
    status, stderr, calls = run_maintainer_script(
        "postinst", "configure", "0.0.9", folder=tmp_path, systemd=True, systemctl_fails=True
    )
    assert (status, calls[-1]) == (0, "try-restart invigil-server.service")
    assert stderr == "invigil-server: the service did not restart; see: journalctl -u invigil-server\n"


@pytest.mark.usefixtures("namespaces")
def test_server_prerm_and_postrm_stop_disable_and_forget_on_removal_not_on_upgrade(tmp_path: Path) -> None:
    assert run_maintainer_script("prerm", "remove", folder=tmp_path, systemd=True) == (
        0,
        "",
        ["disable --now invigil-server.service"],
    )
    assert run_maintainer_script("postrm", "remove", folder=tmp_path, systemd=True) == (
        0,
        "",
        ["--system daemon-reload"],
    )
    # On upgrade the old prerm leaves the service running; the new postinst restarts it.
    assert run_maintainer_script("prerm", "upgrade", "0.2.0", folder=tmp_path, systemd=True) == (0, "", [])
    assert run_maintainer_script("postrm", "purge", folder=tmp_path, systemd=True) == (0, "", [])


@pytest.mark.usefixtures("namespaces")
@pytest.mark.parametrize(
    "args",
    [("postinst", "configure", "0.0.9"), ("prerm", "remove"), ("postrm", "remove")],
    ids=lambda args: args[0],
)
def test_server_scripts_leave_systemd_alone_in_another_root_or_without_systemd(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    # dpkg --root sets DPKG_ROOT: the services of a throwaway root are not this machine's.
    assert run_maintainer_script(*args, folder=tmp_path, systemd=True, dpkg_root=str(tmp_path)) == (0, "", [])
    # A container or chroot without systemd as its init (no /run/systemd/system).
    if not Path("/run/systemd/system").is_dir():
        assert run_maintainer_script(*args, folder=tmp_path, systemd=False) == (0, "", [])


def test_server_scripts_never_name_the_data() -> None:
    for script in SERVER_SCRIPTS:
        code = (PACKAGING / "deb" / f"invigil-server-{script}").read_text(encoding="utf-8").split("set -e", 1)[1]
        assert "/var/lib" not in code, script
        assert not re.search(r"\brm\b", code), script


def test_setup_env_installs_what_the_player_deb_depends_on() -> None:
    # tests/build/test_deb.py installs the .deb against this machine's packages, so they must be here.
    script = (PACKAGING / "deb" / "build-deb.sh").read_text(encoding="utf-8")
    match = re.search(r'^PLAYER_DEPENDS="([^"]+)"$', script, re.M)
    assert match
    listed = {name for entry in setup_list((REPO / "scripts" / "setup-env").read_text()) for name in entry.split("|")}
    assert depends_names(match.group(1)) - listed == set()


def uncommented(example: Path, folder: Path) -> str:
    """The example with every `# key = value` line set, its paths replaced by ones that exist on this machine."""
    (folder / "ca.pem").write_text("not read: only its existence is checked at start\n")
    text = re.sub(r"^# (\w+ = )", r"\1", example.read_text(encoding="utf-8"), flags=re.M)
    text = re.sub(r"^data_dir = .*$", f'data_dir = "{folder / "data"}"', text, flags=re.M)
    return re.sub(r"^ca_bundle = .*$", f'ca_bundle = "{folder / "ca.pem"}"', text, flags=re.M)


@pytest.mark.parametrize("example", EXAMPLE_CONFIGS, ids=lambda path: path.parent.name)
def test_example_config_changes_nothing_as_shipped_and_each_example_line_is_a_real_setting(
    example: Path, tmp_path: Path
) -> None:
    user_file = tmp_path / "no-user-config.toml"
    as_shipped = load_config(ConfigSources(machine_file=example, user_file=user_file, env={}))
    assert set(as_shipped.origins.values()) == {"default"}
    edited = tmp_path / "config.toml"
    edited.write_text(uncommented(example, tmp_path), encoding="utf-8")
    keys = re.findall(r"^(\w+) = ", edited.read_text(encoding="utf-8"), re.M)
    assert {"server_url", "data_dir", "allow_user_config", "kiosk"} <= set(keys)
    config = load_config(ConfigSources(machine_file=edited, user_file=user_file, env={}))
    assert {key: config.origins[key] for key in keys} == dict.fromkeys(keys, str(edited))
    assert config.server_url == "https://invigil.example.org"


# ---- the server's systemd unit ---------------------------------------------------------------------------------


def unit_settings(text: str) -> dict[str, list[str]]:
    """`Key=value` lines of every section (a key set more than once keeps each value, in order)."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def command_line(command: str, environment: dict[str, str]) -> list[str]:
    """An Exec line as systemd runs it: `$NAME` splits the variable's value into words (only that form here)."""
    words: list[str] = []
    for word in shlex.split(command):
        if word.startswith("$"):
            assert word[1:] in environment, f"{word} is not set by an Environment= line"
            words += environment[word[1:]].split()
        else:
            words.append(word)
    return words


@pytest.fixture(scope="module")
def unit() -> dict[str, list[str]]:
    return unit_settings(UNIT.read_text(encoding="utf-8"))


def unit_environment(unit: dict[str, list[str]]) -> dict[str, str]:
    return dict(item.split("=", 1) for line in unit["Environment"] for item in shlex.split(line))


def test_unit_runs_init_then_serve_with_options_the_cli_takes(unit: dict[str, list[str]]) -> None:
    environment = unit_environment(unit)
    (pre,) = unit["ExecStartPre"]
    (start,) = unit["ExecStart"]
    pre_args = command_line(pre, environment)
    start_args = command_line(start, environment)
    assert pre_args[0] == start_args[0] == "/usr/bin/invigil-server"  # where the .deb puts it
    assert build_parser().parse_args(pre_args[1:]).command == "init"
    serve = build_parser().parse_args(start_args[1:])
    assert (serve.command, serve.host, serve.port) == ("serve", "127.0.0.1", 8765)


def test_unit_keeps_its_database_in_its_own_state_folder(unit: dict[str, list[str]]) -> None:
    (state,) = unit["StateDirectory"]
    db = unit_environment(unit)["INVIGIL_SERVER_DB"]
    assert db.startswith(f"/var/lib/{state}/")
    assert database_url(db, env={}) == f"sqlite:///{db}"
    assert unit["EnvironmentFile"] == ["-/etc/default/invigil-server"]


def test_unit_is_hardened(unit: dict[str, list[str]]) -> None:
    wanted = {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "UMask": "0077",
    }
    assert {key: unit.get(key, [None])[-1] for key in wanted} == wanted
    assert "@system-service" in unit["SystemCallFilter"]


def test_server_defaults_file_examples_are_serve_options_the_cli_takes() -> None:
    defaults = (PACKAGING / "deb" / "invigil-server.default").read_text(encoding="utf-8")
    examples = re.findall(r"^#(INVIGIL_SERVE_ARGS=.*)$", defaults, re.M)
    assert examples
    for example in examples:
        (assignment,) = shlex.split(example)
        args = build_parser().parse_args(["serve", *assignment.split("=", 1)[1].split()])
        assert args.forwarded_allow_ips == "127.0.0.1"


# ---- Windows: the executable's version resource ----------------------------------------------------------------


def test_windows_version_resource_carries_the_one_version() -> None:
    # By path: a `packaging` import would find PyPI's package of that name.
    module = runpy.run_path(str(PACKAGING / "windows" / "version_info.py"))
    assert module["version_numbers"]("0.1.0") == (0, 1, 0, 0)
    assert module["version_numbers"]("2.10.3.dev1+g1234") == (2, 10, 3, 0)
    with pytest.raises(ValueError, match="does not start with a number"):
        module["version_numbers"]("dev")
    # PyInstaller eval()s the file into its classes on Windows; here its shape is read with ast (no pefile here).
    tree = ast.parse(module["version_file_text"](VERSION), mode="eval")
    calls = [
        (node.func.id, node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    assert calls[0][0] == "VSVersionInfo"
    fixed = next(call for name, call in calls if name == "FixedFileInfo")
    numbers = {kw.arg: ast.literal_eval(kw.value) for kw in fixed.keywords if kw.arg in ("filevers", "prodvers")}
    assert numbers == dict.fromkeys(("filevers", "prodvers"), module["version_numbers"](VERSION))
    strings = dict(ast.literal_eval(ast.Tuple(call.args, ast.Load())) for name, call in calls if name == "StringStruct")
    assert strings["ProductVersion"] == strings["FileVersion"] == VERSION
    assert strings["OriginalFilename"] == "invigil.exe"
    spec = (REPO / "build" / "invigil.spec").read_text(encoding="utf-8")
    assert '"packaging" / "windows" / "version_info.py"' in spec
    assert "version=str(VERSION_INFO) if VERSION_INFO else None," in spec
