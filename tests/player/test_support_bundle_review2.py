"""The second review's support-bundle defects, as an IT admin would meet them: secrets after a log line's
`logger: ` prefix, secret-named URL query parameters, symlinks in the logs folder (to a planted secret outside the
data folder), a secret-like TOML table, and --output naming an existing file or a path without .zip (the real CLI
in its own process)."""

from __future__ import annotations

import os
import tomllib
import zipfile
from pathlib import Path

import pytest

from player.config import ConfigSources
from player.redaction import REDACTED, Redactor
from player.support_bundle import make_support_bundle
from tests.player.test_support_bundle_cli import last_line, run_bundle

# The reviewer's exact lines, each with the secret it must hide.
REVIEW_LINES = [
    ("2026-12-06 01:00:01,000 INFO sync.client: password=LogPw11Kk", "LogPw11Kk"),
    ("2026-12-06 01:00:02,000 WARNING player.session: token: LogTok22Jj", "LogTok22Jj"),
    ("2026-12-06 01:00:03,000 INFO x: Authorization: Token LogTok33Hh", "LogTok33Hh"),
    ("2026-12-06 01:00:04,000 INFO x: X-Api-Key: HdrKey55Tt", "HdrKey55Tt"),
    ("2026-12-06 01:00:05,000 INFO x: Cookie: session=CookieVal88Ww", "CookieVal88Ww"),
    ("2026-12-06 01:00:06,000 INFO x: Set-Cookie: sid=SetCk77Qq; Path=/; HttpOnly", "SetCk77Qq"),
    ("2026-12-06 01:00:07,000 INFO x: Cookie: a=1; session=CookieTwo99Zz", "CookieTwo99Zz"),
    (
        '2026-12-06 01:00:08,000 DEBUG x: Authorization: Digest username="proctor", realm="r", '
        'nonce="n1", response="6629fae49393a05397450978507c4ef1"',
        "6629fae49393a05397450978507c4ef1",
    ),
    ("2026-12-06 01:00:09,000 DEBUG x: Proxy-Authorization: Basic bm90OmJhc2U2NA", "bm90OmJhc2U2NA"),
    ("Login failed: token=AbcDefGhi123", "AbcDefGhi123"),
    ("proxy error: password=Hunter2xQ", "Hunter2xQ"),
    ("GET http://127.0.0.1:8080/?access_token=S3cretPWb failed", "S3cretPWb"),
    ("GET https://files.example/x?a=1&password=QueryPw44Rr&b=2", "QueryPw44Rr"),
    ("GET https://files.example/x?api_key=QueryKey55Ss", "QueryKey55Ss"),
    ("GET https://files.example/blob?sv=2020&sig=QuerySig66Tt%3D&se=2027", "QuerySig66Tt%3D"),
    ("GET https://files.example/x?token=QueryTok77Uu#top", "QueryTok77Uu"),
]


@pytest.mark.parametrize(("line", "secret"), REVIEW_LINES)
def test_a_secret_is_hidden_wherever_it_sits_on_a_line(line: str, secret: str) -> None:
    hidden = Redactor().text(line)

    assert secret not in hidden
    assert REDACTED in hidden


def test_what_surrounds_a_secret_stays_readable() -> None:
    redactor = Redactor()
    assert redactor.text("2026-12-06 01:00:01,000 INFO sync.client: password=LogPw11Kk") == (
        f"2026-12-06 01:00:01,000 INFO sync.client: password={REDACTED}"
    )
    assert redactor.text("GET https://files.example/x?a=1&password=QueryPw44Rr&b=2 on lab12-pc03") == (
        f"GET https://files.example/x?a=1&password={REDACTED}&b=2 on lab12-pc03"
    )
    plain = "2026-12-06 01:00:01,000 INFO player.app: data /home/lab12pc3/.local/share/invigil, host room12-ab: ok"
    assert redactor.text(plain) == plain


def sources_for(tmp_path: Path, config: str) -> ConfigSources:
    sources = ConfigSources(machine_file=tmp_path / "machine.toml", user_file=tmp_path / "user.toml", env={})
    sources.machine_file.write_text(config)
    return sources


def bundle_texts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as bundle:
        return {n.removeprefix("invigil-support/"): bundle.read(n).decode() for n in bundle.namelist()}


def test_the_reviewers_log_lines_are_hidden_in_the_bundle_and_the_url_query_in_the_config(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "player.log").write_text("\n".join(line for line, _ in REVIEW_LINES) + "\n")
    sources = sources_for(
        tmp_path,
        'server_url = "http://127.0.0.1:8080/?access_token=CfgTok12Ab"\n'
        'machine_name = "room12ab"\n'
        "[creds]\n"
        'key = "TableKey34Cd"\n'
        'user = "proctor"\n',
    )

    made = make_support_bundle(None, tmp_path / "out.zip", report=None, sources=sources, data_dir=data)

    files = bundle_texts(made)
    everything = "\n".join(files.values())
    for _, secret in REVIEW_LINES:
        assert secret not in everything, secret
    assert "CfgTok12Ab" not in everything
    assert "TableKey34Cd" not in everything
    log = files["logs/player.log"]
    assert "INFO sync.client: password=" in log
    assert "WARNING player.session: token: " in log
    config = tomllib.loads(files["config/machine-config.toml"])
    assert config["creds"] == {"key": REDACTED, "user": REDACTED}
    assert config["machine_name"] == "room12ab"
    assert config["server_url"] == f"http://127.0.0.1:8080/?access_token={REDACTED}"


def test_a_symlink_in_the_logs_folder_is_not_followed_and_is_listed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "shadow"
    outside.parent.mkdir()
    outside.write_text("root:$6$PlantedHash99Xy:19000:0:99999:7:::\n")
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "player.log").write_text("2026-12-06 01:00:00,000 INFO player.app: starting\n")
    (data / "logs" / "player.log.2").symlink_to(outside)
    (data / "logs" / "old").symlink_to(outside.parent, target_is_directory=True)
    os.mkfifo(data / "logs" / "player.log.3")
    sources = sources_for(tmp_path, 'machine_name = "room12ab"\n')

    made = make_support_bundle(None, tmp_path / "out.zip", report=None, sources=sources, data_dir=data)

    with zipfile.ZipFile(made) as bundle:
        raw = b"".join(bundle.read(n) for n in bundle.namelist())
        names = bundle.namelist()
    assert b"PlantedHash99Xy" not in raw
    assert "invigil-support/logs/player.log" in names
    assert "invigil-support/logs/player.log.2" not in names
    skipped = bundle_texts(made)["skipped.txt"]
    assert "logs/player.log.2: a link, not copied" in skipped
    assert "logs/old: a link, not copied" in skipped
    assert "logs/player.log.3: not a regular file, not copied" in skipped


def test_a_config_file_that_is_a_link_to_a_regular_file_is_copied(tmp_path: Path) -> None:
    real = tmp_path / "managed" / "config.toml"
    real.parent.mkdir()
    real.write_text('machine_name = "room12ab"\n')
    sources = ConfigSources(machine_file=tmp_path / "machine.toml", user_file=tmp_path / "user.toml", env={})
    sources.machine_file.symlink_to(real)
    sources.user_file.symlink_to("/dev/zero")

    made = make_support_bundle(None, tmp_path / "out.zip", report=None, sources=sources, data_dir=tmp_path / "d")

    files = bundle_texts(made)
    assert 'machine_name = "room12ab"' in files["config/machine-config.toml"]
    assert "config/user-config.toml" not in files
    assert f"config/user-config.toml: {sources.user_file}: not a regular file, not copied" in files["skipped.txt"]


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    existing = tmp_path / "afile.zip"
    existing.write_bytes(b"keep me")

    with pytest.raises(FileExistsError):
        make_support_bundle(None, existing, report=None, sources=sources_for(tmp_path, ""), data_dir=tmp_path / "d")

    assert existing.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile.zip", "machine.toml"]


@pytest.mark.parametrize("name", ["afile", "afile.zip"])
def test_cli_refuses_an_output_that_already_exists(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_bytes(b"keep me")

    done = run_bundle(tmp_path, "--output", str(out / "afile"))

    assert done.returncode == 2
    message = last_line(done.stderr)
    assert message.startswith(f"invigil support-bundle: {out / name} already exists;"), message
    assert message.endswith("(INV-5103)"), message
    assert (out / name).read_bytes() == b"keep me"
    assert [p.name for p in out.iterdir()] == [name]


def test_cli_adds_zip_to_an_output_without_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()

    done = run_bundle(tmp_path, "--output", str(out / "ob"))

    assert done.returncode == 0, done.stderr
    assert [p.name for p in out.iterdir()] == ["ob.zip"]
    assert done.stdout == f"Support bundle written to {out / 'ob.zip'}\n"
    assert zipfile.is_zipfile(out / "ob.zip")


def test_every_value_under_a_secret_like_table_is_hidden_and_the_copy_is_still_toml() -> None:
    text = (
        "# school settings\n"
        'machine_name = "room12ab"\n'
        "[creds]\n"
        'key = "ab"\n'
        'other = "LongEnough12"\n'
        "[server.credentials]\n"
        "pins = [12, 34]\n"
        "[display]\n"
        'key = "large-print"\n'
    )
    redactor = Redactor()
    redactor.learn_values(tomllib.loads(text))

    copy = tomllib.loads(redactor.toml(text))

    assert copy["creds"] == {"key": REDACTED, "other": REDACTED}
    assert copy["server"]["credentials"]["pins"] == [REDACTED, REDACTED]
    assert copy["display"] == {"key": "large-print"}  # "key" alone in a plain table is a choice, not a secret
    assert copy["machine_name"] == "room12ab"


def test_a_query_secret_in_a_log_sentence_keeps_the_sentence() -> None:
    line = "INFO player.app: Invigil player starting: server http://127.0.0.1:9/?access_token=S3cretPWb, data /srv/x"

    assert Redactor().text(line) == (
        f"INFO player.app: Invigil player starting: server http://127.0.0.1:9/?access_token={REDACTED}, data /srv/x"
    )
