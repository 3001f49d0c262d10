"""`invigil doctor` as an IT admin runs it: the real `python -m player` in its own process, against the real server
on loopback, with a real audio device (a PulseAudio null sink) or none; exit status and JSON (or text) checked."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from player.cli import wants_command_line
from player.doctor.checks import CHECK_KEYS
from tests.helpers.live_server import LiveServer
from tests.helpers.player_cli import run_player


def run_invigil(
    *args: str, home: Path, pulse_server: str, machine_config: str = ""
) -> subprocess.CompletedProcess[str]:
    """`python -m player ARGS` with its own machine-wide config file, user folders and sound server."""
    (home / "etc").mkdir(parents=True, exist_ok=True)
    machine_file = home / "etc" / "config.toml"
    machine_file.write_text(machine_config, encoding="utf-8")
    return run_player(
        *args,
        cwd=home,
        machine_file=machine_file,
        config_home=home / "config",
        data_home=home / "data",
        pulse_server=pulse_server,
    )


def good_config(url: str, home: Path) -> str:
    return (
        f'server_url = "{url}"\ndata_dir = "{home / "invigil-data"}"\nmachine_name = "Room 12 PC 3"\n'
        'keyring_backend = "memory"\n'
    )


def statuses(data: dict[str, Any]) -> dict[str, str]:
    return {c["key"]: c["status"] for c in data["checks"]}


def test_doctor_json_against_the_live_server_with_a_real_audio_device(
    live_server: LiveServer, null_sink: str, tmp_path: Path
) -> None:
    done = run_invigil(
        "doctor", "--json", home=tmp_path, pulse_server=null_sink, machine_config=good_config(live_server.url, tmp_path)
    )

    data = json.loads(done.stdout)
    # Offscreen has no real display, so the screen is honestly "not checked", which is no warning; run as root
    # (as here on CI), the settings check warns that it read root's config and data folder, not a student's.
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    expected = {**dict.fromkeys(CHECK_KEYS, "ok"), "display": "not_checked"}
    if as_root:
        expected["config"] = "warning"
    assert statuses(data) == expected, done.stdout
    assert done.returncode == (1 if as_root else 0) == data["exit_status"]
    checks = {c["key"]: c for c in data["checks"]}
    assert checks["audio_tone"]["detail"].endswith("test tone played to its end through the audio output.")
    assert checks["audio_output"]["detail"].startswith("1 found: ")
    assert data["settings"]["server_url"]["source"] == str(tmp_path / "etc" / "config.toml")
    assert checks["display"]["detail"].startswith("Not checked: there is no real display")
    assert checks["display"]["number"] is None
    assert data["summary"] == "Ready" or as_root
    assert "Traceback" not in done.stderr


def test_doctor_with_no_audio_device_and_no_server_fails_with_status_2(tmp_path: Path) -> None:
    # A sound server that is not there: QtMultimedia finds no output, as on a machine with no sound card.
    done = run_invigil(
        "doctor",
        home=tmp_path,
        pulse_server=f"unix:{tmp_path / 'no-sound-server'}",
        machine_config=f'server_url = "http://127.0.0.1:9"\ndata_dir = "{tmp_path / "d"}"\n',
    )

    assert done.returncode == 2, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Invigil 0.1.0 doctor: ")
    assert any(line.startswith("  ✗ Server reachable") for line in lines), done.stdout
    assert any(line.startswith("  ✗ Audio output                   No speakers or headphones found") for line in lines)
    assert any(line.startswith("  - Test tone") for line in lines)
    assert any(line.startswith("  ✓ Journal safety (SQLite WAL)") for line in lines)
    assert "Not ready: fix the failures (✗) before a sitting." in lines
    assert "Traceback" not in done.stderr


def test_doctor_with_a_bad_config_file_reports_it_and_does_not_crash(tmp_path: Path) -> None:
    done = run_invigil(
        "doctor", "--json", home=tmp_path, pulse_server="unix:/nonexistent", machine_config="kiosk_mode = tru\n"
    )

    data = json.loads(done.stdout)
    config = {c["key"]: c for c in data["checks"]}["config"]
    assert config["status"] == "failure"
    assert str(tmp_path / "etc" / "config.toml") in config["detail"]
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_support_bundle_command_writes_the_zip(live_server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "bundle.zip"
    done = run_invigil(
        "support-bundle",
        "--output",
        str(out),
        home=tmp_path,
        pulse_server="unix:/nonexistent",
        machine_config=good_config(live_server.url, tmp_path),
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Support bundle written to {out}\n"
    import zipfile

    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        doctor = json.loads(bundle.read("invigil-support/doctor.json"))
    assert "invigil-support/config/machine-config.toml" in names
    assert doctor["settings"]["machine_name"]["value"] == "Room 12 PC 3"


@pytest.mark.parametrize(
    ("argv", "command_line"),
    [
        ([], False),
        (["--server", "https://x.example"], False),
        (["--data-dir", "/tmp/d", "--server=https://x"], False),
        (["doctor"], True),
        (["--server", "https://x.example", "doctor", "--json"], True),
        (["--version"], True),
        (["--help"], True),
        (["support-bundle"], True),
        (["nonsense"], True),  # refused by the command-line parser, with the commands it knows
        (["--json"], False),  # the window's parser refuses it, saying it is doctor's
        (["--output", "x.zip"], False),  # the same: support-bundle's, and x.zip is its value, not a command
    ],
)
def test_which_arguments_start_the_window(argv: list[str], command_line: bool) -> None:
    assert wants_command_line(argv) is command_line


def test_no_command_starts_the_window_as_before(tmp_path: Path) -> None:
    # The window's own start-up runs (app.py): with a config it cannot use, it paints, then exits with status 2 and
    # the reason, as `invigil` always did. A command-line path would have answered without Qt at all.
    # Offscreen no one can see the failure screen, so it does not wait for Quit (tests/player/ui/test_startup.py
    # shows it on a window someone can see).
    done = run_invigil(home=tmp_path, pulse_server="unix:/nonexistent", machine_config="server_url = 42\n")

    assert done.returncode == 2
    line = f"Invigil cannot start: {tmp_path / 'etc' / 'config.toml'}: server_url: 42 is an integer, not a string"
    said = [text for text in done.stderr.splitlines() if "Invigil cannot start" in text]
    assert len(said) == 1, done.stderr  # once: logging's last resort used to print it a second time
    assert said[0].startswith(line)
    assert said[0].endswith("(INV-1002)")
    assert done.stdout == ""
    # The config failed, so its data folder is unknown: the default data folder's log has it.
    log_file = tmp_path / "data" / "invigil" / "logs" / "player.log"
    assert f"ERROR player.app: {said[0]}" in log_file.read_text(encoding="utf-8")


def test_doctor_with_a_server_without_a_scheme_fails_once_naming_the_option(tmp_path: Path) -> None:
    done = run_invigil(
        "doctor",
        "--json",
        "--server",
        "127.0.0.1:9",
        home=tmp_path,
        pulse_server="unix:/nonexistent",
        machine_config=f'data_dir = "{tmp_path / "d"}"\n',
    )

    data = json.loads(done.stdout)
    failures = [c for c in data["checks"] if c["status"] == "failure"]
    config = {c["key"]: c for c in data["checks"]}["config"]
    assert config["status"] == "failure"
    assert "command line --server: '127.0.0.1:9' is not an http(s) URL; give e.g. --server https://" in config["detail"]
    # The server checks are not run against an address that was refused (they used to crash on it).
    assert [c["key"] for c in failures if "--server" in c["detail"]] == ["config"], done.stdout
    assert "could not run" not in done.stdout
    assert done.returncode == 2 == data["exit_status"]
    assert "Traceback" not in done.stderr


def test_doctor_never_shows_a_password_given_in_the_server_address(tmp_path: Path) -> None:
    done = run_invigil(
        "doctor",
        "--json",
        "--server",
        "https://admin:Pa55-word@invigil.example.org",
        home=tmp_path,
        pulse_server="unix:/nonexistent",
    )

    assert done.returncode == 2
    config = {c["key"]: c for c in json.loads(done.stdout)["checks"]}["config"]
    assert "'https://…@invigil.example.org' has a user name or password in it" in config["detail"]
    assert "the player never sends credentials in the URL: remove them" in config["detail"]
    assert "Pa55-word" not in done.stdout + done.stderr


def test_a_commands_option_without_the_command_is_a_usage_error_that_names_the_command(tmp_path: Path) -> None:
    done = run_invigil("--json", home=tmp_path, pulse_server="unix:/nonexistent")

    assert done.returncode == 64  # EX_USAGE: not doctor's 2 ("failures"), so a script can tell them apart
    lines = done.stderr.splitlines()
    assert "invigil {doctor,support-bundle} [options]" in done.stderr  # the usage line shows the commands
    assert lines[-1] == (
        "invigil: error: unrecognized arguments: --json; --json belongs to `invigil doctor`: "
        "run e.g. `invigil doctor --json` (INV-1006)"
    )
    assert done.stdout == ""
    assert not (tmp_path / "data" / "invigil").exists()  # the window never started


def test_a_usage_error_after_a_command_exits_64_as_doctors_help_says(tmp_path: Path) -> None:
    wrong = run_invigil("doctor", "--jsn", home=tmp_path, pulse_server="unix:/nonexistent")
    helped = run_invigil("doctor", "--help", home=tmp_path, pulse_server="unix:/nonexistent")

    assert wrong.returncode == 64
    assert wrong.stderr.splitlines()[-1].startswith("invigil: error: unrecognized arguments: --jsn; ")
    assert wrong.stderr.rstrip().endswith("(INV-1006)")
    assert wrong.stdout == ""  # nothing was checked
    assert helped.returncode == 0
    assert "64 the command line was not understood" in " ".join(helped.stdout.split())


TOKEN = "S3cretTok-q9"


def files_holding(text: str, folder: Path) -> list[Path]:
    """Every file under `folder` (logs, zips unpacked) whose bytes hold `text`."""
    import zipfile

    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        blobs = [path.read_bytes()]
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as bundle:
                blobs += [bundle.read(name) for name in bundle.namelist()]
        if any(text.encode() in blob for blob in blobs):
            found.append(path)
    return found


def test_a_token_in_the_server_address_query_is_refused_and_shown_nowhere(tmp_path: Path) -> None:
    """The player, doctor (text and JSON) and the support bundle: refused, and the token is in no output or file."""
    url = f"http://127.0.0.1:9/?access_token={TOKEN}"
    common = {"home": tmp_path, "pulse_server": "unix:/nonexistent"}
    window = run_invigil("--server", url, **common)
    doctor = run_invigil("doctor", "--server", url, **common)
    doctor_json = run_invigil("doctor", "--json", "--server", url, **common)
    bundle = run_invigil("support-bundle", "--server", url, "--output", str(tmp_path), **common)

    said = [line for line in window.stderr.splitlines() if "Invigil cannot start" in line]
    assert said == [
        "Invigil cannot start: command line --server: 'http://127.0.0.1:9/…' has a query or fragment (the part from "
        "the ?); server_url is only the server's base address: remove everything from the ?; give e.g. --server "
        "https://invigil.example.org (INV-1002)"
    ], window.stderr
    assert window.returncode == 2
    config = {c["key"]: c for c in json.loads(doctor_json.stdout)["checks"]}["config"]
    assert config["status"] == "failure"
    assert "remove everything from the ?" in config["detail"]
    assert "✗ Settings" in doctor.stdout
    assert doctor.returncode == doctor_json.returncode == 2
    assert bundle.returncode == 0, bundle.stderr
    for done in (window, doctor, doctor_json, bundle):
        assert TOKEN not in done.stdout + done.stderr
    assert (tmp_path / "data" / "invigil" / "logs" / "player.log").is_file()  # the window's failure was logged
    assert files_holding(TOKEN, tmp_path) == []  # not in the log, nor in the bundle's zip


@pytest.mark.parametrize("host", ["a b", "a" * 300])
def test_doctor_with_a_host_the_network_cannot_use_fails_once_at_the_config_check(tmp_path: Path, host: str) -> None:
    done = run_invigil(
        "doctor", "--json", "--server", f"http://{host}", home=tmp_path, pulse_server="unix:/nonexistent"
    )

    data = json.loads(done.stdout)
    failures = [c["key"] for c in data["checks"] if c["status"] == "failure"]
    assert "audio_output" in failures  # no sound server here: the one failure that is not about the address
    assert [key for key in failures if key != "audio_output"] == ["config"], done.stdout
    config = {c["key"]: c for c in data["checks"]}["config"]
    assert config["detail"].startswith("The config cannot be used: command line --server: 'http://a")
    assert "its host name" in config["detail"]
    assert config["number"] == "INV-5001"
    assert "could not run" not in done.stdout
    assert "Traceback" not in done.stderr
    assert done.returncode == 2


@pytest.mark.parametrize("command", [[], ["doctor"], ["support-bundle"]])
@pytest.mark.parametrize("data_dir", ["", "   "])
def test_an_empty_data_dir_on_the_command_line_is_refused_not_taken_as_this_folder(
    tmp_path: Path, command: list[str], data_dir: str
) -> None:
    done = run_invigil(*command, "--data-dir", data_dir, home=tmp_path, pulse_server="unix:/nonexistent")

    assert done.returncode == 64
    prog = " ".join(["invigil", *command])
    assert done.stderr.splitlines()[-1] == (
        f"{prog}: error: argument --data-dir: is empty; give the folder for the journal, media and logs, e.g. "
        "--data-dir /var/lib/invigil, or leave --data-dir out to use the config's data_dir; see `invigil --help` "
        "(INV-1006)"
    )
    assert done.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc"]  # nothing made here (the old "."), nor in "data"
