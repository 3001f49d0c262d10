"""The one client factory against the real server over TLS with a school's own CA: trusted with ca_bundle, a clear
message without it, and the machine named on every request."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.client import ClientError, Unreachable, client_for, is_transient
from tests.helpers.server import Demo, DemoTemplate
from tests.helpers.tls import School, TlsFiles, make_tls_files

MACHINE = "room9-pc04"


def test_with_the_schools_ca_bundle_a_student_and_staff_sign_in_and_the_machine_is_named(
    tls_school: School, tls_files: TlsFiles, demo: Demo, demo_template: DemoTemplate
) -> None:
    staff = demo_template.data["staff"]
    with client_for(tls_school.url, machine_id=MACHINE, timeout=5.0, ca_bundle=tls_files.ca_cert) as client:
        login = client.login(demo.codes[0])
        signed_in = client.staff_login(staff["username"], staff["password"])
        sittings = client.sittings(signed_in.token)

    assert login.student == "Ada Lovelace"
    assert [s.id for s in sittings] == [demo.sitting_id]
    assert [r.machine() for r in tls_school.seen.requests] == [MACHINE, MACHINE, MACHINE]
    assert [r.path for r in tls_school.seen.requests] == [
        "/api/v1/login",
        "/api/v1/staff/login",
        "/api/v1/staff/sittings",
    ]


def test_a_machine_id_beyond_ascii_travels_percent_encoded(
    tls_school: School, tls_files: TlsFiles, demo: Demo, demo_template: DemoTemplate
) -> None:
    with client_for(tls_school.url, machine_id="Raum-Ü 3", timeout=5.0, ca_bundle=tls_files.ca_cert) as client:
        client.login(demo.codes[0])
    assert tls_school.seen.requests[0].headers["x-invigil-machine"] == "Raum-%C3%9C%203"
    assert tls_school.seen.requests[0].machine() == "Raum-Ü 3"


def test_without_the_ca_bundle_both_say_the_certificate_is_not_trusted_and_what_to_set(
    tls_school: School, demo: Demo, demo_template: DemoTemplate
) -> None:
    staff = demo_template.data["staff"]
    with client_for(tls_school.url, machine_id=MACHINE, timeout=5.0, ca_bundle=None) as client:
        with pytest.raises(Unreachable) as student:
            client.login(demo.codes[0])
        with pytest.raises(Unreachable) as console:
            client.staff_login(staff["username"], staff["password"])

    for refused in (student.value, console.value):
        message = str(refused)
        assert message.startswith(f"Cannot reach the server at {tls_school.url}: ")
        assert "this computer does not trust the server's certificate" in message
        assert "ask IT to set ca_bundle in this computer's Invigil config file" in message
        assert "docs/player-config.md" in message
        assert is_transient(refused), "the uploader keeps trying; once IT sets ca_bundle, results go"
    assert tls_school.seen.requests == [], "nothing reached the server over a connection the client did not trust"


def test_a_ca_bundle_of_another_ca_is_named_in_the_message(tls_school: School, demo: Demo, tmp_path: Path) -> None:
    other = make_tls_files(tmp_path / "other")
    with (
        client_for(tls_school.url, machine_id=MACHINE, timeout=5.0, ca_bundle=other.ca_cert) as client,
        pytest.raises(Unreachable) as refused,
    ):
        client.login(demo.codes[0])
    assert f"(not signed by a CA in the ca_bundle file {other.ca_cert})" in str(refused.value)
    assert tls_school.seen.requests == []


def test_a_certificate_for_another_name_says_so(tls_school: School, tls_files: TlsFiles, demo: Demo) -> None:
    # The certificate names 127.0.0.1 only; "localhost" is the same machine under a name it does not carry.
    url = tls_school.url.replace("127.0.0.1", "localhost")
    with (
        client_for(url, machine_id=MACHINE, timeout=5.0, ca_bundle=tls_files.ca_cert) as client,
        pytest.raises(Unreachable) as refused,
    ):
        client.login(demo.codes[0])
    message = str(refused.value)
    assert "its certificate is not for localhost" in message
    assert "Check that server_url names the server as its certificate does" in message
    assert tls_school.seen.requests == []


def test_a_ca_bundle_that_is_not_there_is_named_and_nothing_is_sent(
    tls_school: School, demo: Demo, tmp_path: Path
) -> None:
    missing = tmp_path / "gone.pem"
    with (
        client_for(tls_school.url, machine_id=MACHINE, timeout=5.0, ca_bundle=missing) as client,
        pytest.raises(ClientError) as refused,
    ):
        client.login(demo.codes[0])
    assert str(refused.value) == (
        f"Cannot connect securely to {tls_school.url}: the CA bundle {missing} (ca_bundle in the Invigil config) "
        "cannot be read. Ask IT to fix ca_bundle or remove it."
    )
    assert tls_school.seen.requests == []
