"""The support bundle holds what support needs (logs, config, doctor's report, journal statistics) and never an
answer, an access code, a token or a key: each is planted where it could leak from, and every byte of every file in
the zip is searched for it."""

from __future__ import annotations

import json
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from player.config import ConfigSources
from player.doctor.report import Check, Report, Status
from player.offline_queue.db import journal_path, open_database
from player.offline_queue.journal import Journal
from player.support_bundle import REDACTED, make_support_bundle, redact, redact_json
from sync.protocol import AnswerRecord, ResultEnvelope
from tests.helpers.player import make_login

ANSWER = "Mitochondria-planted answer text 7731"
ACCESS_CODE = "QK7M-2XPZ"
ATTEMPT_TOKEN = "attempt-token-planted-5521"
RESULT_SECRET = "cmVzdWx0LXNlY3JldC1wbGFudGVk"
STAFF_TOKEN = "staff.bearer.planted.9934"
PASSWORD = "hunter2-planted"
API_KEY = "key-material-planted-0042"
PLANTED = (ANSWER, ACCESS_CODE, "QK7M2XPZ", ATTEMPT_TOKEN, RESULT_SECRET, STAFF_TOKEN, PASSWORD, API_KEY)


@pytest.fixture
def machine(tmp_path: Path, demo_delivery: object) -> tuple[ConfigSources, Path]:
    """A player's machine after a sitting: config files, logs with secrets some code should not have logged, and a
    journal with an answer and an unsent result."""
    data = tmp_path / "data"
    sources = ConfigSources(machine_file=tmp_path / "machine.toml", user_file=tmp_path / "user.toml", env={})
    sources.machine_file.write_text(
        f'# the school\'s settings\nserver_url = "https://invigil.school.example"\ndata_dir = "{data}"\n'
        f'machine_name = "Room 12 PC 3"\napi_key = "{API_KEY}"\n'
    )
    sources.user_file.write_text(f'staff_password = "{PASSWORD}"\n')
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "player.log").write_text(
        "2027-03-01 09:00:00 INFO player.app: Invigil player starting: server https://invigil.school.example\n"
        f"2027-03-01 09:01:00 WARNING player.student_login: Login refused: code {ACCESS_CODE} is not known\n"
        f"2027-03-01 09:01:05 INFO player.x: typed qk7m2xpz then {ACCESS_CODE.lower()}\n"
        f"2027-03-01 09:02:00 DEBUG sync.client: headers {{'Authorization': 'Bearer {STAFF_TOKEN}'}}\n"
        f"2027-03-01 09:03:00 DEBUG player.x: attempt_token={ATTEMPT_TOKEN} result_secret: {RESULT_SECRET}\n"
        "2027-03-01 09:04:00 INFO player.x: attempt 9f1c2e3a-4b5c-6d7e-8f90-0123456789ab finished\n"
    )
    (data / "logs" / "player.log.1").write_text(f"older: password={PASSWORD}\n")
    db = open_database(journal_path(data))
    try:
        journal = Journal(db)
        login = make_login(demo_delivery).model_copy(
            update={"attempt_token": ATTEMPT_TOKEN, "result_secret": RESULT_SECRET}
        )
        journal.start_attempt(login, server_url="https://invigil.school.example")
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
            Check("server", "Server reachable", Status.OK, "https://invigil.school.example answered in 12 ms"),
            Check("audio_output", "Audio output", Status.FAILURE, "No speakers", fix="Plug some in", number="INV-9001"),
        ),
        version="0.1.0",
        settings={"server_url": {"value": "https://invigil.school.example", "source": "/etc/invigil/config.toml"}},
    )


def every_file(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as bundle:
        assert bundle.testzip() is None
        return {name: bundle.read(name) for name in bundle.namelist()}


def test_the_bundle_never_holds_answers_codes_tokens_or_keys(
    machine: tuple[ConfigSources, Path], tmp_path: Path
) -> None:
    sources, data = machine
    raw_log = (data / "logs" / "player.log").read_text()
    assert all(secret in raw_log or secret.lower() in raw_log for secret in (ACCESS_CODE, STAFF_TOKEN))  # planted

    made = make_support_bundle(None, tmp_path / "bundle.zip", report=a_report(), sources=sources, data_dir=data)

    files = every_file(made)
    everything = b"\n".join([*files.values(), *(name.encode() for name in files)]).lower()
    for secret in PLANTED:
        assert secret.lower().encode() not in everything, f"{secret!r} is in the bundle"
    # The journal itself held them (closed, so all in its main file): the bundle read around them.
    assert ANSWER.encode() in journal_path(data).read_bytes()
    assert ATTEMPT_TOKEN.encode() in journal_path(data).read_bytes()


def test_the_bundle_holds_logs_config_doctor_and_journal_statistics(
    machine: tuple[ConfigSources, Path], tmp_path: Path
) -> None:
    sources, data = machine
    # The planted api_key makes the config unreadable (an unknown setting): the bundle is made all the same.
    made = make_support_bundle(None, tmp_path / "bundle.zip", report=a_report(), sources=sources, data_dir=data)

    files = {name.removeprefix("invigil-support/"): content.decode() for name, content in every_file(made).items()}
    assert set(files) == {
        "doctor.json",
        "doctor.txt",
        "config/machine-config.toml",
        "config/user-config.toml",
        "logs/player.log",
        "logs/player.log.1",
        "journal-statistics.json",
        "system.json",
        "README.txt",
    }
    log_lines = files["logs/player.log"].splitlines()
    assert log_lines[0].endswith("Invigil player starting: server https://invigil.school.example")  # kept as it was
    assert log_lines[1].endswith(f"Login refused: code {REDACTED} is not known")
    assert log_lines[3].endswith(f"headers {{'Authorization': 'Bearer {REDACTED}'}}")
    assert log_lines[5].endswith("attempt 9f1c2e3a-4b5c-6d7e-8f90-0123456789ab finished")  # ids stay readable
    machine_config = files["config/machine-config.toml"]
    assert 'server_url = "https://invigil.school.example"' in machine_config
    assert 'machine_name = "Room 12 PC 3"' in machine_config
    assert f"api_key = {REDACTED}" in machine_config or f'api_key = "{REDACTED}"' in machine_config
    assert json.loads(files["doctor.json"])["checks"][1]["number"] == "INV-9001"
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

    files = {name.removeprefix("invigil-support/"): content.decode() for name, content in every_file(made).items()}
    assert files["doctor.txt"] == "doctor was not run for this bundle.\n"
    assert json.loads(files["journal-statistics.json"])["note"] == "no journal on this computer yet"
    assert not (tmp_path / ".b.zip.partial").exists()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('token = "abc"', f"token = {REDACTED}"),
        ('keyring_backend = "auto"', 'keyring_backend = "auto"'),
        ("Authorization: Bearer eyJhb.c-d_e", f"Authorization: Bearer {REDACTED}"),
        ("code abcd-1234 typed", f"code {REDACTED} typed"),
        ("code ABCD1234 typed", f"code {REDACTED} typed"),
        ("CRITICAL: disk full", "CRITICAL: disk full"),
        ("password: hunter2, then", f"password: {REDACTED}, then"),
    ],
)
def test_redaction(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_json_keeps_its_shape_and_keys_only_strings_are_redacted() -> None:
    report = {"key": "config", "detail": "sent Bearer abc.def", "count": 3, "list": ["ABCD-1234"]}
    assert redact_json(report) == {"key": "config", "detail": f"sent Bearer {REDACTED}", "count": 3, "list": [REDACTED]}
