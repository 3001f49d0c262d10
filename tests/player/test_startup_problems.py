"""The "Invigil cannot start" line names its cause's catalogue number: config, data folder, log, journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from player.config import ConfigError, ConfigSources, load_config
from player.offline_queue.db import DatabaseSetupError, open_database
from player.startup_problems import startup_problem
from sync.error_catalogue import by_number


def raised(action: object) -> BaseException:
    assert callable(action)
    with pytest.raises((ConfigError, DatabaseSetupError, OSError)) as caught:
        action()
    return caught.value


def test_a_bad_config_file_is_numbered_as_the_config(tmp_path: Path) -> None:
    machine = tmp_path / "config.toml"
    machine.write_text('server_url = "not a url"\n')
    exc = raised(lambda: load_config(ConfigSources(machine, tmp_path / "none.toml", {})))
    assert isinstance(exc, ConfigError)
    shown = startup_problem(exc)
    assert shown.number == "INV-1002"
    assert str(shown) == f"{exc} (INV-1002)"  # as app.py prints it after "Invigil cannot start: "


def test_a_data_folder_that_cannot_be_made_and_a_log_folder_are_told_apart(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    exc = raised(lambda: (blocker / "sub").mkdir(parents=True))
    assert startup_problem(exc).number == "INV-1003"
    exc = raised(lambda: (blocker / "logs").mkdir(parents=True))
    assert startup_problem(exc).number == "INV-1005"


def test_a_journal_that_cannot_be_opened_is_numbered_as_the_journal(tmp_path: Path) -> None:
    folder = tmp_path / "journal.db"
    folder.mkdir()  # a folder where the journal file should be
    exc = raised(lambda: open_database(folder))
    assert isinstance(exc, DatabaseSetupError)
    shown = startup_problem(exc)
    assert shown.number == "INV-1004"
    entry = by_number("INV-1004")
    assert entry is not None
    assert entry.key == "startup.journal"


def test_anything_else_is_numbered_as_cannot_start() -> None:
    assert startup_problem(RuntimeError("boom")).number == "INV-1001"


def test_a_damaged_journal_says_not_to_delete_it_and_how_to_get_help(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    journal.write_bytes(b"not a database, but maybe someone's answers" * 100)
    exc = raised(lambda: open_database(journal))

    shown = str(startup_problem(exc))

    assert shown.startswith(f"{journal}: cannot set up the journal (file is not a database); ")
    assert shown.endswith(
        " Do not delete or move the journal: it may hold answers not yet sent. Run `invigil doctor`, and send IT "
        "the zip `invigil support-bundle` makes. (INV-1004)"
    )
    assert journal.read_bytes().startswith(b"not a database")  # nothing changed
