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
- Every error has `.number`, its entry in the error catalogue (docs/errors.md): the server's own for a refusal
  (ErrorBody.number, else looked up by its code), else the client-side entry for its kind; `.problem` is the
  sentence and the number together, as a screen shows them.
"""

from __future__ import annotations

from sync.error_catalogue import Problem, api_number, number_for

NETWORK_HINT = "Check the network, and that this computer is set up for the right server (ask IT)."
SETUP_HINT = (
    "Check that this computer is set up for the right server, and that the app and server versions match (ask IT)."
)
CA_BUNDLE_HINT = (
    "If this school's web filter re-signs secure connections, ask IT to set ca_bundle in this computer's Invigil "
    "config file to the filter's CA certificate (a PEM file; see docs/player-config.md)."
)


class ClientError(Exception):
    """Base of every client error; `str(e)` is a sentence a student or invigilator can act on, `number` its
    catalogue number."""

    def __init__(self, message: str, *, number: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.number = number or number_for(self.catalogue_key)

    catalogue_key = "client.local_file"
    """The entry of an error of this kind when nothing more specific is known (the base: a file the client could
    not read, such as the CA bundle or an upload)."""

    @property
    def problem(self) -> Problem:
        return Problem(self.message, self.number)


class Unreachable(ClientError):
    """No answer from the server: refused, reset, DNS failure, timeout or a certificate this computer does not
    trust. Transient (a background loop keeps trying; an untrusted certificate is fixed by IT, then it works)."""

    catalogue_key = "client.unreachable"

    def __init__(self, server_url: str, what_happened: str, *, hint: str = NETWORK_HINT, tls: bool = False) -> None:
        number = number_for("client.tls_untrusted") if tls else None
        super().__init__(f"Cannot reach the server at {server_url}: {what_happened}. {hint}", number=number)
        self.server_url = server_url
        self.tls = tls
        """The secure connection failed (an untrusted or mismatched certificate), not the network."""


class ServerBusy(ClientError):
    """408, 429 or 5xx: the server is overloaded, rate-limiting or failing. Transient."""

    catalogue_key = "client.server_busy"

    def __init__(
        self, message: str, *, status: int, error: str, retry_after: int | None, number: str | None = None
    ) -> None:
        super().__init__(message, number=number or api_number(error))
        self.status = status
        self.error = error
        self.retry_after = retry_after
        """Seconds the server asked us to wait, or None if it did not say."""


class Refused(ClientError):
    """Any other 4xx: the server will not do this, and asking again unchanged will not help."""

    catalogue_key = "client.refused"

    def __init__(self, message: str, *, status: int, error: str, number: str | None = None) -> None:
        # The server's number when it sent one; else the code's entry (a refusal the client makes itself, or an
        # older server's); else the entry for a code this client does not know.
        super().__init__(message, number=number or api_number(error))
        self.status = status
        self.error = error
        """The server's stable code, e.g. "unknown_code", "in_use_elsewhere", "bad_credentials"."""


class BadReply(ClientError):
    """A reply that is not what the protocol says: not JSON, the wrong shape, or a redirect."""

    catalogue_key = "client.bad_reply"


class MediaCorrupt(ClientError):
    """A downloaded media file does not match its size or content hash (nothing was cached)."""

    catalogue_key = "client.media_corrupt"


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, Unreachable | ServerBusy)
