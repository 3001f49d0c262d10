"""The client's plumbing: one requests.Session, timeouts, headers, and every failure turned into a typed error."""

from __future__ import annotations

import email.utils
import functools
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel, TypeAdapter, ValidationError
from urllib3.exceptions import LocationValueError

from sync.client.errors import CA_BUNDLE_HINT, SETUP_HINT, BadReply, ClientError, Refused, ServerBusy, Unreachable
from sync.error_catalogue import number_for
from sync.protocol import API_PREFIX, ErrorBody

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

MACHINE_HEADER = "X-Invigil-Machine"
"""Names the computer on every request from a client that knows its machine id (player and staff console alike),
so a proxy's log can be matched to a machine; percent-encoded, as headers are ASCII. The server does not read it
(yet): a student's login carries the machine id in its body, which is what the server keeps."""


def user_agent() -> str:
    try:
        version = metadata.version("invigil")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"invigil/{version}"


def problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in exc.errors()[:3])


def _retry_after(response: requests.Response, body: ErrorBody | None) -> int | None:
    raw = response.headers.get("Retry-After", "").strip()
    if raw.isdigit():
        return int(raw)
    if raw:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0, int((when - datetime.now(UTC)).total_seconds() + 0.999))
    return body.retry_after_seconds if body is not None else None


class Transport:
    """One server over one requests.Session: sends a request, returns a 2xx reply or raises a ClientError.

    The player's and the staff's calls are built on it (sync.client.player, sync.client.staff)."""

    def __init__(
        self,
        base_url: str,
        *,
        machine_id: str | None = None,
        timeout: float = 10.0,
        session: requests.Session | None = None,
        verify: str | bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"The server address {base_url!r} is not an http(s) address like https://invigil.example.org."
            )
        self.base_url = base_url.strip().rstrip("/")
        self.machine_id = machine_id
        self.timeout = timeout
        self._session = session or requests.Session()
        self._owns_session = session is None
        self._verify: str | bool | None = None
        """Given with every request: requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE in the environment (set
        on many managed machines) override a session's own `verify`, which would silently drop the school's CA."""
        if self._owns_session:
            # A CA bundle path for a school proxy that re-signs TLS; True uses the system's trusted roots.
            self._session.verify = self._verify = verify
        self._sleep = sleep
        self._user_agent = user_agent()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session if this client made it (a session passed in belongs to the caller)."""
        if self._owns_session:
            self._session.close()

    def _call(
        self,
        method: str,
        path: str,
        validate: Callable[[Any], T],
        *,
        token: str | None = None,
        body: BaseModel | None = None,
        raw: tuple[bytes | Iterable[bytes], str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> T:
        with self._send(method, path, token=token, body=body, raw=raw, headers=headers) as response:
            try:
                data = response.json()
            except ValueError as exc:
                kind = response.headers.get("Content-Type", "no content type")
                raise self._bad_reply(path, f"{response.status_code} with a body that is not JSON ({kind})") from exc
            try:
                return validate(data)
            except ValidationError as exc:
                raise self._bad_reply(path, problems(exc)) from exc

    def _send(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: BaseModel | None = None,
        raw: tuple[bytes | Iterable[bytes], str] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """One request with timeouts; returns a 2xx response or raises the matching ClientError.

        `body` is sent as JSON; `raw` is (bytes, content type) for a file upload, or (a stream of bytes with
        `__len__` and `read`, content type) for one sent as it is read.
        """
        url = f"{self.base_url}{API_PREFIX}{path}"
        sent = {"User-Agent": self._user_agent, "Accept": "application/json", **(headers or {})}
        if self.machine_id is not None:
            sent[MACHINE_HEADER] = quote(self.machine_id, safe="")
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data: bytes | Iterable[bytes] | None = None
        if body is not None:
            sent["Content-Type"] = "application/json"
            data = body.model_dump_json().encode()
        elif raw is not None:
            data, sent["Content-Type"] = raw
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                url,
                data=data,
                headers=sent,
                timeout=(self.timeout, self.timeout),
                allow_redirects=False,
                stream=stream,
                verify=self._verify,
            )
        except requests.RequestException as exc:
            log.info("%s %s%s failed: %s", method, API_PREFIX, path, type(exc).__name__)
            raise self._unreachable(exc) from exc
        except LocationValueError as exc:
            # urllib3 checks a host name's labels only when connecting, and requests passes that error on as it is.
            log.info("%s %s%s failed: %s", method, API_PREFIX, path, type(exc).__name__)
            raise self._bad_address() from exc
        except OSError as exc:
            # requests raises a plain OSError, before connecting, when the CA bundle it was given is not a file.
            if not isinstance(self._verify, str):
                raise
            log.warning("%s %s%s failed: %s", method, API_PREFIX, path, exc)
            raise ClientError(
                f"Cannot connect securely to {self.base_url}: the CA bundle {self._verify} (ca_bundle in "
                "the Invigil config) cannot be read. Ask IT to fix ca_bundle or remove it.",
                number=number_for("client.tls_untrusted"),
            ) from exc
        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("%s %s%s -> %d (%.0f ms)", method, API_PREFIX, path, response.status_code, elapsed_ms)
        if 200 <= response.status_code < 300:
            return response
        with response:
            raise self._refusal(path, response)

    def _unreachable(self, exc: requests.RequestException) -> Unreachable:
        if isinstance(exc, requests.exceptions.SSLError):
            return self._untrusted(exc)
        if isinstance(exc, requests.exceptions.InvalidURL):
            return self._bad_address()
        if isinstance(exc, requests.ConnectTimeout):
            what = f"no connection within {self.timeout:g} seconds"
        elif isinstance(exc, requests.Timeout):
            what = f"it did not answer within {self.timeout:g} seconds"
        elif isinstance(exc, requests.ConnectionError) and "refused" in str(exc).lower():
            what = "the connection was refused"
        elif isinstance(exc, requests.ConnectionError) and _looks_like_dns(exc):
            what = "the server name could not be found"
        else:
            what = "the connection failed"
        return Unreachable(self.base_url, what)

    def _bad_address(self) -> Unreachable:
        return Unreachable(
            self.base_url,
            "its address is not valid",
            hint="Check the address, and ask IT to correct server_url in this computer's Invigil config "
            "(see docs/player-config.md).",
        )

    def _untrusted(self, exc: requests.exceptions.SSLError) -> Unreachable:
        text = str(exc)
        host = urlsplit(self.base_url).hostname or self.base_url
        if "mismatch" in text.lower():
            what = f"its certificate is not for {host}"
            return Unreachable(
                self.base_url,
                what,
                hint=f"Check that server_url names the server as its certificate does (ask IT). {CA_BUNDLE_HINT}",
                tls=True,
            )
        if "CERTIFICATE_VERIFY_FAILED" in text:
            what = "this computer does not trust the server's certificate"
            if isinstance(self._verify, str):
                what += f" (not signed by a CA in the ca_bundle file {self._verify})"
            return Unreachable(self.base_url, what, hint=CA_BUNDLE_HINT, tls=True)
        return Unreachable(
            self.base_url, "the secure (TLS) connection could not be set up", hint=CA_BUNDLE_HINT, tls=True
        )

    def _bad_reply(self, path: str, what: str) -> BadReply:
        log.warning("bad reply from %s%s: %s", API_PREFIX, path, what)
        return BadReply(f"The server at {self.base_url} sent a reply Invigil cannot read ({what}). {SETUP_HINT}")

    def _refusal(self, path: str, response: requests.Response) -> ClientError:
        status = response.status_code
        if 300 <= status < 400:
            where = response.headers.get("Location", "nowhere")
            return self._bad_reply(
                path, f"{status}, a redirect to {where}; the address may be wrong, or the network may need a sign-in"
            )
        body: ErrorBody | None
        try:
            body = ErrorBody.model_validate(response.json())
        except (ValueError, ValidationError):
            body = None
        log.info("%s%s refused: %d %s", API_PREFIX, path, status, body.error if body else "(no error body)")
        if status in (408, 429) or status >= 500:
            retry_after = _retry_after(response, body)
            if body is not None:
                return ServerBusy(
                    body.message, status=status, error=body.error, retry_after=retry_after, number=body.number
                )
            when = f"in {retry_after} seconds" if retry_after is not None else "in a minute"
            return ServerBusy(
                f"The server at {self.base_url} is busy or has a problem (HTTP {status}). Try again {when}; "
                "if it keeps happening, tell your invigilator or IT.",
                status=status,
                error=f"http_{status}",
                retry_after=retry_after,
            )
        if body is not None:
            return Refused(body.message, status=status, error=body.error, number=body.number)
        return Refused(
            f"The server at {self.base_url} refused the request (HTTP {status}) without saying why. {SETUP_HINT}",
            status=status,
            error=f"http_{status}",
        )


@functools.cache
def list_of(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    """A validator for a list of `model` (built on first use, like the staff types it is for)."""
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def build(model: type[M], **fields: Any) -> M:
    """A request body built here, so a bad field is refused with the server's wording before anything is sent."""
    try:
        return model(**fields)
    except ValidationError as exc:
        found = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()[:5]
        )
        raise Refused(f"The request is not valid: {found}.", status=422, error="invalid_request") from exc


def seg(value: str) -> str:
    # Ids go into the path; quoting every character that is not plain keeps "../" or "?" from changing the route.
    return quote(value, safe="")


def _looks_like_dns(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(
        s in text for s in ("name or service not known", "nodename nor servname", "getaddrinfo", "name resolution")
    )
