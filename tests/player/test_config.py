"""The player's config: file and environment precedence, and error messages an IT admin can act on."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from player.config import (
    ConfigError,
    ConfigSources,
    default_sources,
    ensure_machine_id,
    load_config,
    machine_id_path,
    resolve_machine_id,
)


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


def test_without_any_file_the_defaults_apply(tmp_path: Path) -> None:
    config = load_config(sources(tmp_path))

    assert config.server_url == "http://127.0.0.1:8765"
    assert config.data_dir == Path(platformdirs.user_data_dir("invigil", appauthor=False))
    assert config.log_level == "INFO"
    assert config.machine_id is None
    assert config.checkpoint_interval_seconds == 5
    assert config.typing_commit_seconds == 2
    assert config.staff_idle_lock_minutes == 15
    assert config.heartbeat_interval_seconds == 5
    assert config.keyring_backend == "auto"
    assert config.ca_bundle is None
    assert set(config.origins.values()) == {"default"}


def test_environment_beats_user_file_beats_machine_file(tmp_path: Path) -> None:
    src = sources(
        tmp_path,
        machine='server_url = "https://machine.example.org"\nlog_level = "warning"\n'
        "request_timeout_seconds = 30\nstaff_idle_lock_minutes = 5\n",
        user='log_level = "DEBUG"\nrequest_timeout_seconds = 3.5\n',
        INVIGIL_SERVER_URL="https://env.example.org/",
        INVIGIL_REQUEST_TIMEOUT_SECONDS="7",
    )

    config = load_config(src)

    assert config.server_url == "https://env.example.org"
    assert config.log_level == "DEBUG"
    assert config.request_timeout_seconds == 7.0
    assert config.staff_idle_lock_minutes == 5
    assert config.origins["server_url"] == "environment variable INVIGIL_SERVER_URL"
    assert config.origins["log_level"] == str(src.user_file)
    assert config.origins["staff_idle_lock_minutes"] == str(src.machine_file)


def test_paths_are_expanded_and_must_be_absolute(tmp_path: Path) -> None:
    config = load_config(sources(tmp_path, machine=f'data_dir = "{tmp_path.as_posix()}/data"\n'))
    assert config.data_dir == tmp_path / "data"

    message = error_for(sources(tmp_path, user='data_dir = "relative/data"\n'))
    assert message.startswith(f"{tmp_path / 'home' / 'config.toml'}: data_dir: 'relative/data' is not an absolute")


def test_bad_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    src = sources(tmp_path, machine='server_url = "https://x.example.org"\nlog_level = \n')

    message = error_for(src)

    assert message.startswith(f"{src.machine_file}: is not valid TOML")
    assert "line 2" in message


def test_an_unknown_key_is_an_error_that_suggests_the_right_one(tmp_path: Path) -> None:
    src = sources(tmp_path, machine='sever_url = "https://x.example.org"\n')

    assert error_for(src) == f"{src.machine_file}: sever_url: is not a known setting; did you mean server_url?"


def test_a_table_is_an_unknown_key_too(tmp_path: Path) -> None:
    src = sources(tmp_path, user='[player]\nserver_url = "https://x.example.org"\n')

    message = error_for(src)

    assert message.startswith(f"{src.user_file}: player: is not a known setting")


def test_a_wrong_type_names_the_key_and_a_good_value(tmp_path: Path) -> None:
    src = sources(tmp_path, machine='request_timeout_seconds = "ten"\n')

    assert error_for(src) == (
        f"{src.machine_file}: request_timeout_seconds: 'ten' is a string, not a number; set it to e.g. 10"
    )


def test_a_boolean_is_not_a_number(tmp_path: Path) -> None:
    src = sources(tmp_path, machine="staff_idle_lock_minutes = true\n")

    assert "staff_idle_lock_minutes: True is a boolean, not a whole number" in error_for(src)


def test_a_bad_url_says_what_to_set(tmp_path: Path) -> None:
    src = sources(tmp_path, machine='server_url = "htp://x"\n')

    assert error_for(src) == (
        f"{src.machine_file}: server_url: 'htp://x' is not an http(s) URL; "
        'set it to e.g. "https://invigil.example.org"'
    )


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    src = sources(tmp_path, INVIGIL_CHECKPOINT_INTERVAL_SECONDS="soon")

    assert error_for(src) == (
        "environment variable INVIGIL_CHECKPOINT_INTERVAL_SECONDS: checkpoint_interval_seconds: "
        "'soon' is not a number; set it to e.g. 5"
    )


def test_out_of_range_and_unknown_choices_are_refused(tmp_path: Path) -> None:
    assert "must be at least 1" in error_for(sources(tmp_path, machine="staff_idle_lock_minutes = 0\n"))
    message = error_for(sources(tmp_path / "env", INVIGIL_LOG_LEVEL="loud"))
    assert "log_level: 'loud' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in message
    message = error_for(sources(tmp_path / "keyring", machine='keyring_backend = "kwallet"\n'))
    assert "keyring_backend: 'kwallet' is not one of auto, memory" in message


def test_a_heartbeat_interval_outside_its_range_is_refused_with_the_range(tmp_path: Path) -> None:
    for n, value in enumerate(("1.9", "15.5", "0", "-3", "nan", "inf", "120")):
        src = sources(tmp_path / str(n), machine=f"heartbeat_interval_seconds = {value}\n")
        assert error_for(src).startswith(f"{src.machine_file}: heartbeat_interval_seconds: "), value
        assert error_for(src).endswith(" is out of range (it must be from 2 to 15); set it to e.g. 5"), value
    env = sources(tmp_path / "env", INVIGIL_HEARTBEAT_INTERVAL_SECONDS="60")
    assert error_for(env) == (
        "environment variable INVIGIL_HEARTBEAT_INTERVAL_SECONDS: heartbeat_interval_seconds: "
        "'60' is out of range (it must be from 2 to 15); set it to e.g. 5"
    )
    for value, expected in (("2", 2.0), ("7.5", 7.5), ("15", 15.0)):
        config = load_config(sources(tmp_path / f"ok-{value}", machine=f"heartbeat_interval_seconds = {value}\n"))
        assert config.heartbeat_interval_seconds == expected


def test_ca_bundle_must_name_a_file_that_is_there(tmp_path: Path) -> None:
    pem = tmp_path / "school-ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    assert load_config(sources(tmp_path, machine=f'ca_bundle = "{pem.as_posix()}"\n')).ca_bundle == pem

    src = sources(tmp_path / "missing", machine=f'ca_bundle = "{(tmp_path / "gone.pem").as_posix()}"\n')
    assert error_for(src) == (
        f"{src.machine_file}: ca_bundle: '{(tmp_path / 'gone.pem').as_posix()}' is not there; it must name the PEM "
        'file of the CA certificates to trust; set it to e.g. "/etc/ssl/certs/school-proxy.pem"'
    )
    folder = sources(tmp_path / "folder", INVIGIL_CA_BUNDLE=str(tmp_path))
    assert f"ca_bundle: {str(tmp_path)!r} is a folder;" in error_for(folder)
    assert load_config(sources(tmp_path / "unset", INVIGIL_CA_BUNDLE="")).ca_bundle is None


def test_the_machine_file_can_forbid_the_user_file(tmp_path: Path) -> None:
    src = sources(
        tmp_path,
        machine='server_url = "https://school.example.org"\nallow_user_config = false\n',
        user='server_url = "https://evil.example.com"\n',
    )

    assert load_config(src).server_url == "https://school.example.org"


def test_only_the_machine_file_may_set_allow_user_config(tmp_path: Path) -> None:
    src = sources(tmp_path, user="allow_user_config = true\n")

    assert error_for(src).startswith(f"{src.user_file}: allow_user_config: can only be set in the machine-wide")


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    src = sources(tmp_path)
    src.machine_file.mkdir(parents=True)
    assert error_for(src).startswith(f"{src.machine_file}: is a folder, not a file")

    src = sources(tmp_path / "latin1")
    src.user_file.parent.mkdir(parents=True)
    src.user_file.write_bytes(b'log_level = "caf\xe9"\n')
    assert error_for(src) == f"{src.user_file}: is not UTF-8 text; save it as UTF-8"


def test_invigil_config_moves_the_machine_file(tmp_path: Path) -> None:
    elsewhere = tmp_path / "share" / "invigil.toml"

    assert default_sources({"INVIGIL_CONFIG": str(elsewhere)}).machine_file == elsewhere
    usual = default_sources({})
    assert usual.machine_file == Path("/etc/invigil/config.toml")  # this suite runs on Linux
    assert usual.user_file == Path(platformdirs.user_config_dir("invigil", appauthor=False)) / "config.toml"


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40))
def test_any_server_url_is_either_http_or_a_named_error(tmp_path: Path, text: str) -> None:
    src = sources(tmp_path, INVIGIL_SERVER_URL=text)
    try:
        config = load_config(src)
    except ConfigError as exc:
        message = str(exc)
    else:
        assert config.server_url.split("://")[0] in ("http", "https")
        assert not config.server_url.endswith("/")
        return
    assert message.startswith("environment variable INVIGIL_SERVER_URL: server_url: ")


def test_machine_id_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = ensure_machine_id(tmp_path / "data")

    assert ensure_machine_id(tmp_path / "data") == first
    assert machine_id_path(tmp_path / "data").read_text(encoding="utf-8").strip() == first
    assert list((tmp_path / "data").iterdir()) == [machine_id_path(tmp_path / "data")]  # no temp files left
    assert ensure_machine_id(tmp_path / "other") != first


def test_a_configured_machine_id_wins(tmp_path: Path) -> None:
    src = sources(tmp_path, machine=f'machine_id = "room12-pc03"\ndata_dir = "{tmp_path.as_posix()}"\n')

    assert resolve_machine_id(load_config(src)) == "room12-pc03"
    assert not machine_id_path(tmp_path).exists()


def test_a_damaged_machine_id_file_is_named(tmp_path: Path) -> None:
    machine_id_path(tmp_path).write_text("\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="machine-id: does not hold a machine id; delete it"):
        ensure_machine_id(tmp_path)
