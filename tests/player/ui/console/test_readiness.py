"""The staff-only Readiness screen through its real widgets: each check listed as it completes (the checks run on a
worker thread), with its status, what was found, what to do and its number, the verdict, a check that stops with
an error, the support bundle's dialog, and the tab staff reach after signing in (the live server).

The widget tests hand the screen a stand-in `run` (Doctor below) that gives Check and Report objects with the real
doctor's titles and numbers, through the same `progress` callback and on the worker thread, so a run can be held
halfway or made to stop. The screenshot and the app's own wiring run the real doctor (player.doctor) against the
live server."""

from __future__ import annotations

import gc
import json
import re
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.config import ConfigSources, PlayerConfig, load_config
from player.doctor.checks import CHECK_KEYS
from player.doctor.edges import DoctorEdges
from player.doctor.report import Check, Report, Status
from player.ui.assembly import staff_console_opener
from player.ui.console import ConsoleWindow
from player.ui.console.readiness import COLUMNS, MachineCheck, ReadinessView, machine_check_for
from player.ui.console.window import MINIMUM_SIZE
from player.ui.tasks import TaskRunner
from player.ui.widgets import message_number
from sync.client import InvigilClient, client_for
from sync.error_catalogue import by_number, number_for
from sync.version import VERSION
from tests.helpers.console import ConsoleFactory
from tests.helpers.doctor import good_edges
from tests.helpers.layout import clipped, lay_out
from tests.helpers.live_server import LiveServer
from tests.helpers.screens import Camera, visible_text
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS

STATUS, TITLE, FOUND, FIX, NUMBER = range(len(COLUMNS))

CLOCK = Check(
    "clock",
    "Clock against the server",
    Status.FAILURE,
    "This computer's clock is 6 minutes 10 seconds behind the server's.",
    fix="Set this computer to get its time from the network (NTP: Windows Time, systemd-timesyncd or chrony), the "
    "same source as the server; timers and the server's records depend on it.",
    number=number_for("doctor.clock"),
)
NAME = Check(
    "machine_name",
    "Machine name",
    Status.WARNING,
    "The console shows this computer as 'DESKTOP-4F7K2QX', its host name, which looks generated or shared: staff "
    "cannot tell which desk it is.",
    fix='Set machine_name in this computer\'s config (e.g. machine_name = "Room 12 PC 3").',
    number=number_for("doctor.machine_name"),
)
CHECKS = (
    Check("config", "Settings", Status.OK, "Config: /etc/invigil/config.toml sets server_url, ca_bundle."),
    Check("server", "Server reachable", Status.OK, "Invigil 0.1.0 answered at https://invigil.school.example."),
    Check("tls", "Secure connection (TLS)", Status.OK, "Verified with /etc/invigil/school-ca.pem."),
    Check("api_version", "Server version", Status.OK, "0.1.0, the same as this player."),
    CLOCK,
    Check("audio_output", "Audio output", Status.OK, "1 found: Built-in Audio Analog Stereo."),
    Check("audio_tone", "Test tone", Status.OK, "A 0.6 s test tone played to its end through the audio output."),
    Check("disk_space", "Free disk space", Status.OK, "41,000 MB free for the data folder /var/lib/invigil."),
    Check("wal", "Journal safety (SQLite WAL)", Status.OK, "WAL and full sync work in the data folder."),
    Check("keyring", "Staff sign-in store (keyring)", Status.OK, "Staff sign-ins are kept in the Secret Service."),
    Check("display", "Screen size", Status.OK, "The main screen is 1920x1080 (at least 1024x768 is needed)."),
    Check("unsent_results", "Unsent results", Status.OK, "None: nothing has been recorded on this computer yet."),
    NAME,
)


class Doctor:
    """Stands in for player.doctor's run_doctor behind the screen: reports `checks` one by one through `progress`,
    on whatever thread runs it, and waits at `hold_after` checks until the test lets it go on."""

    def __init__(self, checks: Sequence[Check], *, hold_after: int | None = None, fails: bool = False) -> None:
        self.checks = tuple(checks)
        self.hold_after = hold_after
        self.fails = fails
        self.go_on = threading.Event()
        self.threads: list[threading.Thread] = []
        self.runs = 0

    def __call__(self, *, progress: Callable[[Check], None]) -> Report:
        self.runs += 1
        self.threads.append(threading.current_thread())
        for done, check in enumerate(self.checks, start=1):
            progress(check)
            if done == self.hold_after:
                assert self.go_on.wait(TIMEOUT_MS / 1000), "the test never let the checks go on"
        if self.fails:
            raise OSError(28, "No space left on device")
        return Report(checks=self.checks, version=VERSION)


class BundlePaths:
    """Stands in for the save dialog: answers with `answer` and records the names the screen suggested."""

    def __init__(self, answer: Path | None) -> None:
        self.answer = answer
        self.suggested: list[str] = []

    def __call__(self, parent: QWidget, suggested: str) -> Path | None:
        self.suggested.append(suggested)
        return self.answer


@pytest.fixture
def tasks(qtbot: QtBot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    qtbot.waitUntil(runner.is_idle, timeout=TIMEOUT_MS)


def readiness_view(qtbot: QtBot, tasks: TaskRunner, check: MachineCheck) -> ReadinessView:
    view = ReadinessView(check, tasks=tasks, now=lambda: datetime(2027, 3, 1, 8, 30))
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    return view


def test_each_check_appears_as_it_completes_then_the_verdict(qtbot: QtBot, tasks: TaskRunner) -> None:
    doctor = Doctor(CHECKS, hold_after=2)
    view = readiness_view(qtbot, tasks, MachineCheck(run=doctor))

    view.check_button.click()
    qtbot.waitUntil(lambda: len(view.rows()) == 2, timeout=TIMEOUT_MS)
    assert [row[TITLE] for row in view.rows()] == ["Settings", "Server reachable"]
    assert not view.check_button.isEnabled(), "one check at a time"
    assert view.progress.text() == "Checking this computer… 2 checks done"
    assert view.verdict.isHidden(), "no verdict while checks are still running"
    assert doctor.threads[0] is not threading.main_thread(), "the checks (the tone, the network) run off the GUI"

    doctor.go_on.set()
    qtbot.waitUntil(lambda: view.report is not None, timeout=TIMEOUT_MS)
    problems_first = [CLOCK.title, NAME.title] + [c.title for c in CHECKS if c.status is Status.OK]
    assert [row[TITLE] for row in view.rows()] == problems_first, "each listed once, what to fix at the top"
    assert view.verdict.text() == "Not ready: 1 failure and 1 warning. Fix what is marked Failure before a test."
    assert view.verdict.objectName() == "error"
    assert view.progress.isHidden()
    assert view.check_button.isEnabled()


def test_a_problem_shows_what_was_found_what_to_do_and_its_number(qtbot: QtBot, tasks: TaskRunner) -> None:
    view = readiness_view(qtbot, tasks, MachineCheck(run=Doctor(CHECKS)))
    view.check_button.click()
    qtbot.waitUntil(lambda: view.report is not None, timeout=TIMEOUT_MS)

    rows = {row[TITLE]: row for row in view.rows()}
    assert rows["Clock against the server"] == (
        "Failure",
        "Clock against the server",
        CLOCK.detail,
        CLOCK.fix,
        "INV-5005",
    )
    assert rows["Machine name"][STATUS] == "Warning"
    assert (rows["Machine name"][FIX], rows["Machine name"][NUMBER]) == (NAME.fix, "INV-5013")
    assert rows["Server reachable"][STATUS:] == (
        "OK",
        "Server reachable",
        "Invigil 0.1.0 answered at https://invigil.school.example.",
        "—",
        "—",
    )

    def status_cell(title: str) -> tuple[bool, str, bool]:
        row = [r[TITLE] for r in view.rows()].index(title)
        item = view.table.item(row, STATUS)
        assert item is not None
        return item.font().bold(), item.foreground().color().name(), not item.icon().isNull()

    assert status_cell("Clock against the server") == (True, "#8a1010", True), "a failure stands out in red"
    assert status_cell("Machine name") == (True, "#7a5c00", True)
    assert status_cell("Server reachable") == (False, "#1d5e20", True)


@pytest.mark.parametrize(
    ("checks", "said"),
    [
        ((CHECKS[0], CHECKS[1]), "Ready: all 2 checks passed."),
        ((CHECKS[0], NAME), "Ready, with 1 warning: a test can run, but see what to do below."),
        ((CLOCK, CLOCK), "Not ready: 2 failures. Fix what is marked Failure before a test."),
        ((), "No checks ran. This build's doctor checks nothing yet, so this computer's readiness is unknown."),
    ],
    ids=["ready", "warning", "failures", "nothing"],
)
def test_the_verdict_says_whether_a_test_can_run(
    qtbot: QtBot, tasks: TaskRunner, checks: tuple[Check, ...], said: str
) -> None:
    view = readiness_view(qtbot, tasks, MachineCheck(run=Doctor(checks)))
    view.check_button.click()
    qtbot.waitUntil(lambda: view.report is not None, timeout=TIMEOUT_MS)
    assert view.verdict.text() == said
    assert len(view.rows()) == len(checks)


def test_a_check_that_stops_with_an_error_says_so_and_can_be_run_again(qtbot: QtBot, tasks: TaskRunner) -> None:
    doctor = Doctor(CHECKS[:3], fails=True)
    view = readiness_view(qtbot, tasks, MachineCheck(run=doctor))
    view.check_button.click()
    qtbot.waitUntil(view.error.isVisible, timeout=TIMEOUT_MS)
    assert "The check itself stopped with an error (OSError" in view.error.text()
    assert "No space left on device" in view.error.text()
    assert "save a support bundle" in view.error.text()
    assert view.verdict.isHidden(), "no verdict from checks that did not finish"
    assert len(view.rows()) == 3, "what was found before it stopped stays in view"

    doctor.fails = False
    view.check_button.click()
    qtbot.waitUntil(lambda: view.report is not None, timeout=TIMEOUT_MS)
    assert view.error.isHidden()
    assert len(view.rows()) == 3, "the second run's checks, not added to the first's"
    assert doctor.runs == 2


def test_save_support_bundle_asks_where_and_cancelling_changes_nothing(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path
) -> None:
    written: list[tuple[Path, Report | None]] = []

    def save(dest: Path, report: Report | None) -> Path:
        written.append((dest, report))
        return dest

    cancel = BundlePaths(None)
    view = readiness_view(qtbot, tasks, MachineCheck(run=Doctor(CHECKS), save_bundle=save, choose_bundle_path=cancel))
    view.bundle_button.click()
    assert cancel.suggested == ["invigil-support-2027-03-01-0830.zip"]
    assert written == []
    assert view.message.isHidden()
    assert view.error.isHidden()


def test_save_support_bundle_writes_the_zip_with_these_checks(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path) -> None:
    """The console's real bundle maker (player.support_bundle), off the GUI thread, with the checks just run."""
    config = PlayerConfig(server_url="http://127.0.0.1:9", data_dir=tmp_path / "data")
    (tmp_path / "data" / "logs").mkdir(parents=True)
    (tmp_path / "data" / "logs" / "player.log").write_text("2027-03-01 08:30:00 INFO player: started\n")
    paths = BundlePaths(tmp_path / "bundle.zip")
    real = machine_check_for(config)
    view = readiness_view(
        qtbot, tasks, MachineCheck(run=Doctor(CHECKS), save_bundle=real.save_bundle, choose_bundle_path=paths)
    )
    view.check_button.click()
    qtbot.waitUntil(lambda: view.report is not None, timeout=TIMEOUT_MS)
    view.bundle_button.click()
    qtbot.waitUntil(lambda: "Saved the support bundle" in view.message.text(), timeout=TIMEOUT_MS)
    assert view.error.isHidden()
    with zipfile.ZipFile(tmp_path / "bundle.zip") as bundle:
        names = bundle.namelist()
        doctor = next(n for n in names if n.endswith(".json") and "doctor" in n)
        shown = json.loads(bundle.read(doctor))
    assert [c["key"] for c in shown["checks"]] == [c.key for c in CHECKS], "the checks on screen are in the bundle"
    assert any(n.endswith("player.log") for n in names)


def test_a_bundle_that_cannot_be_saved_says_so_with_its_number(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path) -> None:
    config = PlayerConfig(server_url="http://127.0.0.1:9", data_dir=tmp_path / "data")
    paths = BundlePaths(tmp_path / "no-such-folder" / "bundle.zip")
    view = readiness_view(
        qtbot,
        tasks,
        MachineCheck(run=Doctor(CHECKS), save_bundle=machine_check_for(config).save_bundle, choose_bundle_path=paths),
    )
    view.bundle_button.click()
    qtbot.waitUntil(lambda: not view.error.isHidden(), timeout=TIMEOUT_MS)
    assert f"Could not save the support bundle to {tmp_path / 'no-such-folder' / 'bundle.zip'}" in view.error.text()
    assert message_number(view.error) == number_for("console.bundle_not_saved")
    assert view.bundle_button.isEnabled(), "staff can choose another folder"


def test_without_a_bundle_maker_there_is_no_bundle_button(qtbot: QtBot, tasks: TaskRunner) -> None:
    view = readiness_view(qtbot, tasks, MachineCheck(run=Doctor(CHECKS)))
    assert view.bundle_button.isHidden()


SCREENSHOT_CLOCK_AHEAD = timedelta(minutes=6, seconds=10)
SCREENSHOT_HOST = "DESKTOP-4F7K2QX"


@pytest.fixture
def school_machine(live_server: LiveServer) -> Iterator[PlayerConfig]:
    """This machine's config as a school writes it (a machine-wide file, read as the player reads it) for the live
    server, in a short-named folder so the paths on screen read like a real machine's."""
    with tempfile.TemporaryDirectory(prefix="invigil-") as folder:
        root = Path(folder)
        machine_file = root / "config.toml"
        machine_file.write_text(
            f'server_url = "{live_server.url}"\ndata_dir = "{root / "data"}"\nkeyring_backend = "memory"\n',
            encoding="utf-8",
        )
        yield load_config(ConfigSources(machine_file=machine_file, user_file=root / "user-config.toml", env={}))


def test_staff_reach_readiness_after_signing_in_and_it_goes_when_they_sign_out(
    qtbot: QtBot,
    styled: None,
    open_demo_console: ConsoleFactory,
    screen_folders: list[Path],
    school_machine: PlayerConfig,
) -> None:
    """docs/screens/console-13-readiness.png shows what the app shows: the real doctor (machine_check_for, as the
    app wires it) against the live server, with this machine's own disk, SQLite and config. Faked only what this
    machine lacks (a sound card, a display, an ordinary user: tests/helpers/doctor.good_edges) and what the picture
    is about: a clock 6 minutes ahead of the server's (a failure) and a generated host name (a warning)."""
    edges = good_edges(
        now=lambda: datetime.now(UTC) + SCREENSHOT_CLOCK_AHEAD,
        host_name=lambda: SCREENSHOT_HOST,
        keyring=DoctorEdges().keyring,  # the real choice: keyring_backend = "memory" in the config
    )
    console = open_demo_console()
    window = console.window
    window.offer_machine_check(machine_check_for(school_machine, edges=edges))
    assert window.readiness is None, "nothing staff-only before sign-in"
    console.sign_in()
    qtbot.waitUntil(lambda: console.sittings_shown() > 0, timeout=TIMEOUT_MS)
    view = window.readiness
    assert view is not None
    titles = [window.home.tabText(i).replace("&", "") for i in range(window.home.count())]
    assert "Readiness" in titles
    window.home.setCurrentWidget(view)
    view.check_button.click()
    qtbot.waitUntil(lambda: view.report is not None, timeout=TIMEOUT_MS)
    report = view.report
    assert report is not None

    # The real checks, every one of them, with the real doctor's titles; not OK only where the picture means it.
    assert [c.key for c in report.checks] == list(CHECK_KEYS)
    assert {c.key: c.status for c in report.checks if c.status is not Status.OK} == {
        "clock": Status.FAILURE,
        "machine_name": Status.WARNING,
    }, report.checks
    rows = view.rows()
    by_title = {c.title: c for c in report.checks}
    assert sorted(row[TITLE] for row in rows) == sorted(by_title)
    assert by_title["Clock against the server"].detail.startswith("This computer's clock is 6 minutes ")
    assert SCREENSHOT_HOST in by_title["Machine name"].detail
    # Every number on the screen is in the catalogue and is the entry of that row's own check; an OK row has none.
    for row in rows:
        check = by_title[row[TITLE]]
        if check.status is Status.OK:
            assert row[NUMBER] == "—", row
            continue
        entry = by_number(row[NUMBER])
        assert entry is not None, row
        assert entry.key == f"doctor.{check.key}", row
    shown_numbers = {row[NUMBER] for row in rows if row[NUMBER] != "—"}
    assert shown_numbers == {number_for("doctor.clock"), number_for("doctor.machine_name")}
    assert set(re.findall(r"INV-\d{4}", visible_text(window))) == shown_numbers, "no number outside its row"

    window.resize(QSize(1100, 1000))
    camera = Camera(screen_folders, max_bytes=300_000, prefix="console-", process_events=True)
    camera.shoot(
        window,
        "13-readiness",
        "Readiness of this computer",
        "Check this machine",
        "Save support bundle…",
        "Not ready: 1 failure and 1 warning. Fix what is marked Failure before a test.",
        "Clock against the server",
        "Server reachable",
        by_title["Clock against the server"].fix,
        *sorted(shown_numbers),
    )

    # It fits a small laptop as every console view does: nothing cut off with the window at its smallest.
    window.resize(window.minimumSize())
    lay_out(window)
    assert clipped(window) == []
    assert window.minimumSizeHint().width() <= MINIMUM_SIZE.width()

    window.sign_out()
    assert window.readiness is None
    qtbot.waitUntil(lambda: not shiboken6.isValid(view), timeout=TIMEOUT_MS)
    assert "Readiness" not in [window.home.tabText(i).replace("&", "") for i in range(window.home.count())]


def test_the_players_staff_console_offers_readiness_with_this_machines_own_checks(
    qtbot: QtBot, live_server: LiveServer, demo: object, demo_template: DemoTemplate, tmp_path: Path
) -> None:
    """As "Staff sign in" opens it in the app (player.ui.assembly): the Readiness tab runs player.doctor on this
    machine's config (on this branch the doctor is a stub: the report says which version ran it)."""
    host = QWidget()
    host.show()
    tasks = TaskRunner()
    config = PlayerConfig(server_url=live_server.url, data_dir=tmp_path, keyring_backend="memory")

    def connect(url: str) -> InvigilClient:
        return client_for(url, machine_id="staff-room-pc", timeout=5.0, ca_bundle=None)

    opener = staff_console_opener(host, config, tasks, connect=connect)  # type: ignore[arg-type]  # any window
    assert opener is not None
    try:
        opener()
        [window] = host.findChildren(ConsoleWindow)
        window.signin.username_edit.setText(demo_template.data["staff"]["username"])
        window.signin.password_edit.setText(demo_template.data["staff"]["password"])
        window.signin.sign_in_button.click()
        qtbot.waitUntil(lambda: window.readiness is not None, timeout=TIMEOUT_MS)
        view = window.readiness
        assert view is not None
        window.home.setCurrentWidget(view)
        view.check_button.click()
        qtbot.waitUntil(lambda: view.report is not None and view.verdict.isVisible(), timeout=TIMEOUT_MS)
        assert view.report is not None
        assert view.report.version == VERSION
        window.close()
    finally:
        qtbot.waitUntil(tasks.is_idle, timeout=TIMEOUT_MS)
        host.close()
        shiboken6.delete(host)  # on the GUI thread, with the console it holds
        gc.collect()
