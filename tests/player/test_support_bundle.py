"""The support bundle holds what support needs (logs, config, environment, doctor's report, journal statistics),
readable, and never an answer, an access code, a token, a password or a key: each is planted where it could leak
from (a config file valid or not, the environment, log lines, the journal written by the real journal code), and
every byte of the zip is searched for it in every spelling a person or a log might use."""

from __future__ import annotations

import base64
import json
import tomllib
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from player.config import ConfigSources
from player.doctor.report import Check, Report, Status
from player.offline_queue.db import journal_path, open_database
from player.offline_queue.journal import Journal
from player.support_bundle import REDACTED, default_bundle_name, make_support_bundle
from sync.protocol import AnswerRecord, ResultEnvelope
from tests.helpers.player import make_login

HOST = "invigil.school.example"
ANSWER = "Mitochondria-planted answer text 7731"
ATTEMPT_TOKEN = "attempt-token-planted-5521"
RESULT_SECRET = "cmVzdWx0LXNlY3JldC1wbGFudGVk"
STAFF_TOKEN = "staff.bearer.planted.9934"
URL_PASSWORD = "url-pass-planted-6620"
PROXY_PASSWORD = "proxy-pass-planted-4410"
BASIC_PASSWORD = "basic-pass-planted-8812"
BASIC = base64.b64encode(f"proctor:{BASIC_PASSWORD}".encode()).decode()
PASSWORD = "hunter2-planted"
API_KEY = "key-material-planted-0042"
PASSPHRASE = "correct-horse-planted-3318"
CREDENTIALS = "cred-planted-7781"
AUTH = "auth-planted-5150"
PIN = "482913"
ENV_TOKEN = "env-token-planted-2290"
KEY_LINES = ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCplanted", "Zm9vYmFyYmF6cXV4cGxhbnRlZGtleWxpbmU2")
CODE_DASHED = "QK7M-2XPZ"
CODE_LETTERS = "HJKMNPQR"
CODE_SPACED = "7WXY 3ZT9"
CODES = (CODE_DASHED, CODE_LETTERS, CODE_SPACED)
SECRETS = (
    ANSWER,
    ATTEMPT_TOKEN,
    RESULT_SECRET,
    STAFF_TOKEN,
    URL_PASSWORD,
    PROXY_PASSWORD,
    BASIC_PASSWORD,
    BASIC,
    PASSWORD,
    API_KEY,
    PASSPHRASE,
    CREDENTIALS,
    AUTH,
    PIN,
    ENV_TOKEN,
    *KEY_LINES,
)


def spellings(secret: str) -> set[str]:
    """How a secret may be written: as it is, in any case, its dashes or spaces dropped or swapped; a code also
    as its two halves joined by a dash, a space or nothing."""
    plain = secret.replace("-", "").replace(" ", "")
    forms = {secret, plain, secret.replace("-", " "), secret.replace(" ", "-")}
    if len(plain) == 8:
        forms |= {f"{plain[:4]}-{plain[4:]}", f"{plain[:4]} {plain[4:]}"}
    return {form.lower() for form in forms}


@pytest.fixture
def machine(tmp_path: Path, demo_delivery: object) -> tuple[ConfigSources, Path]:
    """A player's machine after a sitting: a machine config with secrets under many names (a URL password, a
    multi-line key, an integer pin), a user config that is not valid TOML, secrets in the environment, logs with
    secrets some code should not have logged, and a journal with an answer, tokens and an unsent result. The data
    folder's name is eight letters and digits, as a lab machine's often is."""
    data = tmp_path / "home" / "students" / "lab12pc3"
    sources = ConfigSources(
        machine_file=tmp_path / "machine.toml",
        user_file=tmp_path / "user.toml",
        env={
            "INVIGIL_API_TOKEN": ENV_TOKEN,
            "HTTPS_PROXY": f"http://proxyuser:{PROXY_PASSWORD}@proxy.school.example:3128",
            "INVIGIL_LOG_LEVEL": "DEBUG",
            "HOME": str(tmp_path / "home"),
        },
    )
    sources.machine_file.write_text(
        "# the school's settings\n"
        f'server_url = "https://proctor:{URL_PASSWORD}@{HOST}"\n'
        f'data_dir = "{data}"\n'
        'machine_name = "room12ab"\n'
        f'api_key = "{API_KEY}"  # from the vendor\n'
        f"passphrase = '{PASSPHRASE}'\n"
        f"staff_pin = {PIN}\n"
        f'credentials = "{CREDENTIALS}"\n'
        f'auth = "{AUTH}"\n'
        'keyring_backend = "memory"\n'
        f'private_key = """\n-----BEGIN PRIVATE KEY-----\n{KEY_LINES[0]}\n{KEY_LINES[1]}\n-----END PRIVATE KEY-----\n"""\n'
        'author = "IT department"\n'
    )
    sources.user_file.write_text(f'staff_password = "{PASSWORD}"\nthis line is not toml\n')
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "player.log").write_text(
        f"2027-03-01 09:00:00 INFO player.app: Invigil player starting: server https://{HOST}, data {data}\n"
        f"2027-03-01 09:00:01 INFO player.app: machine room12ab\n"
        f"2027-03-01 09:01:00 WARNING player.student_login: Login refused: code {CODE_DASHED} is not known\n"
        f"2027-03-01 09:01:05 INFO player.x: typed qk7m2xpz then {CODE_DASHED.lower()} then qk7m 2xpz\n"
        f"2027-03-01 09:01:10 WARNING player.student_login: Login refused: code {CODE_LETTERS} is not known\n"
        f"2027-03-01 09:01:15 INFO player.x: retyped {CODE_LETTERS[:4].lower()}-{CODE_LETTERS[4:].lower()}\n"
        f"2027-03-01 09:01:20 INFO player.x: typed {CODE_SPACED}\n"
        f"2027-03-01 09:02:00 DEBUG sync.client: headers {{'Authorization': 'Bearer {STAFF_TOKEN}'}}\n"
        f"2027-03-01 09:02:01 DEBUG sync.client: Authorization: Basic {BASIC}\n"
        f"2027-03-01 09:02:02 DEBUG sync.client: GET https://proctor:{URL_PASSWORD}@{HOST}/api/v1/health\n"
        f"2027-03-01 09:03:00 DEBUG player.x: upload for {ATTEMPT_TOKEN} failed; secret {RESULT_SECRET}\n"
        f"2027-03-01 09:03:01 DEBUG player.x: passphrase={PASSPHRASE} pin={PIN}\n"
        f'2027-03-01 09:03:02 DEBUG player.x: {{"credentials": "{CREDENTIALS}", "machine": "room12ab"}}\n'
        "2027-03-01 09:04:00 INFO player.x: attempt 9f1c2e3a-4b5c-6d7e-8f90-0123456789ab finished\n"
    )
    (data / "logs" / "player.log.1").write_text(
        f"older: password={PASSWORD}; token was {STAFF_TOKEN.upper()}; env {ENV_TOKEN}; proxy said {PROXY_PASSWORD}\n"
        f"older: basic password {BASIC_PASSWORD}, api {API_KEY}, {CREDENTIALS.upper()}, {AUTH}\n"
        f"older: a key line logged {KEY_LINES[1]}\n"
    )
    db = open_database(journal_path(data))
    try:
        journal = Journal(db)
        login = make_login(demo_delivery).model_copy(
            update={"attempt_token": ATTEMPT_TOKEN, "result_secret": RESULT_SECRET}
        )
        journal.start_attempt(login, server_url=f"https://{HOST}")
        journal.save_answer(login.attempt_id, "short-plural", ANSWER)
        answered = datetime(2027, 3, 1, 9, 5, tzinfo=UTC)
        envelope = ResultEnvelope(
            idempotency_key=str(uuid.uuid4()),
            attempt_id=login.attempt_id,
            section_ids=["short"],
            answers=[AnswerRecord(item_id="short-plural", value=ANSWER, answered_at=answered)],
            finished_at=answered,
        )
        journal.finish_section(login.attempt_id, "short", envelope=envelope.model_dump(mode="json"))
    finally:
        db.close()
    return sources, data


def a_report() -> Report:
    return Report(
        checks=(
            Check("server", "Server reachable", Status.OK, f"https://{HOST} answered in 12 ms"),
            Check("audio_output", "Audio output", Status.FAILURE, "No speakers", fix="Plug some in", number="INV-9001"),
        ),
        version="0.1.0",
        settings={"server_url": {"value": f"https://{HOST}", "source": "/etc/invigil/config.toml"}},
    )


def every_file(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as bundle:
        assert bundle.testzip() is None
        return {name: bundle.read(name) for name in bundle.namelist()}


def texts(path: Path) -> dict[str, str]:
    return {name.removeprefix("invigil-support/"): content.decode() for name, content in every_file(path).items()}


def test_the_bundle_never_holds_answers_codes_tokens_passwords_or_keys(
    machine: tuple[ConfigSources, Path], tmp_path: Path
) -> None:
    sources, data = machine
    planted = "\n".join(
        [sources.machine_file.read_text(), sources.user_file.read_text(), *sources.env.values()]
        + [p.read_text() for p in (data / "logs").iterdir()]
    )
    for secret in (s for s in SECRETS if s not in (ANSWER, ATTEMPT_TOKEN, RESULT_SECRET)):
        assert secret.lower() in planted.lower(), f"{secret!r} was not planted"  # so the test below can fail
    assert {ATTEMPT_TOKEN, RESULT_SECRET, ANSWER} <= {
        s for s in SECRETS if s.encode() in journal_path(data).read_bytes()
    }

    made = make_support_bundle(None, tmp_path / "bundle.zip", report=a_report(), sources=sources, data_dir=data)

    files = every_file(made)
    everything = b"\n".join([made.read_bytes(), *files.values(), *(name.encode() for name in files)]).lower()
    leaked = sorted(
        f"{secret!r} as {form!r}"
        for secret in (*SECRETS, *CODES)
        for form in spellings(secret)
        if form.encode() in everything
    )
    assert leaked == [], "in the bundle: " + ", ".join(leaked)


def test_paths_machine_names_and_the_server_stay_readable(machine: tuple[ConfigSources, Path], tmp_path: Path) -> None:
    sources, data = machine

    made = make_support_bundle(None, tmp_path / "bundle.zip", report=a_report(), sources=sources, data_dir=data)

    files = texts(made)
    log = files["logs/player.log"].splitlines()
    assert log[0].endswith(f"Invigil player starting: server https://{HOST}, data {data}")  # as it was
    assert "/home/students/lab12pc3" in log[0]
    assert log[1].endswith("machine room12ab")
    assert log[2].endswith(f"Login refused: code {REDACTED} is not known")
    assert log[4].endswith(f"Login refused: code {REDACTED} is not known")
    assert log[7].endswith(f"headers {{'Authorization': 'Bearer {REDACTED}'}}")
    assert log[8].endswith(f"Authorization: Basic {REDACTED}")
    assert log[9].endswith(f"GET https://redacted@{HOST}/api/v1/health")
    assert log[12].endswith(f'{{"credentials": "{REDACTED}", "machine": "room12ab"}}')
    assert log[13].endswith("attempt 9f1c2e3a-4b5c-6d7e-8f90-0123456789ab finished")  # ids stay readable
    assert json.loads(files["system.json"])["data_dir"] == str(data)
    environment = files["config/environment.txt"].splitlines()
    assert f"INVIGIL_API_TOKEN={REDACTED}" in environment
    assert "INVIGIL_LOG_LEVEL=DEBUG" in environment
    assert "HTTPS_PROXY=http://redacted@proxy.school.example:3128" in environment
    assert not any(line.startswith("HOME=") for line in environment)  # only what changes the player


def test_the_config_copy_is_still_valid_toml_with_every_key(
    machine: tuple[ConfigSources, Path], tmp_path: Path
) -> None:
    sources, data = machine
    original = tomllib.loads(sources.machine_file.read_text())

    made = make_support_bundle(None, tmp_path / "bundle.zip", report=a_report(), sources=sources, data_dir=data)

    copy_text = texts(made)["config/machine-config.toml"]
    copy = tomllib.loads(copy_text)
    assert set(copy) == set(original)
    assert copy["server_url"] == f"https://redacted@{HOST}"
    assert copy["data_dir"] == str(data)
    assert copy["machine_name"] == "room12ab"
    assert copy["keyring_backend"] == "memory"
    assert copy["author"] == "IT department"  # "author" is not "auth"
    for secret in ("api_key", "passphrase", "staff_pin", "credentials", "auth", "private_key"):
        assert copy[secret] == REDACTED, secret
    assert "# the school's settings" in copy_text  # comments and layout kept
    assert "# from the vendor" in copy_text
    user_copy = texts(made)["config/user-config.toml"]  # not TOML: redacted line by line, the rest kept
    assert f'staff_password = "{REDACTED}"' in user_copy
    assert "this line is not toml" in user_copy


def test_the_bundle_holds_logs_config_doctor_and_journal_statistics(
    machine: tuple[ConfigSources, Path], tmp_path: Path
) -> None:
    sources, data = machine
    # The planted api_key makes the config unreadable (an unknown setting): the bundle is made all the same.
    made = make_support_bundle(None, tmp_path / "bundle.zip", report=a_report(), sources=sources, data_dir=data)

    files = texts(made)
    assert set(files) == {
        "doctor.json",
        "doctor.txt",
        "config/machine-config.toml",
        "config/user-config.toml",
        "config/environment.txt",
        "logs/player.log",
        "logs/player.log.1",
        "journal-statistics.json",
        "system.json",
        "README.txt",
    }
    assert json.loads(files["doctor.json"])["checks"][1]["number"] == "INV-9001"
    assert json.loads(files["doctor.json"])["checks"][0]["key"] == "server"  # "key" alone is no secret
    assert "✗ Audio output" in files["doctor.txt"]
    stats = json.loads(files["journal-statistics.json"])
    assert stats["rows"]["answers"] == 1
    assert stats["rows"]["attempts"] == 1
    outbox = {(o["kind"], o["state"]): o["rows"] for o in stats["outbox"]}
    assert outbox[("result", "pending")] == 1
    assert stats["journal_mode"] == "wal"
    assert stats["integrity"] == "ok"
    assert json.loads(files["system.json"])["invigil"] == "0.1.0"


def test_without_doctor_or_journal_the_bundle_says_so(tmp_path: Path) -> None:
    sources = ConfigSources(machine_file=tmp_path / "none.toml", user_file=tmp_path / "none-either.toml", env={})

    made = make_support_bundle(None, tmp_path / "b.zip", report=None, sources=sources, data_dir=tmp_path / "empty")

    files = texts(made)
    assert files["doctor.txt"] == "doctor was not run for this bundle.\n"
    assert json.loads(files["journal-statistics.json"])["note"] == "no journal on this computer yet"
    assert files["config/environment.txt"].endswith("# (none set)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip"]  # no .b.zip.partial


def test_a_folder_as_destination_gets_the_default_named_zip_in_it(tmp_path: Path) -> None:
    sources = ConfigSources(machine_file=tmp_path / "none.toml", user_file=tmp_path / "none-either.toml", env={})
    out = tmp_path / "out"
    out.mkdir()
    moment = datetime(2027, 3, 1, 9, 12, 30, tzinfo=UTC)

    made = make_support_bundle(None, out, report=None, sources=sources, data_dir=tmp_path / "d", now=lambda: moment)

    assert made == out / default_bundle_name(moment)
    assert sorted(p.name for p in out.iterdir()) == [made.name]
    assert "README.txt" in texts(made)
