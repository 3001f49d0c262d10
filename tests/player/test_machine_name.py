"""The name the console shows for a machine: `machine_name` from the config, else the host name; hostile or
overlong names refused where they are configured, and a strange host name never sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from player.config import ConfigError, ConfigSources, load_config
from player.machine_name import name_from_host, resolve_machine_name


def load(tmp_path: Path, machine: str = "", **env: str) -> ConfigSources:
    machine_file = tmp_path / "machine.toml"
    machine_file.write_text(machine, encoding="utf-8")
    return ConfigSources(machine_file=machine_file, user_file=tmp_path / "none.toml", env=env)


def test_without_a_configured_name_the_host_name_is_used(tmp_path: Path) -> None:
    config = load_config(load(tmp_path))
    assert config.machine_name is None
    assert resolve_machine_name(config, host_name=lambda: "room12-pc03.school.local") == "room12-pc03"


def test_a_configured_name_wins_over_the_host_name(tmp_path: Path) -> None:
    config = load_config(load(tmp_path, 'machine_name = "Room 12 PC 3"\n'))
    assert resolve_machine_name(config, host_name=lambda: "DESKTOP-8F3K2") == "Room 12 PC 3"
    from_env = load_config(load(tmp_path, 'machine_name = "Room 12 PC 3"\n', INVIGIL_MACHINE_NAME="Library 2"))
    assert resolve_machine_name(from_env, host_name=lambda: "x") == "Library 2"


@pytest.mark.parametrize(
    "value",
    ['"pc\\u001b[2J03"', '"' + "x" * 65 + '"', '""', '"   "', '"two\\nlines"', "3"],
    ids=["escape", "too-long", "empty", "blank", "newline", "number"],
)
def test_a_hostile_or_overlong_configured_name_stops_the_player_with_the_key_named(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(load(tmp_path, f"machine_name = {value}\n"))
    assert "machine_name" in str(refused.value)
    assert "set it to e.g." in str(refused.value)


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("room12-pc03", "room12-pc03"),
        ("room12-pc03.school.local", "room12-pc03"),
        ("10.0.4.17", "10.0.4.17"),
        ("", None),
        ("bad\x07host", None),
        ("y" * 300, "y" * 64),
    ],
)
def test_the_host_name_is_cut_to_what_staff_know_and_the_wire_allows(host: str, shown: str | None) -> None:
    assert name_from_host(host) == shown


def test_a_host_name_that_cannot_be_read_leaves_the_machine_id_to_show(tmp_path: Path) -> None:
    def unreadable() -> str:
        raise OSError("no host name")

    assert resolve_machine_name(load_config(load(tmp_path)), host_name=unreadable) is None
