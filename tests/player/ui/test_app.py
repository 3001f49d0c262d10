"""The entry point's own work: command-line overrides and the rotating log file in the data dir."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.app import close_on_interrupt, configure, parse_args, setup_logging
from player.config import ConfigError


def test_command_line_overrides_server_and_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVIGIL_CONFIG", str(tmp_path / "no-such-config.toml"))
    args = parse_args(["--server", "http://127.0.0.1:8765/", "--data-dir", str(tmp_path / "data")])
    config = configure(args)
    assert config.server_url == "http://127.0.0.1:8765"
    assert config.data_dir == (tmp_path / "data").resolve()


def test_a_server_without_a_scheme_on_the_command_line_stops_the_start_naming_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVIGIL_CONFIG", str(tmp_path / "no-such-config.toml"))
    with pytest.raises(ConfigError) as caught:
        configure(parse_args(["--server", "127.0.0.1:8765"]))
    assert str(caught.value).startswith("command line --server: '127.0.0.1:8765' is not an http(s) URL; give e.g. ")


def test_the_log_goes_to_a_file_in_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVIGIL_CONFIG", str(tmp_path / "no-such-config.toml"))
    config = configure(parse_args(["--data-dir", str(tmp_path / "data")]))
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        path = setup_logging(config)
        logging.getLogger("player.test").info("a line for the admin")
    finally:
        for handler in root.handlers[len(before) :]:
            handler.close()
            root.removeHandler(handler)
        root.setLevel(level)
    assert path == tmp_path / "data" / "logs" / "player.log"
    assert "INFO player.test: a line for the admin" in path.read_text(encoding="utf-8")


def test_ctrl_c_closes_the_window_the_normal_way(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    previous = signal.getsignal(signal.SIGINT)
    try:
        close_on_interrupt(window)
        signal.raise_signal(signal.SIGINT)
        qtbot.waitUntil(lambda: not window.isVisible())
    finally:
        signal.signal(signal.SIGINT, previous)
