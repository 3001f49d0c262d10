"""One GET of the server's /api/v1/health for doctor, through sync.client's transport (its TLS, timeouts and
worded errors), keeping what the checks read: the outcome, the server's version header and its Date header."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

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
            # Unreachable.tls: the server answered, but its certificate is not trusted (or the handshake failed).
            untrusted = exc.tls
            return HealthReply(Outcome.UNTRUSTED if untrusted else Outcome.UNREACHABLE, _without_hint(exc.message))
        except ClientError as exc:
            # A CA bundle that cannot be read is a TLS problem too (sync.client says "CA bundle" then).
            outcome = Outcome.UNTRUSTED if "CA bundle" in exc.message else Outcome.REFUSED
            return HealthReply(outcome, exc.message)
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
