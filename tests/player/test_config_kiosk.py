"""The `kiosk` setting: on from the machine-wide file or INVIGIL_KIOSK, never changed by the student's user file."""

from __future__ import annotations

from pathlib import Path

import pytest

from player.config import ConfigError, ConfigSources, load_config


def sources(tmp_path: Path, *, machine: str | None = None, user: str | None = None, **env: str) -> ConfigSources:
    machine_file = tmp_path / "etc" / "config.toml"
    user_file = tmp_path / "home" / "config.toml"
    for path, text in ((machine_file, machine), (user_file, user)):
        if text is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return ConfigSources(machine_file=machine_file, user_file=user_file, env=env)


def error_for(src: ConfigSources) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(src)
    return str(caught.value)


def test_kiosk_is_off_unless_the_machine_says_so(tmp_path: Path) -> None:
    assert load_config(sources(tmp_path)).kiosk is False


def test_the_machine_file_turns_kiosk_on_and_says_where_it_came_from(tmp_path: Path) -> None:
    src = sources(tmp_path, machine="kiosk = true\n")
    config = load_config(src)
    assert config.kiosk is True
    assert config.origins["kiosk"] == str(src.machine_file)


def test_the_environment_may_set_kiosk(tmp_path: Path) -> None:
    assert load_config(sources(tmp_path, INVIGIL_KIOSK="yes")).kiosk is True
    assert load_config(sources(tmp_path / "off", machine="kiosk = true\n", INVIGIL_KIOSK="0")).kiosk is False


@pytest.mark.parametrize("value", ["false", "true"])
def test_a_user_file_cannot_touch_kiosk(tmp_path: Path, value: str) -> None:
    """A student who edits their own config file cannot switch kiosk mode off (nor on): the player refuses to
    start and names the file and the key, rather than quietly taking or ignoring it."""
    src = sources(tmp_path, machine="kiosk = true\n", user=f"kiosk = {value}\n")

    message = error_for(src)
    assert message.startswith(f"{src.user_file}: kiosk: can only be set in the machine-wide config file")
    assert "remove it here" in message


def test_a_kiosk_value_that_is_not_true_or_false_is_named(tmp_path: Path) -> None:
    src = sources(tmp_path, machine='kiosk = "on"\n')
    assert error_for(src) == f"{src.machine_file}: kiosk: 'on' is not true or false; set it to e.g. true"
    env = sources(tmp_path / "env", INVIGIL_KIOSK="maybe")
    assert (
        error_for(env) == "environment variable INVIGIL_KIOSK: kiosk: 'maybe' is not true or false; set it to e.g. true"
    )
