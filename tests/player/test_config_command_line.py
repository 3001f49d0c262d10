"""--server is checked as server_url is, and a server address with user:password@ is refused from every source
without the password ever appearing in the message; the Linux machine-wide file is /etc/invigil/config.toml."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from player.config import ConfigError, ConfigSources, PlayerConfig, default_sources, load_config, with_command_line

PASSWORD = "hunter2-Secret"
WITH_USERINFO = f"https://teacher:{PASSWORD}@invigil.example.org"


def sources(tmp_path: Path, *, machine: str = "", user: str = "", **env: str) -> ConfigSources:
    machine_file = tmp_path / "etc" / "config.toml"
    user_file = tmp_path / "home" / "config.toml"
    for path, text in ((machine_file, machine), (user_file, user)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return ConfigSources(machine_file=machine_file, user_file=user_file, env=env)


def refusal(action: object) -> str:
    assert callable(action)
    with pytest.raises(ConfigError) as caught:
        action()
    return str(caught.value)


@pytest.fixture
def loaded(tmp_path: Path) -> PlayerConfig:
    return load_config(sources(tmp_path, machine='server_url = "https://from-file.example"\n'))


def test_a_server_without_a_scheme_on_the_command_line_is_refused_naming_the_option(loaded: PlayerConfig) -> None:
    message = refusal(lambda: with_command_line(loaded, server_url="127.0.0.1:9", data_dir=None))

    assert message == (
        "command line --server: '127.0.0.1:9' is not an http(s) URL; give e.g. --server https://invigil.example.org"
    )


def test_a_good_server_and_data_dir_on_the_command_line_win_and_say_where_they_came_from(
    loaded: PlayerConfig, tmp_path: Path
) -> None:
    config = with_command_line(loaded, server_url=" http://127.0.0.1:9/ ", data_dir=tmp_path / "d" / ".." / "data")

    assert config.server_url == "http://127.0.0.1:9"
    assert config.data_dir == tmp_path / "data"
    assert config.origins["server_url"] == "command line --server"
    assert config.origins["data_dir"] == "command line --data-dir"
    assert config.origins["log_level"] == "default"


def test_nothing_on_the_command_line_changes_nothing(loaded: PlayerConfig) -> None:
    config = with_command_line(loaded, server_url=None, data_dir=None)

    assert config == loaded
    assert dict(config.origins) == dict(loaded.origins)


@pytest.mark.parametrize(
    "url",
    [
        WITH_USERINFO,
        f"http://teacher:{PASSWORD}@127.0.0.1:8765/",
        f"teacher:{PASSWORD}@invigil.example.org",  # no scheme: would otherwise be echoed as "not an http(s) URL"
        f"https://{PASSWORD}@invigil.example.org?x=1",  # a query too: the query's message would show it
    ],
)
def test_a_server_address_with_credentials_is_refused_from_every_source_without_the_password(
    tmp_path: Path, loaded: PlayerConfig, url: str
) -> None:
    from_machine = refusal(lambda: load_config(sources(tmp_path / "m", machine=f'server_url = "{url}"\n')))
    from_user = refusal(lambda: load_config(sources(tmp_path / "u", user=f'server_url = "{url}"\n')))
    from_env = refusal(lambda: load_config(sources(tmp_path / "e", INVIGIL_SERVER_URL=url)))
    from_command_line = refusal(lambda: with_command_line(loaded, server_url=url, data_dir=None))

    assert from_machine.startswith(f"{tmp_path / 'm' / 'etc' / 'config.toml'}: server_url: ")
    assert from_user.startswith(f"{tmp_path / 'u' / 'home' / 'config.toml'}: server_url: ")
    assert from_env.startswith("environment variable INVIGIL_SERVER_URL: server_url: ")
    assert from_command_line.startswith("command line --server: ")
    for message in (from_machine, from_user, from_env, from_command_line):
        assert PASSWORD not in message
        assert "teacher" not in message
        assert "the player never sends credentials in the URL: remove them" in message
        assert "…@invigil.example.org" in message or "…@127.0.0.1:8765" in message


def test_an_at_sign_after_the_address_is_no_credential(tmp_path: Path) -> None:
    config = load_config(sources(tmp_path, INVIGIL_SERVER_URL="https://invigil.example.org/school@trust"))

    assert config.server_url == "https://invigil.example.org/school@trust"


def test_the_linux_machine_file_is_in_etc_invigil_and_invigil_config_still_wins(tmp_path: Path) -> None:
    assert default_sources({}, platform="linux").machine_file == Path("/etc/invigil/config.toml")
    elsewhere = tmp_path / "share" / "invigil.toml"
    assert default_sources({"INVIGIL_CONFIG": str(elsewhere)}, platform="linux").machine_file == elsewhere
    # Windows and macOS keep the OS's machine-wide config folder (C:\ProgramData, /Library/Application Support).
    for platform in ("win32", "darwin"):
        expected = Path(platformdirs.site_config_dir("invigil", appauthor=False)) / "config.toml"
        assert default_sources({}, platform=platform).machine_file == expected


TOKEN = "S3cretTok-q9"


@pytest.mark.parametrize(
    ("url", "cut_at", "shown"),
    [
        (f"http://127.0.0.1:8765/?access_token={TOKEN}", "?", "'http://127.0.0.1:8765/'"),
        (f"https://invigil.example.org?token={TOKEN}", "?", "'https://invigil.example.org'"),
        (f"https://invigil.example.org/#{TOKEN}", "#", "'https://invigil.example.org/'"),
        (f"invigil.example.org?token={TOKEN}", "?", "'invigil.example.org'"),  # no scheme: that message echoed it
        (f"http://user:pa?{TOKEN}@invigil.example.org", "?", None),  # maybe a password cut at its ?: none shown
    ],
)
def test_a_server_address_with_a_query_or_fragment_is_refused_from_every_source_without_echoing_it(
    tmp_path: Path, loaded: PlayerConfig, url: str, cut_at: str, shown: str | None
) -> None:
    from_machine = refusal(lambda: load_config(sources(tmp_path / "m", machine=f'server_url = "{url}"\n')))
    from_env = refusal(lambda: load_config(sources(tmp_path / "e", INVIGIL_SERVER_URL=url)))
    from_command_line = refusal(lambda: with_command_line(loaded, server_url=url, data_dir=None))

    assert from_machine.startswith(f"{tmp_path / 'm' / 'etc' / 'config.toml'}: server_url: ")
    assert from_env.startswith("environment variable INVIGIL_SERVER_URL: server_url: ")
    assert from_command_line.startswith("command line --server: ")
    for message in (from_machine, from_env, from_command_line):
        assert TOKEN not in message
        assert "pa?" not in message
        assert f"remove everything from the {cut_at}" in message
        assert "only the server's base address" in message
        if shown is not None:
            assert f"{shown[:-1]}…'" in message  # the address up to the query, and … for what was cut


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://a b", "has a space in its host name"),
        ("http://a\tb:8765", "has a tab, line break or other invisible character in it"),
        ("http://a%20b", "has a '%' in its host name"),
        ("https://" + "a" * 64 + ".example.org", "has a part of its host name (between dots) over 63 characters"),
        ("http://" + "a" * 300, "has a part of its host name (between dots) over 63 characters"),
        ("https://" + ("a" * 60 + ".") * 4 + "example.org", "has a host name over 253 characters"),
        ("http://invigil..example.org", "has an empty part in its host name (two dots together"),
        ("http://.invigil.example.org", "has an empty part in its host name (two dots together"),
        ("http://[::1", "has an IPv6 address that is not valid"),
        ("http://[fe80::zz]:8765", "has an IPv6 address that is not valid"),
        ("http://127.0.0.1:99999", "has a port that is not a number from 1 to 65535"),
        ("http://127.0.0.1:0", "has a port that is not a number from 1 to 65535"),
        ("http://127.0.0.1:http", "has a port that is not a number from 1 to 65535"),
    ],
)
def test_a_host_the_network_library_cannot_use_is_refused_saying_what_is_wrong(
    tmp_path: Path, loaded: PlayerConfig, url: str, why: str
) -> None:
    from_file = refusal(lambda: load_config(sources(tmp_path, user=f"server_url = {json_string(url)}\n")))
    from_command_line = refusal(lambda: with_command_line(loaded, server_url=url, data_dir=None))

    assert from_file.startswith(f"{tmp_path / 'home' / 'config.toml'}: server_url: ")
    assert from_command_line.startswith("command line --server: ")
    for message in (from_file, from_command_line):
        assert why in message
        assert "; set it to e.g." in message or "; give e.g. --server" in message  # what to do: a good one
        assert message.replace('"', "").endswith(" https://invigil.example.org")


def json_string(text: str) -> str:
    import json

    return json.dumps(text)  # a JSON string is a TOML basic string (the tab is written \t)


@pytest.mark.parametrize(
    "url",
    [
        "http://_printer.school.lan:8765",  # underscores: Windows networks have them, and requests takes them
        "https://école.example",  # an international name: sent as its xn-- form
        "http://[::1]:8765",
        "http://[fe80::1%25eth0]:8765",
        "https://" + "a" * 63 + ".example.org",
        "https://invigil.example.org.",  # a fully qualified name's final dot
        "HTTP://INVIGIL.EXAMPLE.ORG:443",
    ],
)
def test_unusual_but_good_hosts_are_accepted(loaded: PlayerConfig, url: str) -> None:
    assert with_command_line(loaded, server_url=url, data_dir=None).server_url == url
