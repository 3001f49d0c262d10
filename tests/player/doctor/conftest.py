"""doctor's test setup: a real machine-wide config file, read as the player reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from player.config import ConfigSources, PlayerConfig, load_config
from tests.helpers.doctor import MakeConfig


@pytest.fixture
def config_files(tmp_path: Path) -> ConfigSources:
    folder = tmp_path / "etc"
    folder.mkdir()
    return ConfigSources(machine_file=folder / "config.toml", user_file=tmp_path / "user-config.toml", env={})


@pytest.fixture
def make_config(tmp_path: Path, config_files: ConfigSources) -> MakeConfig:
    """Writes the machine-wide file (server_url, data_dir and `settings`) and reads it as the player does."""

    def make(server_url: str, **settings: str | int | bool) -> PlayerConfig:
        lines = [f'server_url = "{server_url}"', f'data_dir = "{tmp_path / "data"}"']
        for key, value in settings.items():
            shown = ("true" if value else "false") if isinstance(value, bool) else value
            lines.append(f'{key} = "{shown}"' if isinstance(value, str) else f"{key} = {shown}")
        config_files.machine_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return load_config(config_files)

    return make
