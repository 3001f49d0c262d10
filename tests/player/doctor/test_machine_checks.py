"""doctor's checks of this machine, each made to fail for real where it can be (a bad config file, a data folder
that cannot be made, a journal holding an unsent result, a damaged journal) and through an injected edge where this
machine lacks the thing (a tiny disk, no sound card, no keyring service, a small screen, a generated host name, a
root user)."""

from __future__ import annotations

import dataclasses
import sys
import threading
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from player.audio.interface import NO_DEVICE_MESSAGE
from player.config import ConfigSources
from player.credentials import ChosenBackend, InMemoryBackend
from player.doctor.checks import CHECK_KEYS, run_doctor, run_doctor_from_sources
from player.doctor.edges import DiskSpace, DoctorEdges, ScreenInfo
from player.doctor.machine_checks import looks_generated
from player.doctor.report import Report, Status
from player.doctor.tone import TONE_SECONDS
from player.offline_queue.db import journal_path, open_database
from tests.helpers.doctor import FakeTone, MakeConfig, check_of, closed_port_url, good_edges, write_unsent_result

MB = 1024 * 1024


@pytest.fixture
def offline(make_config: MakeConfig) -> MakeConfig:
    """A config whose server is a closed port: the machine checks run, the server ones fail fast."""
    return lambda **settings: make_config(closed_port_url(), **settings)


def test_a_bad_config_file_is_the_config_checks_failure_naming_file_and_key(config_files: ConfigSources) -> None:
    config_files.machine_file.write_text(
        'server_url = "https://invigil.school.example"\nrequest_timeout_seconds = "ten"\n'
    )

    report = run_doctor_from_sources(config_files, edges=good_edges())

    config = check_of(report, "config")
    assert config.status is Status.FAILURE
    assert config.detail.startswith(f"The config cannot be used: {config_files.machine_file}: request_timeout_seconds:")
    assert "docs/player-config.md" in config.fix
    assert [c.key for c in report.checks] == list(CHECK_KEYS)  # no crash: every check is there
    for key in ("server", "tls", "api_version", "clock", "wal", "keyring", "unsent_results", "machine_name"):
        skipped = check_of(report, key)
        assert skipped.detail == "Not checked: the config could not be read (see Settings).", key
        assert (skipped.status, skipped.number) == (Status.NOT_CHECKED, None), key  # the number is the config's
    assert check_of(report, "audio_output").status is Status.OK  # what needs no config still ran
    assert report.settings == {}
    assert report.exit_status == 2


def test_a_config_file_that_is_not_toml_names_its_line(config_files: ConfigSources) -> None:
    config_files.machine_file.write_text("server_url = https://no-quotes.example\n")

    config = check_of(run_doctor_from_sources(config_files, edges=good_edges()), "config")

    assert config.status is Status.FAILURE
    assert str(config_files.machine_file) in config.detail
    assert "is not valid TOML" in config.detail
    assert "line 1" in config.detail


def test_no_server_url_anywhere_is_a_warning(config_files: ConfigSources, tmp_path: Path) -> None:
    config_files.machine_file.write_text(f'data_dir = "{tmp_path / "data"}"\n')

    config = check_of(run_doctor_from_sources(config_files, edges=good_edges()), "config")

    assert config.status is Status.WARNING
    assert config.detail.startswith("server_url is not set, so the built-in http://127.0.0.1:8765")
    assert (
        f"Config: machine-wide {config_files.machine_file} read, sets data_dir; this user's {config_files.user_file} "
        "not there." in config.detail
    )


def test_the_config_check_names_each_file_even_one_that_set_nothing(
    config_files: ConfigSources, tmp_path: Path
) -> None:
    # The IT admin's machine-wide file holds only comments for now; the user's file and a variable set the rest.
    config_files.machine_file.write_text("# Invigil: settings to come\n")
    config_files.user_file.write_text(f'server_url = "https://invigil.school.example"\ndata_dir = "{tmp_path}"\n')
    sources = dataclasses.replace(config_files, env={"INVIGIL_MACHINE_NAME": "Room 12 PC 3"})

    config = check_of(run_doctor_from_sources(sources, edges=good_edges()), "config")

    assert config.status is Status.OK
    assert config.detail == (
        f"Config: machine-wide {config_files.machine_file} read, sets nothing; this user's {config_files.user_file} "
        "read, sets server_url, data_dir; environment variable INVIGIL_MACHINE_NAME sets machine_name."
    )


def test_doctor_run_as_root_warns_that_it_checks_roots_config_and_data_folder(offline: MakeConfig) -> None:
    config = offline()
    report = run_doctor(config, edges=good_edges(effective_uid=lambda: 0))

    settings = check_of(report, "config")
    assert settings.status is Status.WARNING
    assert settings.number == "INV-5014"
    assert settings.detail.startswith(
        f"Running as root (e.g. with sudo): the config read and the data folder checked ({config.data_dir}) are "
        "root's, not those of the account students use."
    )
    assert "without sudo" in settings.fix
    # An ordinary user: no such warning.
    assert check_of(run_doctor(config, edges=good_edges()), "config").status is Status.OK


def test_the_command_lines_server_and_data_dir_are_shown_as_their_source(
    config_files: ConfigSources, tmp_path: Path
) -> None:
    config_files.machine_file.write_text('server_url = "https://invigil.school.example"\n')
    url = closed_port_url()

    report = run_doctor_from_sources(config_files, server_url=url, data_dir=tmp_path / "cli-data", edges=good_edges())

    assert report.settings["server_url"] == {"value": url, "source": "command line --server"}
    assert report.settings["data_dir"] == {"value": str(tmp_path / "cli-data"), "source": "command line --data-dir"}


def test_no_audio_output_fails_and_the_tone_is_not_played(offline: MakeConfig) -> None:
    tone = FakeTone()
    report = run_doctor(offline(), edges=good_edges(audio_outputs=lambda: [], tone_player=lambda: tone))

    audio = check_of(report, "audio_output")
    assert audio.status is Status.FAILURE
    assert audio.detail.startswith("No speakers or headphones found")
    assert check_of(report, "audio_tone").detail.startswith("Not checked: there is no audio output")
    assert tone.heard == []


def test_the_tone_is_a_real_short_wav_and_a_failed_play_is_a_failure(offline: MakeConfig) -> None:
    tone = FakeTone(problem="the speakers stopped working")
    report = run_doctor(offline(), edges=good_edges(tone_player=lambda: tone))

    ((frames, seconds),) = tone.heard
    assert frames > 0
    assert seconds == pytest.approx(TONE_SECONDS, abs=0.01)
    played = check_of(report, "audio_tone")
    assert played.status is Status.FAILURE
    assert played.detail == "The test tone did not play: the speakers stopped working"


def test_quick_leaves_out_what_a_student_would_notice(offline: MakeConfig) -> None:
    tone = FakeTone()
    keyrings: list[str] = []

    def keyring(setting: str) -> ChosenBackend:
        keyrings.append(setting)
        return ChosenBackend(InMemoryBackend(), "memory", False, "no keyring")

    report = run_doctor(offline(), edges=good_edges(tone_player=lambda: tone, keyring=keyring), quick=True)

    assert [c.key for c in report.checks] == [k for k in CHECK_KEYS if k not in ("audio_tone", "keyring")]
    assert tone.heard == []  # no tone in a student's headphones
    assert keyrings == []  # no keyring probe (a locked keyring would ask for its password)


@pytest.mark.parametrize(
    ("free_mb", "status", "start"),
    [
        (150, Status.FAILURE, "Only 150 MB free"),
        (300, Status.WARNING, "Only 300 MB free"),
        (5000, Status.OK, "5,000 MB free"),
    ],
)
def test_free_disk_space_in_the_data_folder(offline: MakeConfig, free_mb: int, status: Status, start: str) -> None:
    asked: list[Path] = []

    def statvfs(path: Path) -> DiskSpace:
        asked.append(path)
        return DiskSpace(total_bytes=10_000 * MB, free_bytes=free_mb * MB)

    config = offline()
    disk = check_of(run_doctor(config, edges=good_edges(disk_space=statvfs)), "disk_space")

    assert (disk.status, disk.detail[: len(start)]) == (status, start)
    assert str(config.data_dir) in disk.detail
    assert all(path.is_dir() for path in asked)  # a data folder not made yet is measured on its parent's disk


def _tree(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_wal_works_in_a_local_data_folder_and_leaves_nothing_behind(offline: MakeConfig) -> None:
    config = offline()
    config.data_dir.mkdir()
    wal = check_of(run_doctor(config, edges=good_edges()), "wal")

    assert (wal.status, wal.detail) == (Status.OK, f"WAL and full sync work in the data folder {config.data_dir}.")
    assert list(config.data_dir.iterdir()) == []


def test_doctor_makes_no_data_folder_and_tests_wal_next_to_where_it_will_be(
    config_files: ConfigSources, tmp_path: Path
) -> None:
    # As `sudo invigil doctor` before the player's first start: a data folder made now would be root's.
    data_dir = tmp_path / "home" / "student" / "invigil-data"
    data_dir.parent.mkdir(parents=True)
    config_files.machine_file.write_text(f'server_url = "{closed_port_url()}"\ndata_dir = "{data_dir}"\n')
    before = _tree(tmp_path)

    report = run_doctor_from_sources(config_files, edges=good_edges(effective_uid=lambda: 0))

    assert not data_dir.exists()
    assert _tree(tmp_path) == before  # the scratch folder next to it is gone too
    wal = check_of(report, "wal")
    assert wal.status is Status.OK
    assert wal.detail == (
        f"The data folder {data_dir} does not exist yet (the player makes it at its first start); tested in "
        f"{data_dir.parent}, where the data folder will be made: WAL and full sync work there."
    )
    assert check_of(report, "unsent_results").status is Status.OK


def test_wal_fails_where_the_data_folder_cannot_be_made(make_config: MakeConfig, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = dataclasses.replace(make_config(closed_port_url()), data_dir=blocker / "data")

    wal = check_of(run_doctor(config, edges=good_edges()), "wal")

    assert wal.status is Status.FAILURE
    assert wal.detail == f"The data folder {blocker / 'data'} cannot be created: {blocker} is a file, not a folder."
    assert "local disk" in wal.fix
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/sys: Linux's kernel folder nobody can write")
def test_wal_fails_where_the_data_folders_parent_cannot_be_written(make_config: MakeConfig) -> None:
    # /sys refuses a new folder even to root (these tests may run as root, whom file permissions do not stop).
    config = dataclasses.replace(make_config(closed_port_url()), data_dir=Path("/sys/invigil-data"))

    wal = check_of(run_doctor(config, edges=good_edges()), "wal")

    assert wal.status is Status.FAILURE
    assert wal.detail.startswith(
        "The data folder /sys/invigil-data does not exist yet, and the player cannot make it: /sys cannot be "
        "written by this user ("
    )
    assert wal.number == "INV-5009"


def test_keyring_memory_chosen_in_the_config_is_fine(offline: MakeConfig) -> None:
    from player.credentials import choose_backend

    keyring = check_of(
        run_doctor(offline(keyring_backend="memory"), edges=good_edges(keyring=choose_backend)), "keyring"
    )

    assert keyring.status is Status.OK
    assert keyring.detail.startswith("keyring_backend = memory (chosen in the config)")


def test_a_keyring_that_is_not_usable_is_a_warning(offline: MakeConfig) -> None:
    def no_keyring(setting: str) -> ChosenBackend:
        why = "the Secret Service (GNOME Keyring / KWallet) is not usable (D-Bus is not running): tokens kept in memory only"
        return ChosenBackend(InMemoryBackend(), "memory", False, why)

    keyring = check_of(run_doctor(offline(), edges=good_edges(keyring=no_keyring)), "keyring")

    assert keyring.status is Status.WARNING
    assert keyring.detail.startswith("The Secret Service (GNOME Keyring / KWallet) is not usable")
    assert 'keyring_backend = "memory"' in keyring.fix


@pytest.mark.parametrize(
    ("screen", "status", "detail"),
    [
        (ScreenInfo(800, 600, "xcb"), Status.FAILURE, "The main screen is 800x600, smaller than the 1024x768"),
        (ScreenInfo(1366, 700, "windows"), Status.FAILURE, "The main screen is 1366x700, smaller than the 1024x768"),
        (ScreenInfo(1024, 768, "wayland"), Status.OK, "The main screen is 1024x768"),
        (None, Status.FAILURE, "No screen found."),
    ],
)
def test_screen_size(offline: MakeConfig, screen: ScreenInfo | None, status: Status, detail: str) -> None:
    display = check_of(run_doctor(offline(), edges=good_edges(screen=lambda: screen)), "display")

    assert (display.status, display.detail[: len(detail)]) == (status, detail)


def test_without_a_real_display_the_screen_is_not_checked(offline: MakeConfig, qapp: object) -> None:
    # The real edge on this machine's offscreen Qt platform (tests/conftest.py sets it).
    display = check_of(run_doctor(offline(), edges=good_edges(screen=DoctorEdges().screen)), "display")

    assert (display.status, display.number) == (Status.NOT_CHECKED, None)
    assert display.detail.startswith("Not checked: there is no real display (Qt's platform is 'offscreen'")
    assert "own desktop" in display.fix


def test_results_waiting_on_this_computer_are_a_warning_without_saying_whose(
    offline: MakeConfig, demo_delivery: object
) -> None:
    config = offline()
    assert check_of(run_doctor(config, edges=good_edges()), "unsent_results").detail.startswith("None: nothing")
    db = open_database(journal_path(config.data_dir))
    try:
        write_unsent_result(db, demo_delivery, config.server_url)
    finally:
        db.close()

    unsent = check_of(run_doctor(config, edges=good_edges()), "unsent_results")

    assert unsent.status is Status.WARNING
    assert unsent.detail.startswith("1 result(s) made on this computer have not reached the server yet (oldest since ")
    assert "Ada" not in unsent.detail
    assert "Do not wipe or reimage it" in unsent.fix


def test_a_damaged_journal_is_named_and_kept(offline: MakeConfig) -> None:
    config = offline()
    config.data_dir.mkdir()
    journal = journal_path(config.data_dir)
    garbage = bytes(range(256)) * 16  # not SQLite: a disk fault or a copy that went wrong
    journal.write_bytes(garbage)

    report = run_doctor(config, edges=good_edges())

    unsent = check_of(report, "unsent_results")
    assert unsent.status is Status.FAILURE
    assert unsent.number == "INV-5017"
    assert unsent.detail.startswith(f"The journal at {journal} is damaged: SQLite cannot read it (")
    assert unsent.fix.startswith("Do not delete it or the data folder: it may hold answers")
    assert "invigil support-bundle" in unsent.fix
    assert journal.read_bytes() == garbage
    assert sorted(p.name for p in config.data_dir.iterdir()) == [journal.name]  # nothing added beside it
    assert not any(c.detail.startswith("The check itself could not run") for c in report.checks)


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("DESKTOP-4F7K2QX", Status.WARNING),
        ("localhost", Status.WARNING),
        ("room12-pc03.school.local", Status.OK),
        ("", Status.WARNING),
    ],
)
def test_machine_name_from_the_host_name(offline: MakeConfig, host: str, status: Status) -> None:
    name = check_of(run_doctor(offline(), edges=good_edges(host_name=lambda: host)), "machine_name")

    assert name.status is status
    if status is Status.WARNING:
        assert "machine_name" in name.fix


def test_a_configured_machine_name_is_shown_with_its_source(offline: MakeConfig) -> None:
    config = offline(machine_name="Room 12 PC 3")
    name = check_of(run_doctor(config, edges=good_edges(host_name=lambda: "DESKTOP-4F7K2QX")), "machine_name")

    assert name.status is Status.OK
    assert name.detail == f"The console shows this computer as 'Room 12 PC 3' (from {config.origins['machine_name']})."


@pytest.mark.parametrize(
    ("name", "generated"),
    [
        ("DESKTOP-4F7K2QX", True),
        ("WIN-3J2K1L0M9N8", True),
        ("3f2a9c1b7e4d", True),
        ("9f1c2e3a-4b5c-6d7e-8f90-0123456789ab", True),
        ("ip-10-0-0-12", True),
        ("10.0.0.12", True),
        ("ubuntu", True),
        ("room12-pc03", False),
        ("LIBRARY-PC-4", False),
        ("desktop-art", False),
    ],
)
def test_generated_host_names(name: str, generated: bool) -> None:
    assert looks_generated(name) is generated


def test_a_check_that_breaks_is_reported_as_its_own_failure(offline: MakeConfig) -> None:
    def broken_disk(path: Path) -> DiskSpace:
        raise OSError(5, "Input/output error")

    report = run_doctor(offline(), edges=good_edges(disk_space=broken_disk))

    disk = check_of(report, "disk_space")
    assert disk.status is Status.FAILURE
    assert disk.detail == "The check itself could not run: OSError: [Errno 5] Input/output error"
    assert "invigil support-bundle" in disk.fix
    assert [c.key for c in report.checks] == list(CHECK_KEYS)  # the others still ran


def test_the_real_qt_edges_answer_a_worker_thread_from_the_gui_thread(
    offline: MakeConfig, qapp: object, qtbot: QtBot
) -> None:
    # As the staff console's Readiness screen runs doctor: on its task runner, while the GUI thread keeps running.
    real = DoctorEdges()
    edges = good_edges(audio_outputs=lambda: ["Test speakers"], tone_player=real.tone_player, screen=real.screen)
    reports: list[Report] = []
    worker = threading.Thread(target=lambda: reports.append(run_doctor(offline(), edges=edges)))
    worker.start()
    qtbot.waitUntil(lambda: bool(reports), timeout=30_000)
    worker.join()

    (report,) = reports
    # The real tone player, on the GUI thread: with no sound card QtAudioPlayer refuses to play and the worker hears
    # why; where this process sees a device (a null sink another test started), the tone plays to its end.
    assert check_of(report, "audio_tone").detail in {
        f"The test tone did not play: {NO_DEVICE_MESSAGE}",
        "A 0.6 s test tone played to its end through the audio output.",
    }
    assert check_of(report, "display").detail.startswith("Not checked: there is no real display")
