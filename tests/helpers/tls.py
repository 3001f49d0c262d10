"""A school's TLS set-up in miniature: a CA made on the spot, a certificate it signed for 127.0.0.1, and the real
app served over TLS by uvicorn on a free loopback port, recording what reached it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.helpers.live_server import serve_app

START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    """The CA's certificate (PEM): what a school's IT puts in ca_bundle."""
    server_cert: Path
    server_key: Path


def make_tls_files(folder: Path, *, server_names: Sequence[str] = ("127.0.0.1",)) -> TlsFiles:
    """A CA and a server certificate for the IP address 127.0.0.1 signed by it, as PEM files in `folder`.
    server_names: the names (IP addresses or DNS names) the server certificate is for, the first its common name.

    EC keys, as RSA ones take a noticeable moment to make; the extensions are the ones a strict verifier (Python
    3.13's VERIFY_X509_STRICT) asks for, so the test does not depend on the verifier's leniency."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Invigil test school web filter CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_names[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([_alternative_name(name) for name in server_names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(
        ca_cert=folder / "school-ca.pem", server_cert=folder / "server.pem", server_key=folder / "server-key.pem"
    )
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def _alternative_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ip_address(name))
    except ValueError:
        return x509.DNSName(name)


@dataclass(frozen=True)
class Seen:
    """One HTTP request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]

    def machine(self) -> str | None:
        """The X-Invigil-Machine header, decoded (sync.client percent-encodes it)."""
        raw = self.headers.get("x-invigil-machine")
        return unquote(raw) if raw is not None else None


@dataclass
class RequestLog:
    """Wraps an ASGI app and keeps every HTTP request that reached it (the server itself is unchanged)."""

    app: Any
    requests: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.requests.append(Seen(scope["method"], scope["path"], headers))
        await self.app(scope, receive, send)

    def to(self, suffix: str) -> list[Seen]:
        return [r for r in list(self.requests) if r.path.endswith(suffix)]


@contextmanager
def serve_tls(app: Any, files: TlsFiles) -> Iterator[str]:
    """`app` under uvicorn with TLS on 127.0.0.1, port 0; yields its https:// address."""
    with serve_app(app, scheme="https", ssl_certfile=str(files.server_cert), ssl_keyfile=str(files.server_key)) as url:
        yield url


@dataclass
class School:
    """A school's server behind its web filter: the real app over TLS signed by the school's own CA."""

    url: str
    seen: RequestLog


@contextmanager
def school_over_tls(app: Any, files: TlsFiles) -> Iterator[School]:
    """The app served over TLS with `files` until the block ends, every request recorded."""
    seen = RequestLog(app)
    with serve_tls(seen, files) as url:
        yield School(url, seen)
