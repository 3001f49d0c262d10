"""player/redaction.py on its own: which names are secret (doctor's looks_secret uses the same rule), which shapes
are hidden and which ordinary words stay readable, every spelling of a known secret, and config copies that stay
valid TOML (or JSON) with the same keys."""

from __future__ import annotations

import base64
import tomllib

import pytest

from player.doctor.checks import looks_secret
from player.redaction import REDACTED, KnownSecrets, Redactor, dump_toml, is_secret_name

BASIC = base64.b64encode(b"proctor:s3cret-basic").decode()


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_key", True),
        ("apiKey", True),
        ("INVIGIL_API_KEY", True),
        ("private_key", True),
        ("attempt_token", True),
        ("result_secret", True),
        ("staff_password", True),
        ("passwd", True),
        ("passphrase", True),
        ("staff_pin", True),
        ("staffPin", True),
        ("PIN", True),
        ("credentials", True),
        ("auth", True),
        ("auth_header", True),
        ("Authorization", True),
        ("access_code", True),
        ("keyring_backend", False),
        ("key", False),  # doctor's check key
        ("idempotency_key", False),
        ("spinner", False),
        ("author", False),
        ("machine_name", False),
        ("server_url", False),
        ("exit_code", False),
        ("passage", False),
    ],
)
def test_which_names_are_secret(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret
    assert looks_secret(name) is secret  # doctor hides what the bundle hides


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("token=abc123", f"token={REDACTED}"),
        ("password: hunter2, then", f"password: {REDACTED}, then"),
        (
            "passphrase=horse-battery pin=4829 staffPin=1234",
            f"passphrase={REDACTED} pin={REDACTED} staffPin={REDACTED}",
        ),
        (
            '{"credentials": "c-1", "api_key": "k-2", "auth": "a-3"}',
            f'{{"credentials": "{REDACTED}", "api_key": "{REDACTED}", "auth": "{REDACTED}"}}',
        ),
        ("Authorization: Bearer eyJhb.c-d_efghij", f"Authorization: Bearer {REDACTED}"),
        (f"Authorization: Basic {BASIC}", f"Authorization: Basic {REDACTED}"),
        ("GET https://bob:s3cr%40t@invigil.school.example/x", "GET https://redacted@invigil.school.example/x"),
        ("proxy http://user:p@ss@proxy.example:3128 down", "proxy http://redacted@proxy.example:3128 down"),
        ("code abcd-1234 typed", f"code {REDACTED} typed"),
        ("code ABCD1234 typed", f"code {REDACTED} typed"),
        ("Login refused: code HJKMNPQR is not known", f"Login refused: code {REDACTED} is not known"),
        ("access_code: abcd 1234", f"access_code: {REDACTED}"),
        ("typed ABCD 1234 then QK7M-2XPZ, HJKM-NPQR", f"typed {REDACTED} then {REDACTED}, {REDACTED}"),
        # readable: paths and machine names of eight letters and digits, prose, ids, the server's host
        ("data /home/students/lab12pc3/logs on room12ab", "data /home/students/lab12pc3/logs on room12ab"),
        ("machines room-12ab, lab1-pc03, ROOM 12AB", "machines room-12ab, lab1-pc03, ROOM 12AB"),
        ("server https://invigil.school.example answered", "server https://invigil.school.example answered"),
        ("Type the code from your slip", "Type the code from your slip"),
        ("basic checks passed; bearer tokens", "basic checks passed; bearer tokens"),
        ("author=bob spinner=3 keyring_backend=auto", "author=bob spinner=3 keyring_backend=auto"),
        ("attempt 9f1c2e3a-4b5c-6d7e-8f90-0123456789ab", "attempt 9f1c2e3a-4b5c-6d7e-8f90-0123456789ab"),
        ("code 9f1c2e3a-4b5c-6d7e-8f90-0123456789ab", "code 9f1c2e3a-4b5c-6d7e-8f90-0123456789ab"),
        ("read-back from 2027 CRITICAL: disk full", "read-back from 2027 CRITICAL: disk full"),
    ],
)
def test_shapes(text: str, shown: str) -> None:
    assert Redactor().text(text) == shown


@pytest.mark.parametrize("spelling", ["QK7M-2XPZ", "qk7m2xpz", "Qk7m 2xPz", "QK7M2XPZ", "qk7m-2xpz"])
def test_a_known_code_is_hidden_in_every_spelling(spelling: str) -> None:
    redactor = Redactor(KnownSecrets(["QK7M2XPZ"]))
    assert redactor.text(f"typed {spelling} twice") == f"typed {REDACTED} twice"


def test_a_known_code_is_hidden_as_a_person_misreads_it() -> None:
    """accesscode.normalize reads O as 0 and I, L as 1: so does the hiding."""
    redactor = Redactor(KnownSecrets(["AB01-CD1E"]))
    assert redactor.text("abol cdie, ABO1-CDLE") == f"{REDACTED}, {REDACTED}"


def test_a_secret_learned_in_one_text_is_hidden_in_another() -> None:
    redactor = Redactor()
    redactor.learn("Authorization: Bearer staff.token.9934 and code QK7M-2XPZ")
    redactor.learn(f"Authorization: Basic {BASIC}")
    assert redactor.text("bare STAFF.TOKEN.9934 then qk7m 2xpz, s3cret-basic") == (
        f"bare {REDACTED} then {REDACTED}, {REDACTED}"
    )


def test_short_known_values_are_not_hidden_everywhere() -> None:
    """A three-character secret would make every log unreadable; it is hidden under its own name only."""
    redactor = Redactor(KnownSecrets(["abc", "x"]))
    assert redactor.text("abcdef pin=abc") == f"abcdef pin={REDACTED}"


def test_a_valid_config_stays_valid_toml_with_its_comments() -> None:
    text = (
        "# school settings\n"
        'server_url = "https://u:pw-1234@invigil.example"\n'
        "staff_pin = 4829  # the old one\n"
        'private_key = """\n-----BEGIN KEY-----\nAAAA\n"""\n'
        "api_keys = ['k-one-111', 'k-two-222']\n"
        'machine_name = "room12ab"\n'
        "[proxy]\n"
        'password = "px-secret"\n'
        'host = "proxy.example"\n'
    )
    redactor = Redactor()
    redactor.learn_values(tomllib.loads(text))

    copy = redactor.toml(text)

    parsed = tomllib.loads(copy)
    assert parsed == {
        "server_url": "https://redacted@invigil.example",
        "staff_pin": REDACTED,
        "private_key": REDACTED,
        "api_keys": REDACTED,  # the whole array
        "machine_name": "room12ab",
        "proxy": {"password": REDACTED, "host": "proxy.example"},
    }
    assert "# school settings" in copy
    assert "# the old one" in copy


def test_a_config_whose_keys_the_text_rules_would_break_is_written_out_again() -> None:
    """A secret that is also part of a key's name (a password "server"): hiding it in the text would rename the
    key, so the parsed settings are written out again instead, every key kept, the secret hidden."""
    text = 'password = "server"\nserver_url = "https://invigil.example"\n"odd name" = 1.5\n'
    redactor = Redactor(KnownSecrets(["server"]))

    copy = redactor.toml(text)

    assert tomllib.loads(copy) == {"password": REDACTED, "server_url": "https://invigil.example", "odd name": 1.5}
    assert "comments and layout not kept" in copy.splitlines()[0]


def test_an_invalid_config_is_redacted_line_by_line() -> None:
    text = 'staff_password = "hunter2"\nthis is not toml\nauth = """\nmulti\nline\n"""\nrest = 1\n'
    copy = Redactor().toml(text)
    assert copy == f'staff_password = "{REDACTED}"\nthis is not toml\nauth = "{REDACTED}"\nrest = 1\n'


def test_json_keeps_its_shape_and_keys() -> None:
    report = {"key": "config", "detail": "sent Bearer abcdefgh.ijk", "count": 3, "list": ["ABCD-1234"], "api_key": "k"}
    assert Redactor().json_value(report) == {
        "key": "config",
        "detail": f"sent Bearer {REDACTED}",
        "count": 3,
        "list": [REDACTED],
        "api_key": REDACTED,
    }


def test_dump_toml_round_trips() -> None:
    data = {"a": 'x"y\\z\n', "b": [1, 2.5, True], "t": {"u": {"v": "w"}, "inline": [{"k": 1}]}, "odd key": 0}
    assert tomllib.loads(dump_toml(data)) == data


def test_a_bare_secret_with_a_hash_is_hidden_whole_but_a_number_keeps_its_comment() -> None:
    copy = Redactor().toml("password = abc#def\npin = 4829  # old\n")
    assert copy == f'password = "{REDACTED}"\npin = "{REDACTED}"  # old\n'
    assert "def" not in copy


def test_placeholders_are_not_learned_as_secrets() -> None:
    """`token=None` and doctor's "(hidden)" are no secrets: learning them would hide every "None" in the logs."""
    redactor = Redactor()
    redactor.learn("token=None auth: true api_key: (hidden)")
    assert redactor.text("kiosk None true (hidden)") == "kiosk None true (hidden)"


def test_json_hides_everything_under_a_secret_field() -> None:
    data = {"credentials": {"user": "bob", "tries": 3, "note": None}, "api_keys": ["k1", "k2"], "name": "room12ab"}
    assert Redactor().json_value(data) == {
        "credentials": {"user": REDACTED, "tries": REDACTED, "note": None},
        "api_keys": [REDACTED, REDACTED],
        "name": "room12ab",
    }
