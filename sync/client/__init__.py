"""HTTP client to the central server (player and staff console): `client_for` builds it; no Qt.

errors.py holds the typed errors and the retry policy (`is_transient`); transport.py the session, timeouts and
refusals; player.py a student's calls; staff.py the console's. A student's player never loads the staff wire types.
"""

from __future__ import annotations

from pathlib import Path

from sync.client.errors import (
    CA_BUNDLE_HINT,
    NETWORK_HINT,
    SETUP_HINT,
    BadReply,
    ClientError,
    MediaCorrupt,
    Refused,
    ServerBusy,
    Unreachable,
    is_transient,
)
from sync.client.player import MAX_RETRY_WAIT_SECONDS, MEDIA_RETRIES, RETRY_BACKOFF_SECONDS, PlayerCalls
from sync.client.staff import StaffCalls
from sync.client.transport import MACHINE_HEADER, user_agent

__all__ = [
    "CA_BUNDLE_HINT",
    "MACHINE_HEADER",
    "MAX_RETRY_WAIT_SECONDS",
    "MEDIA_RETRIES",
    "NETWORK_HINT",
    "RETRY_BACKOFF_SECONDS",
    "SETUP_HINT",
    "BadReply",
    "ClientError",
    "InvigilClient",
    "MediaCorrupt",
    "Refused",
    "ServerBusy",
    "Unreachable",
    "client_for",
    "is_transient",
    "user_agent",
]


class InvigilClient(PlayerCalls, StaffCalls):
    """One server over one requests.Session. Sessions are not thread-safe: give each thread its own client."""


def client_for(
    server_url: str, *, machine_id: str | None, timeout: float, ca_bundle: str | Path | None
) -> InvigilClient:
    """The client every production caller builds (the player, its uploader, the staff console, the bench), so
    none of them forgets the machine id or the school's CA bundle: a console built without the bundle fails at
    a school whose web filter re-signs TLS while the students' players work.

    `ca_bundle`: a PEM file of CA certificates to trust instead of the system's (None: the system's)."""
    verify: str | bool = str(ca_bundle) if ca_bundle is not None else True
    return InvigilClient(server_url, machine_id=machine_id, timeout=timeout, verify=verify)
