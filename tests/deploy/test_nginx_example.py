"""deploy/nginx/invigil.conf as shipped, run by a real nginx in front of `invigil-server serve --workers 2` on
PostgreSQL: TLS, health and readiness, a student login, failed logins counted per client address, and which of the
two refuses an oversized body (the server's JSON 413 below nginx's limit, nginx's HTML 413 above it)."""

from __future__ import annotations

import http.client
import json
import os
import pwd
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import astuple, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from sync.server.bodylimit import BodyLimits
from sync.staff_protocol import MAX_EVIDENCE_BYTES
from tests.helpers.postgres import Cluster, free_port
from tests.helpers.served import REPO, command, serving, this_checkout
from tests.helpers.tls import TlsFiles
from tests.helpers.waiting import wait_until

EXAMPLE = REPO / "deploy" / "nginx" / "invigil.conf"
BATCH_LIMIT = BodyLimits().results_batch


def nginx_limit() -> int:
    """The example's client_max_body_size, in bytes."""
    match = re.search(r"^\s*client_max_body_size (\d+)m;", EXAMPLE.read_text(), re.M)
    assert match, f"{EXAMPLE} has no client_max_body_size in MB"
    return int(match[1]) * 1024 * 1024


NGINX_LIMIT = nginx_limit()
TIMEOUT = 30
NGINX_USER = "www-data"  # the user Debian's nginx.conf runs its workers as


def nginx_program() -> str:
    # Debian puts nginx in /usr/sbin, which is not on an ordinary user's PATH.
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail("nginx is not installed: run scripts/setup-env as root (it installs Debian's nginx package)")
    return found


def render(example: str, *, https_port: int, http_port: int, upstream_port: int, tls: TlsFiles) -> str:
    """The example with only its ports, addresses to listen on and certificate paths changed."""
    changes = {
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "server 127.0.0.1:8765;": f"server 127.0.0.1:{upstream_port};",
        "/etc/ssl/invigil/fullchain.pem": str(tls.server_cert),
        "/etc/ssl/invigil/privkey.pem": str(tls.server_key),
    }
    for old, new in changes.items():
        assert example.count(old) == 1, f"{EXAMPLE} no longer has exactly one {old!r}: update this test"
        example = example.replace(old, new)
    return example


def main_config(prefix: Path, site: Path) -> str:
    """What /etc/nginx/nginx.conf does on Debian, with every path in `prefix`; the site is included as shipped."""
    # As root, nginx runs its workers as `user` (Debian: www-data); as anyone else the directive would be ignored.
    user = f"user {NGINX_USER};\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 2;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        "daemon off;\nevents { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {prefix}/access.log;\n"
        + "".join(
            f"    {kind}_temp_path {prefix}/{kind}_temp;\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {site};\n}}\n"
    )


@dataclass(frozen=True)
class Trust:
    https_port: int
    """nginx's TLS port on 127.0.0.1."""
    http_port: int
    """nginx's plain-HTTP port (redirects only)."""
    context: ssl.SSLContext
    seeded: dict[str, Any]
    dsn: str
    """libpq's connection string for the server's database."""

    def connect(self, source: str = "127.0.0.2") -> http.client.HTTPSConnection:
        """A client of nginx from `source`, a loopback address other than nginx's own 127.0.0.1 (Linux answers on
        all of 127.0.0.0/8), so the address the server counts tells the client and nginx apart."""
        return http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=self.context, timeout=TIMEOUT, source_address=(source, 0)
        )


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own, closed after the reply; headers as keywords (Content_Type=...)."""
    with closing(conn):
        conn.request(method, path, body=body, headers={k.replace("_", "-"): v for k, v in headers.items()})
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()


def invigil(*argv: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(command()), *argv], capture_output=True, text=True, timeout=120, env=this_checkout(os.environ)
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def trust(pg_cluster: Cluster, tls_files: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trust]:
    nginx = nginx_program()
    folder = tmp_path_factory.mktemp("trust")
    database = pg_cluster.new_database("trust")  # empty, as `createdb -O invigil invigil` leaves it
    url = pg_cluster.url(database)
    key_file = folder / "invigil.secret"
    invigil("--db", url, "--secret-file", str(key_file), "init")
    seeded = json.loads(invigil("--db", url, "--secret-file", str(key_file), "demo-seed", "--json").stdout)
    # nginx's workers (www-data when run as root) write request bodies into its temp folders: a folder they can
    # reach, not pytest's (mode 0700 under /tmp/pytest-of-root).
    prefix = Path(tempfile.mkdtemp(prefix="invigil-nginx-"))
    prefix.chmod(0o755)
    if os.geteuid() == 0:
        account = pwd.getpwnam(NGINX_USER)
        os.chown(prefix, account.pw_uid, account.pw_gid)
    errors = folder / "serve.stderr"
    served_args = ("--secret-file", str(key_file), "--workers", "2", "--forwarded-allow-ips", "127.0.0.1")
    try:
        with serving(url, *served_args, stderr=errors) as served:
            upstream = urlsplit(served.api).port
            assert upstream is not None
            https, plain = free_port(), free_port()
            site = prefix / "invigil.conf"
            site.write_text(
                render(EXAMPLE.read_text(), https_port=https, http_port=plain, upstream_port=upstream, tls=tls_files)
            )
            (prefix / "nginx.conf").write_text(main_config(prefix, site))
            process = subprocess.Popen(
                [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            context = ssl.create_default_context(cafile=str(tls_files.ca_cert))
            trust = Trust(https, plain, context, seeded, pg_cluster.dsn(database))
            try:

                def answers() -> bool:
                    try:
                        return call(trust.connect(), "GET", "/api/v1/health")[0] == 200
                    except OSError:
                        return False

                wait_until(
                    answers,
                    what="nginx to answer /api/v1/health over TLS",
                    timeout=TIMEOUT,
                    interval=0.05,
                    give_up_if=lambda: process.poll() is not None,
                )
                yield trust
            finally:
                process.send_signal(signal.SIGQUIT)  # graceful: finish requests in flight
                try:
                    process.wait(timeout=TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                log = (prefix / "error.log").read_text(errors="replace") if (prefix / "error.log").exists() else ""
                assert process.returncode == 0, f"nginx exited {process.returncode}: {log}"
                assert "[emerg]" not in log
                assert "[alert]" not in log
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
        pg_cluster.drop_database(database)
    assert "Traceback" not in errors.read_text()


def test_health_and_readiness_answer_over_tls(trust: Trust) -> None:
    status, headers, body = call(trust.connect(), "GET", "/api/v1/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, headers, body = call(trust.connect(), "GET", "/api/v1/ready")
    assert status == 200
    assert json.loads(body)["status"] == "ready"
    # Plain HTTP only points at HTTPS; anything off the API is not passed on.
    plain = http.client.HTTPConnection("127.0.0.1", trust.http_port, timeout=TIMEOUT)
    status, headers, _ = call(plain, "GET", "/api/v1/health")
    assert status == 301
    assert headers["location"] == "https://127.0.0.1/api/v1/health"
    assert call(trust.connect(), "GET", "/")[0] == 404


def test_a_student_signs_in_and_failures_count_under_each_clients_own_address(trust: Trust) -> None:
    student = trust.seeded["students"][0]
    login = json.dumps({"access_code": student["access_code"], "machine_id": "pc-1"}).encode()
    status, _, body = call(trust.connect("127.0.0.2"), "POST", "/api/v1/login", login, Content_Type="application/json")
    assert status == 200, body
    assert json.loads(body)["attempt_id"]
    wrong = json.dumps({"access_code": "ZZZZZZZZ", "machine_id": "pc-2"}).encode()
    assert call(trust.connect("127.0.0.2"), "POST", "/api/v1/login", wrong, Content_Type="application/json")[0] == 401
    # A client that sends its own X-Forwarded-For gains nothing: nginx appends the address it saw.
    wrong = json.dumps({"access_code": "YYYYYYYY", "machine_id": "pc-3"}).encode()
    status, _, _ = call(
        trust.connect("127.0.0.3"),
        "POST",
        "/api/v1/login",
        wrong,
        Content_Type="application/json",
        X_Forwarded_For="10.9.9.9",
    )
    assert status == 401
    with psycopg.connect(trust.dsn) as db:
        counted = db.execute("SELECT key FROM login_failures WHERE scope = 'address' ORDER BY key").fetchall()
    assert [key for (key,) in counted] == ["127.0.0.2", "127.0.0.3"]  # not nginx's 127.0.0.1, not the forged one


def sign_in(trust: Trust, student: int) -> tuple[str, str]:
    """(attempt id, token) of a demo student signed in through nginx."""
    code = trust.seeded["students"][student]["access_code"]
    login = json.dumps({"access_code": code, "machine_id": f"pc-body-{student}"}).encode()
    status, _, body = call(trust.connect(), "POST", "/api/v1/login", login, Content_Type="application/json")
    assert status == 200, body
    reply = json.loads(body)
    return reply["attempt_id"], reply["attempt_token"]


def test_a_body_just_over_the_servers_limit_gets_the_servers_json_413(trust: Trust) -> None:
    attempt, token = sign_in(trust, 1)
    body = b" " * (BATCH_LIMIT + 1)  # over the server's limit for a batch, under nginx's client_max_body_size
    assert BATCH_LIMIT < len(body) < NGINX_LIMIT
    status, headers, reply = call(
        trust.connect(),
        "POST",
        f"/api/v1/attempts/{attempt}/results/batch",
        body,
        Content_Type="application/json",
        Authorization=f"Bearer {token}",
    )
    assert status == 413
    assert headers["content-type"] == "application/json"
    refusal = json.loads(reply)
    assert refusal["error"] == "body_too_large"  # what the player's uploader acts on (it sends them one by one)
    assert refusal["message"].startswith("The request body is 13,107,201 bytes; this route accepts at most 12.5 MB.")


def test_a_body_over_nginxs_limit_gets_nginxs_own_413_page(trust: Trust) -> None:
    attempt, token = sign_in(trust, 2)
    body = b" " * (20 * 1024 * 1024)
    status, headers, reply = call(
        trust.connect(),
        "POST",
        f"/api/v1/attempts/{attempt}/results/batch",
        body,
        Content_Type="application/json",
        Authorization=f"Bearer {token}",
    )
    assert status == 413
    assert headers["content-type"] == "text/html"
    assert b"413 Request Entity Too Large" in reply


def test_nginxs_limit_is_a_bit_above_every_limit_of_the_server() -> None:
    # Otherwise nginx, not the server, refuses some bodies the server would take or refuse with its own message.
    # Content uploads (`content`) have a location of their own, with its own limit a bit above theirs.
    largest = max(*astuple(replace(BodyLimits(), content=0)), MAX_EVIDENCE_BYTES)
    assert largest < NGINX_LIMIT <= largest + 1024 * 1024
    upload = re.search(r"location = /api/v1/staff/assessments \{[^}]*client_max_body_size (\d+)m;", EXAMPLE.read_text())
    assert upload, f"{EXAMPLE} has no location for content uploads with their own client_max_body_size"
    assert BodyLimits().content < int(upload[1]) * 1024 * 1024 <= BodyLimits().content + 1024 * 1024
