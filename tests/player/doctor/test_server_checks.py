"""doctor's server checks against real servers: the real one on loopback (http and TLS with the school's CA, a
certificate for another name, plain http addressed as https), a closed port, and a tiny hand-written server whose
Date header is off or whose version is another."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from player.doctor.checks import CHECK_KEYS, run_doctor
from player.doctor.edges import ScreenInfo
from player.doctor.probe import names_cover
from player.doctor.report import Status
from player.doctor.text import render_text
from sync.version import VERSION
from tests.helpers.doctor import MakeConfig, check_of, closed_port_url, good_edges, statuses
from tests.helpers.live_server import LiveServer
from tests.helpers.tiny_health_server import tiny_health_server
from tests.helpers.tls import School, TlsFiles, make_tls_files, school_over_tls


def test_a_good_setup_passes_every_check_against_the_real_server(
    live_server: LiveServer, make_config: MakeConfig
) -> None:
    config = make_config(live_server.url, machine_name="Room 12 PC 3")
    heard: list[str] = []

    report = run_doctor(config, edges=good_edges(), progress=lambda check: heard.append(check.key))

    assert [c.key for c in report.checks] == list(CHECK_KEYS)
    assert heard == list(CHECK_KEYS)  # each check reported as it completed, in order
    assert statuses(report) == dict.fromkeys(CHECK_KEYS, "ok"), report.checks
    assert report.exit_status == 0
    assert report.summary() == "Ready"
    assert check_of(report, "api_version").detail == f"Server {VERSION}, player {VERSION}: compatible (API v1)."
    assert check_of(report, "clock").detail == "This computer's clock agrees with the server's."
    assert report.settings["server_url"] == {"value": live_server.url, "source": str(config.origins["server_url"])}
    assert report.settings["machine_name"]["value"] == "Room 12 PC 3"


def test_no_server_fails_reachability_and_leaves_what_depends_on_it_unchecked(make_config: MakeConfig) -> None:
    url = closed_port_url()
    report = run_doctor(make_config(url), edges=good_edges())

    server = check_of(report, "server")
    assert server.status is Status.FAILURE
    assert server.detail == f"Cannot reach the server at {url}: the connection was refused."  # advice: in fix
    assert "invigil-server serve" in server.fix
    assert f"server_url is {url} (from " in server.fix
    for key in ("api_version", "clock"):
        assert (check_of(report, key).status, check_of(report, key).number) == (Status.NOT_CHECKED, None)
        assert check_of(report, key).detail.startswith("Not checked: the server did not answer")
    assert report.exit_status == 2
    # The cause, not what it left unchecked; each detail without its full stop, so two read "...refused; Audio...".
    assert report.summary() == f"Server reachable: {server.detail.removesuffix('.')}"
    # Text and JSON: a number only on what went wrong, none on what could not be checked.
    text = render_text(report)
    (clock_line,) = [line for line in text.splitlines() if "Clock against the server" in line]
    assert clock_line.startswith("  - Clock against the server ")
    assert "[INV-5005]" not in text
    assert f"[{server.number}]" in text
    assert {c["key"]: c["number"] for c in report.to_json()["checks"]}["clock"] is None


def test_over_ssh_with_no_display_a_good_setup_is_still_ready(live_server: LiveServer, make_config: MakeConfig) -> None:
    no_display = ScreenInfo(width=1024, height=768, platform="offscreen")
    report = run_doctor(make_config(live_server.url), edges=good_edges(screen=lambda: no_display))

    assert check_of(report, "display").status is Status.NOT_CHECKED
    assert report.exit_status == 0
    assert report.summary() == "Ready"
    lines = render_text(report).splitlines()
    assert "Ready: every check that ran passed (the ones marked - could not run here)." in lines
    assert any(line.startswith("  - Screen size ") for line in lines)


def test_tls_verified_with_the_schools_ca_bundle(
    tls_school: School, tls_files: TlsFiles, make_config: MakeConfig
) -> None:
    report = run_doctor(make_config(tls_school.url, ca_bundle=str(tls_files.ca_cert)), edges=good_edges())

    tls = check_of(report, "tls")
    assert tls.status is Status.OK
    assert tls.detail.startswith(f"The server's certificate is verified with the CA bundle {tls_files.ca_cert}")
    assert report.exit_status == 0
    assert [r.path for r in tls_school.seen.requests] == ["/api/v1/health"]  # one request serves every check


def test_a_server_this_computer_does_not_trust_fails_tls_and_says_what_to_set(
    tls_school: School, make_config: MakeConfig
) -> None:
    report = run_doctor(make_config(tls_school.url), edges=good_edges())

    tls = check_of(report, "tls")
    assert tls.status is Status.FAILURE
    assert tls.detail.startswith("Not trusted: Cannot reach the server at")
    assert "does not trust the server's certificate" in tls.detail
    assert "set ca_bundle in the machine-wide config to the filter's CA certificate" in tls.fix
    assert check_of(report, "server").status is Status.OK  # something answers: TLS is the problem, said once
    assert check_of(report, "clock").detail.startswith("Not checked")
    assert report.exit_status == 2


def test_an_untrusted_certificate_for_another_name_says_both(tls_school: School, make_config: MakeConfig) -> None:
    # Self-signed as far as this computer knows, and made for 127.0.0.1 while server_url says localhost.
    url = tls_school.url.replace("127.0.0.1", "localhost")
    report = run_doctor(make_config(url), edges=good_edges())

    tls = check_of(report, "tls")
    assert (tls.status, tls.number) == (Status.FAILURE, "INV-5003")
    assert tls.detail.startswith("Not trusted: ")
    assert tls.detail.endswith(
        "It is also for other names (127.0.0.1), not for localhost: once it is trusted, server_url must use one of "
        "them (or the certificate be reissued for this name)."
    )
    assert "set ca_bundle" in tls.fix


@pytest.mark.parametrize(
    ("host", "names", "covered"),
    [
        ("invigil.school.example", ("INVIGIL.school.example",), True),
        ("invigil.school.example", ("*.school.example",), True),
        ("a.invigil.school.example", ("*.school.example",), False),
        ("127.0.0.1", ("invigil", "127.0.0.1"), True),
        ("::1", ("0:0:0:0:0:0:0:1",), True),
        ("localhost", ("127.0.0.1",), False),
    ],
)
def test_which_names_a_certificate_covers(host: str, names: tuple[str, ...], covered: bool) -> None:
    assert names_cover(host, names) is covered


def test_a_certificate_for_another_name_says_so_and_not_to_set_ca_bundle(
    app: FastAPI, make_config: MakeConfig, tmp_path: Path
) -> None:
    # The school's CA (trusted through ca_bundle) signed a certificate for the server's DNS name, and this computer
    # addresses it by IP address.
    named = make_tls_files(tmp_path / "named", server_names=("invigil.school.example", "invigil"))
    with school_over_tls(app, named) as school:
        port = urlsplit(school.url).port
        report = run_doctor(make_config(school.url, ca_bundle=str(named.ca_cert)), edges=good_edges())

    tls = check_of(report, "tls")
    assert tls.status is Status.FAILURE
    assert tls.number == "INV-5015"
    assert tls.detail.startswith(
        "The server's certificate is for invigil.school.example, invigil, not for 127.0.0.1, the name in server_url."
    )
    assert tls.fix.startswith(f"Use the certificate's name in server_url (https://invigil.school.example:{port})")
    assert "have the certificate reissued for 127.0.0.1" in tls.fix
    assert "set ca_bundle" not in tls.fix
    assert check_of(report, "server").status is Status.OK


def test_https_to_a_server_that_speaks_plain_http_says_use_http(
    live_server: LiveServer, make_config: MakeConfig
) -> None:
    # `invigil-server serve` without TLS, and server_url typed with https://.
    https_url = live_server.url.replace("http://", "https://", 1)
    report = run_doctor(make_config(https_url), edges=good_edges())

    tls = check_of(report, "tls")
    assert tls.status is Status.FAILURE
    assert tls.number == "INV-5016"
    netloc = urlsplit(live_server.url).netloc
    assert tls.detail.startswith(f"No secure connection: the server at {netloc} answers plain HTTP, not HTTPS")
    assert tls.fix.startswith(f"Set server_url to {live_server.url} (it is {https_url}, from ")
    assert "turn TLS on at the server" in tls.fix
    assert "ca_bundle" not in tls.fix
    assert report.exit_status == 2


def test_a_ca_bundle_of_another_ca_fails_tls_naming_the_bundle(
    tls_school: School, make_config: MakeConfig, tmp_path: Path
) -> None:
    wrong = make_tls_files(tmp_path / "another-ca").ca_cert
    report = run_doctor(make_config(tls_school.url, ca_bundle=str(wrong)), edges=good_edges())

    tls = check_of(report, "tls")
    assert tls.status is Status.FAILURE
    assert f"not signed by a CA in the ca_bundle file {wrong}" in tls.detail
    assert tls.fix.startswith(f"The server's certificate is not signed by a CA in {wrong}")


def test_plain_http_to_another_computer_is_a_warning(make_config: MakeConfig) -> None:
    # Nothing listens at this documentation address's port; the TLS check reads the address alone.
    report = run_doctor(make_config("http://192.0.2.1:9", request_timeout_seconds=0.2), edges=good_edges())

    tls = check_of(report, "tls")
    assert tls.status is Status.WARNING
    assert tls.detail.startswith("Not encrypted: server_url is http://192.0.2.1:9")


@pytest.mark.parametrize(
    ("skew", "status", "detail"),
    [
        (90, Status.WARNING, "This computer's clock is 90 seconds behind the server's."),
        (-600, Status.FAILURE, "This computer's clock is 10 minutes ahead of the server's."),
        (-7 * 3600, Status.FAILURE, "This computer's clock is 7.0 hours ahead of the server's."),
        (30, Status.OK, "This computer's clock is 30 seconds behind the server's. (under a minute: fine)"),
    ],
)
def test_clock_skew_against_the_servers_date_header(
    make_config: MakeConfig, skew: int, status: Status, detail: str
) -> None:
    with tiny_health_server(skew_seconds=skew) as url:
        report = run_doctor(make_config(url), edges=good_edges())

    clock = check_of(report, "clock")
    # The Date header has whole seconds and the request takes some: a second either way.
    assert clock.status is status
    if skew == 90:
        assert clock.detail in {detail, detail.replace("90", "89"), detail.replace("90", "91")}
    elif skew == 30:
        assert clock.detail in {detail, detail.replace("30", "29"), detail.replace("30", "31")}
    else:
        assert clock.detail == detail
    if status is not Status.OK:
        assert "NTP" in clock.fix


@pytest.mark.parametrize(
    ("version", "status", "detail"),
    [
        ("9.0.0", Status.FAILURE, f"Incompatible: the server is 9.0.0, this player is {VERSION}"),
        ("0.2.0", Status.FAILURE, f"Incompatible: the server is 0.2.0, this player is {VERSION}"),
        (None, Status.WARNING, "The server does not say its version"),
        ("0.1.99", Status.OK, f"Server 0.1.99, player {VERSION}: compatible"),
        ("not a version", Status.WARNING, "The server's version 'not a version' cannot be read."),
    ],
)
def test_api_version_compatibility(make_config: MakeConfig, version: str | None, status: Status, detail: str) -> None:
    with tiny_health_server(version=version) as url:
        report = run_doctor(make_config(url), edges=good_edges())

    api = check_of(report, "api_version")
    assert (api.status, api.detail[: len(detail)]) == (status, detail)
    if status is not Status.OK:
        assert f"this player is {VERSION}" in api.fix


def test_the_real_server_names_its_version_on_health(live_server: LiveServer) -> None:
    from player.doctor.probe import Outcome, probe_health

    reply = probe_health(live_server.url, ca_bundle=None, timeout=5)

    assert (reply.outcome, reply.server_version) == (Outcome.ANSWERED, VERSION)
    assert reply.server_date is not None
