"""The client's typed errors and which of them a background loop retries (`is_transient`).

Error policy, for callers deciding what to tell a person and whether to try again:

- Unreachable (no connection, DNS, reset, timeout, an untrusted certificate) and ServerBusy (408, 429, 5xx) are
  transient: `is_transient` says True and a background loop (the uploader, heartbeats) should retry, honouring
  `ServerBusy.retry_after`.
- 429 is ServerBusy, including the login lockout: the uploader must retry a rate-limited result upload, and for a
  student the lockout *is* temporary. A login screen never retries by itself; it shows `str(exc)` (the server's
  sentence, e.g. "... try again at 09:10") and lets the student try when told.
- Refused (any other 4xx) is permanent for that request: `.error` is the server's stable code, `str(exc)` its sentence.
- BadReply (not JSON, wrong shape, a redirect) usually means a wrong server address or mismatched versions.
- Redirects are not followed: a POST would silently become a GET, and a token must never travel to another host.
- Nothing secret is logged: only method, path, status and time. Bodies (codes, passwords) and headers never are.
"""

from __future__ import annotations

NETWORK_HINT = "Check the network, and that this computer is set up for the right server (ask IT)."
SETUP_HINT = (
    "Check that this computer is set up for the right server, and that the app and server versions match (ask IT)."
)
CA_BUNDLE_HINT = (
    "If this school's web filter re-signs secure connections, ask IT to set ca_bundle in this computer's Invigil "
    "config file to the filter's CA certificate (a PEM file; see docs/player-config.md)."
)


class ClientError(Exception):
    """Base of every client error; `str(e)` is a sentence a student or invigilator can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unreachable(ClientError):
    """No answer from the server: refused, reset, DNS failure, timeout or a certificate this computer does not
    trust. Transient (a background loop keeps trying; an untrusted certificate is fixed by IT, then it works)."""

    def __init__(self, server_url: str, what_happened: str, *, hint: str = NETWORK_HINT) -> None:
        super().__init__(f"Cannot reach the server at {server_url}: {what_happened}. {hint}")
        self.server_url = server_url


class ServerBusy(ClientError):
    """408, 429 or 5xx: the server is overloaded, rate-limiting or failing. Transient."""

    def __init__(self, message: str, *, status: int, error: str, retry_after: int | None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.retry_after = retry_after
        """Seconds the server asked us to wait, or None if it did not say."""


class Refused(ClientError):
    """Any other 4xx: the server will not do this, and asking again unchanged will not help."""

    def __init__(self, message: str, *, status: int, error: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        """The server's stable code, e.g. "unknown_code", "in_use_elsewhere", "bad_credentials"."""


class BadReply(ClientError):
    """A reply that is not what the protocol says: not JSON, the wrong shape, or a redirect."""


class MediaCorrupt(ClientError):
    """A downloaded media file does not match its size or content hash (nothing was cached)."""


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, Unreachable | ServerBusy)
