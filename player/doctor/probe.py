"""One GET of the server's /api/v1/health for doctor, through sync.client's transport (its TLS, timeouts and
worded errors), keeping what the checks read: the outcome, the server's version header and its Date header."""

from __future__ import annotations

import email.utils
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from sync.client.errors import CA_BUNDLE_HINT, NETWORK_HINT, ClientError, Unreachable
from sync.client.transport import Transport

VERSION_HEADER = "X-Invigil-Version"
"""Sent by the server's /api/v1/health (sync/server/routes_health.py): the server's sync.version.VERSION."""


class Outcome(StrEnum):
    ANSWERED = "answered"
    """/health answered 200."""
    UNTRUSTED = "untrusted"
    """A server answered, but its TLS certificate is not trusted (or TLS could not be set up)."""
    UNREACHABLE = "unreachable"
    """No connection: refused, DNS, timeout."""
    REFUSED = "refused"
    """A server answered /health with an error or a reply Invigil cannot read (wrong address, not Invigil)."""


class TlsProblem(StrEnum):
    """Why the secure connection failed, each with its own advice (server_checks.check_tls)."""

    UNTRUSTED = "untrusted"
    """The certificate is not signed by a CA this computer (or ca_bundle) trusts: ca_bundle is the fix."""
    NAME_MISMATCH = "name_mismatch"
    """A trusted certificate, but for other names than server_url's host: the address or the certificate is wrong."""
    PLAIN_HTTP = "plain_http"
    """server_url says https://, but the server speaks plain HTTP there (it runs without TLS)."""
    OTHER = "other"
    """The handshake failed some other way (a protocol or cipher the two do not share, a middlebox)."""


@dataclass(frozen=True)
class HealthReply:
    outcome: Outcome
    message: str
    """For a person: what happened (sync.client's sentence when it failed)."""
    server_version: str | None = None
    server_date: datetime | None = None
    """The reply's Date header (UTC), None when it had none."""
    elapsed_seconds: float = 0.0
    """How long the request took: the clock check compares server_date with this machine's time half that ago."""
    tls_problem: TlsProblem | None = None
    """Outcome.UNTRUSTED only: what exactly failed."""
    certificate_names: tuple[str, ...] = ()
    """TlsProblem.NAME_MISMATCH or UNTRUSTED: the names (DNS names and IP addresses) the server's certificate is for,
    when they could be read."""


class _HealthCall(Transport):
    """The transport with the one call doctor makes (the player's and staff's calls are not needed here)."""

    def health(self) -> HealthReply:
        started = time.monotonic()
        try:
            with self._send("GET", "/health") as response:
                elapsed = time.monotonic() - started
                date = _parse_date(response.headers.get("Date"))
                version = response.headers.get(VERSION_HEADER)
                try:
                    body = response.json()
                except ValueError:
                    body = None
        except Unreachable as exc:
            # Unreachable.tls: something answered, but the secure connection failed (untrusted, another name, or no
            # TLS at all there): which one decides the advice, so it is found out here.
            if not exc.tls:
                return HealthReply(Outcome.UNREACHABLE, _without_hint(exc.message))
            problem, names = self._tls_problem(exc)
            return HealthReply(
                Outcome.UNTRUSTED, _without_hint(exc.message), tls_problem=problem, certificate_names=names
            )
        except ClientError as exc:
            # A CA bundle that cannot be read is a TLS problem too (sync.client says "CA bundle" then).
            if "CA bundle" in exc.message:
                return HealthReply(Outcome.UNTRUSTED, exc.message, tls_problem=TlsProblem.UNTRUSTED)
            return HealthReply(Outcome.REFUSED, exc.message)
        if not isinstance(body, dict) or body.get("status") != "ok":
            return HealthReply(
                Outcome.REFUSED,
                f"{self.base_url}/api/v1/health answered, but not as an Invigil server does (no status ok)",
            )
        return HealthReply(
            Outcome.ANSWERED,
            f"{self.base_url} answered in {elapsed * 1000:.0f} ms",
            server_version=version,
            server_date=date,
            elapsed_seconds=elapsed,
        )

    def _tls_problem(self, exc: Unreachable) -> tuple[TlsProblem, tuple[str, ...]]:
        """What the failed handshake was: the SSL error's own words where they say it (a name mismatch, a
        verification failure), else a plain HTTP request to the same port: a server without TLS answers it."""
        said = " ".join(str(cause) for cause in _causes(exc)).lower()
        parts = urlsplit(self.base_url)
        host, port = parts.hostname or "", parts.port or 443
        if "mismatch" in said:
            return TlsProblem.NAME_MISMATCH, certificate_names(host, port, timeout=self.timeout)
        if "certificate_verify_failed" in said or "certificate verify failed" in said:
            # Untrusted comes first (OpenSSL stops there): the names are read too, as a certificate can be both.
            return TlsProblem.UNTRUSTED, certificate_names(host, port, timeout=self.timeout)
        if speaks_plain_http(host, port, timeout=self.timeout):
            return TlsProblem.PLAIN_HTTP, ()
        return TlsProblem.OTHER, ()


def _causes(exc: BaseException) -> list[BaseException]:
    """exc and what caused it, down the chain (requests wraps urllib3, which wraps the ssl module's error)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def certificate_names(host: str, port: int, *, timeout: float) -> tuple[str, ...]:
    """The names the certificate at host:port is for (its DNS and IP subject alternative names, else its common
    name), read over a connection that verifies nothing and sends nothing: () when they cannot be read."""
    from cryptography import x509

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read the names; the verdict is the verified connection's
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        if der is None:
            return ()
        cert = x509.load_der_x509_certificate(der)
    except (OSError, ValueError):
        return ()
    try:
        alternatives = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [*alternatives.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in alternatives.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    if not names:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    return tuple(dict.fromkeys(names))


def names_cover(host: str, names: tuple[str, ...]) -> bool:
    """True when a certificate for `names` is for `host`: the same name (any case), the same IP address, or a
    wildcard (*.school.example) for one label in front."""
    wanted = host.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == wanted:
            return True
        if name.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == name[2:]:
            return True
        try:
            if ipaddress.ip_address(name) == ipaddress.ip_address(wanted):
                return True
        except ValueError:
            continue
    return False


def speaks_plain_http(host: str, port: int, *, timeout: float) -> bool:
    """True when host:port answers a plain HTTP request with an HTTP reply: a server that runs without TLS."""
    request = f"GET /api/v1/health HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii", errors="replace")
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(request)
            start = b""
            while len(start) < 5:
                chunk = conn.recv(5 - len(start))
                if not chunk:
                    break
                start += chunk
    except OSError:
        return False
    return start == b"HTTP/"


def _without_hint(message: str) -> str:
    """sync.client's sentence without its advice for a student: doctor's checks give their own fix, and the
    heartbeat's 200-character summary has no room for both."""
    for hint in (NETWORK_HINT, CA_BUNDLE_HINT):
        message = message.replace(f" {hint}", "")
    return message.split(" Check that server_url names the server", 1)[0]


def _parse_date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return when.astimezone(UTC) if when.tzinfo is not None else None


def probe_health(server_url: str, *, ca_bundle: Path | None, timeout: float) -> HealthReply:
    """GET {server_url}/api/v1/health, verified with `ca_bundle` (None: the system's CAs), as the player connects."""
    verify: str | bool = str(ca_bundle) if ca_bundle is not None else True
    with _HealthCall(server_url, timeout=timeout, verify=verify) as call:
        return call.health()
