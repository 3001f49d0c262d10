"""scripts/setup-env installs every program that the tests, scripts, bench and build call."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.scripts.program_scan import Found, python_programs, scan
from tests.scripts.shell_scan import shell_programs

REPO = Path(__file__).resolve().parents[2]
# resources/: its make_media.sh regenerates the demo media (espeak-ng, sox), so a contributor can run it too.
SCANNED = ("tests", "scripts", "bench", "build", "packaging", "player", "sync", "resources", ".ci")

# Program -> the Debian package in scripts/setup-env's _INVIGIL_SYSTEM_PACKAGES that brings it.
SETUP_PACKAGES = {
    "espeak-ng": "espeak-ng",  # tests/player/audio: speech made on the fly
    "sox": "sox",  # tests/player/audio: tones and padding
    "pdftotext": "poppler-utils",  # tests/player/ui/console_views/test_slips.py reads the slips PDF back
    "pdfinfo": "poppler-utils",
    "pulseaudio": "pulseaudio",  # tests/e2e, tests/player/audio/test_stress.py: a null-sink sound server
    "pactl": "pulseaudio-utils",  # tests/player/audio/stress_child.py: outputs that come and go
    "dbus-run-session": "dbus",  # tests/integration: the binary is in dbus-daemon, which dbus depends on
    "gnome-keyring-daemon": "gnome-keyring",  # tests/integration: a real Secret Service
    # tests/helpers/postgres.py (also the bench): a throwaway cluster; initdb and pg_ctl are in
    # /usr/lib/postgresql/N/bin, found there by path
    "initdb": "postgresql",
    "nginx": "nginx",  # tests/deploy/test_nginx_example.py: the shipped example config in front of the server
    "objdump": "binutils",  # tests/build/test_deb.py: the libraries the player bundle needs from the system
    "desktop-file-validate": "desktop-file-utils",  # tests/build: the .deb's desktop entry
    "systemd-analyze": "systemd",  # tests/build/test_deb.py: verifies the server's unit
    "systemctl": "systemd",  # the server .deb's prerm (skipped when dpkg installs into another root)
}
# Program -> its package, one that every Debian and Ubuntu system has (Essential, or Priority required:
# what `debootstrap --variant=minbase` installs), so setup-env need not list it.
# fmt: off
COREUTILS = [
    "cat", "chmod", "chroot", "cp", "cut", "date", "dirname", "du", "head", "id", "install", "ln", "ls", "md5sum",
    "mkdir", "mktemp", "nice", "readlink", "realpath", "rm", "sha256sum", "sleep", "sort", "tail", "touch",
]
# fmt: on
ALWAYS_THERE = {
    **dict.fromkeys(COREUTILS, "coreutils"),
    "apt-cache": "apt",
    "apt-get": "apt",
    "awk": "mawk",
    "bash": "bash",
    "sh": "dash",
    "dpkg": "dpkg",
    "dpkg-deb": "dpkg",
    "dpkg-query": "dpkg",
    "find": "findutils",
    "xargs": "findutils",
    "findmnt": "util-linux",
    "flock": "util-linux",
    "unshare": "util-linux",
    "grep": "grep",
    "mount": "mount",
    "umount": "mount",
    "sed": "sed",
}
# Program -> why setup-env does not install it.
NOT_FOR_SETUP = {
    "git": "the repository is cloned with it before setup-env can run",
    "debootstrap": "scripts/fresh-root installs it itself, and only it uses it",
    "pkgbuild": "Apple's; packaging/macos/build-pkg.sh runs only on macOS",
    "ditto": "Apple's; packaging/macos/build-pkg.sh runs only on macOS",
    "python3": "setup-env needs a Python 3.11+ first (it says how to get one); only make_media.sh calls it by name",
}


def setup_list(script: str) -> list[str]:
    """The entries of the _INVIGIL_SYSTEM_PACKAGES bash array, as written ("a|b" for either package)."""
    match = re.search(r"^_INVIGIL_SYSTEM_PACKAGES=\((.*?)^\)", script, re.M | re.S)
    assert match, "scripts/setup-env no longer defines the _INVIGIL_SYSTEM_PACKAGES=( ... ) array"
    return shlex.split(match.group(1), comments=True)


def venv_programs() -> set[str]:
    """What setup-env's pip step puts in .venv/bin (invigil-server, pyinstaller, ...): not Debian's to supply."""
    if sys.prefix == sys.base_prefix:  # not in a virtualenv: its bin/ is the system's, which proves nothing
        return set()
    return {path.name for path in (Path(sys.prefix) / "bin").iterdir()}


def problems(found: Found, entries: Iterable[str], *, in_venv: set[str]) -> list[str]:
    """One message per program that a fresh machine would lack after setup-env."""
    installed = {name for entry in entries for name in entry.split("|")}
    out = []
    for program, files in sorted(found.calls.items()):
        where = ", ".join(sorted(files))
        if program in ALWAYS_THERE or program in NOT_FOR_SETUP or program in in_venv:
            continue
        package = SETUP_PACKAGES.get(program)
        if package is None:
            out.append(
                f"'{program}' (called in {where}) is in no table: find its Debian package"
                f' (dpkg -S "$(command -v {program})"), add it to SETUP_PACKAGES in tests/scripts/test_setup_env.py,'
                " and add the package to _INVIGIL_SYSTEM_PACKAGES in scripts/setup-env with a comment saying who needs"
                " it (a program every Debian system has goes in ALWAYS_THERE instead)"
            )
        elif package not in installed:
            out.append(
                f"'{program}' (called in {where}) comes from the Debian package '{package}', which"
                f" _INVIGIL_SYSTEM_PACKAGES in scripts/setup-env lacks: add '{package}' there with a comment saying who"
                " needs it, or a fresh machine fails these tests"
            )
    return out


def test_setup_env_installs_every_program_the_sources_call() -> None:
    found = scan(REPO, SCANNED)
    entries = setup_list((REPO / "scripts" / "setup-env").read_text(encoding="utf-8"))
    messages = problems(found, entries, in_venv=venv_programs())
    assert not messages, "\n".join(messages)


def test_the_scan_sees_the_programs_that_the_tests_and_scripts_are_known_to_call() -> None:
    # The guard is only as good as its scanner: these are called in ways it must follow (a wrapper function's
    # *args, shutil.which over a tuple, `dbus-run-session -- sh -c "a | b"`, `$(...)`, `VAR=x cmd`).
    calls = scan(REPO, SCANNED).calls
    assert "tests/player/audio/test_qt_audio_player.py" in calls["espeak-ng"] & calls["sox"]
    assert calls["gnome-keyring-daemon"] == {"tests/integration/test_secret_service.py"}
    assert calls["dbus-run-session"] == {"tests/integration/test_secret_service.py"}
    assert calls["pulseaudio"] == {"tests/helpers/null_sink.py"}
    assert {"pdftotext", "pdfinfo"} <= set(calls)
    assert {"scripts/setup-env", "scripts/fresh-root"} <= calls["apt-get"]
    assert "dpkg-query" in calls  # only ever inside "$(...)"
    # Every program setup-env is asked for is one something calls: the table does not outlive its callers.
    assert set(SETUP_PACKAGES) <= set(calls)


def test_the_real_setup_list_is_read_from_the_bash_array() -> None:
    entries = setup_list((REPO / "scripts" / "setup-env").read_text(encoding="utf-8"))
    assert {"espeak-ng", "sox", "pulseaudio", "poppler-utils", "dbus", "gnome-keyring"} <= set(entries)
    assert "libglib2.0-0t64|libglib2.0-0" in entries  # quoted alternatives stay one entry
    assert not any(entry.startswith("#") for entry in entries)


SAMPLE = """
import subprocess

def make_noise(path):
    subprocess.run(['frobnicate', "--loud", str(path)], check=True)
    subprocess.run(["sox", "-n", str(path), "synth", "1", "sine", "440"], check=True)
"""


def test_an_unknown_program_fails_naming_it_and_what_to_do() -> None:
    found = Found()
    for program in python_programs(SAMPLE):
        found.add(program, "tests/sample.py")
    messages = problems(found, ["sox"], in_venv=set())
    assert len(messages) == 1
    assert messages[0].startswith("'frobnicate' (called in tests/sample.py) is in no table")
    assert "add it to SETUP_PACKAGES in tests/scripts/test_setup_env.py" in messages[0]
    assert "_INVIGIL_SYSTEM_PACKAGES in scripts/setup-env" in messages[0]


def test_a_package_missing_from_the_setup_list_fails_naming_the_package() -> None:
    found = Found()
    for program in python_programs(SAMPLE):
        found.add(program, "tests/sample.py")
    script = "_INVIGIL_SYSTEM_PACKAGES=(\n    libpulse0   # QtMultimedia\n    pulseaudio\n)\n"
    messages = problems(found, setup_list(script), in_venv={"frobnicate"})
    assert messages == [
        "'sox' (called in tests/sample.py) comes from the Debian package 'sox', which _INVIGIL_SYSTEM_PACKAGES in"
        " scripts/setup-env lacks: add 'sox' there with a comment saying who needs it, or a fresh machine fails"
        " these tests"
    ]


@pytest.mark.parametrize(
    ("source", "programs"),
    [
        (
            'import shutil\nTOOLS = ("a-tool", "b-tool")\nmissing = [t for t in TOOLS if shutil.which(t) is None]\n',
            {"a-tool", "b-tool"},
        ),
        ("import subprocess\ndef _run(*args):\n    subprocess.run(args)\n_run('c-tool', '-x')\n", {"c-tool"}),
        ('import subprocess\ncmd = ["nice", "-n", "10", "d-tool"]\nsubprocess.Popen(cmd)\n', {"nice", "d-tool"}),
        (
            'import subprocess\nsubprocess.run(["sh", "-c", f"e-tool | f-tool {x} && g-tool"])\n',
            {"sh", "e-tool", "f-tool", "g-tool"},
        ),
        (
            'import subprocess, sys\nsubprocess.run([sys.executable, "-m", "x"])\nsubprocess.run("h-tool -q", shell=True)\n',
            {"h-tool"},
        ),
        ("from subprocess import check_output as out\nout(['i-tool'])\nrunner.run('not-a-program')\n", {"i-tool"}),
    ],
)
def test_python_calls_are_found(source: str, programs: set[str]) -> None:
    assert python_programs(source) == programs


def test_shell_commands_are_found_and_the_rest_left_alone() -> None:
    script = r"""#!/usr/bin/env bash
# comment-tool is only in a comment
root=$(cd "$(dirname "$0")" && pwd)   # cd and pwd are builtins
helper() { sed -n '1p' "$1"; }
function other_helper { :; }
other_helper
helper x | grep -q y && DEBIAN_FRONTEND=noninteractive apt-get install -y z 2>/dev/null
case "$1" in
    -h | --help) usage-tool ;;
    pattern-word) exit 0 ;;
esac
mapfile -t lines < <(list-tool --all)
local names=() skipped
for name in "${names[@]}"; do ((count++)); done
[[ -n $(stat-tool -c %s f) ]] || printf '%s\n' "not-run | not-run-either" >&2
"$root/bin/by-path" arg && /usr/bin/by-absolute-path
python3 - <<'PY'
import subprocess; subprocess.run(['in-heredoc'])
PY
echo "${#names[@]}" $# done-tool
"""
    assert shell_programs(script) == {
        "dirname",
        "sed",
        "grep",
        "apt-get",
        "usage-tool",
        "list-tool",
        "stat-tool",
        "python3",
    }
