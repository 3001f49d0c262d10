"""HTTP client to the central server (player and staff console): timeouts, typed errors, verified media; no Qt.

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

import email.utils
import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel, TypeAdapter, ValidationError

from sync import accesscode
from sync.mediacache import MediaCache, MediaMismatch
from sync.protocol import (
    API_PREFIX,
    MAX_BATCH_ENVELOPES,
    BatchItemReceipt,
    Checkpoint,
    ErrorBody,
    Heartbeat,
    HeartbeatReply,
    InstructionKind,
    LogDetailValue,
    LoginRequest,
    LoginResponse,
    MediaRef,
    ResultBatch,
    ResultBatchReply,
    ResultEnvelope,
    ResultReceipt,
    SittingLogAction,
    SittingLogEventIn,
)

if TYPE_CHECKING:
    # Only the staff console needs these: each staff method imports them when called, so a student's player
    # never loads the staff wire types (memory, start-up).
    from sync import staff_protocol as sp

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

NETWORK_HINT = "Check the network, and that this computer is set up for the right server (ask IT)."
SETUP_HINT = (
    "Check that this computer is set up for the right server, and that the app and server versions match (ask IT)."
)
CA_BUNDLE_HINT = (
    "If this school's web filter re-signs secure connections, ask IT to set ca_bundle in this computer's Invigil "
    "config file to the filter's CA certificate (a PEM file; see docs/player-config.md)."
)
MACHINE_HEADER = "X-Invigil-Machine"
"""Names the computer on every request from a client that knows its machine id (player and staff console alike),
so a proxy's log can be matched to a machine; percent-encoded, as headers are ASCII. The server does not read it
(yet): a student's login carries the machine id in its body, which is what the server keeps."""
MEDIA_RETRIES = 2
"""A failed media download (transient errors only) is tried this many more times."""
RETRY_BACKOFF_SECONDS = (0.5, 2.0)
MAX_RETRY_WAIT_SECONDS = 10.0
"""A Retry-After longer than this is not waited out inside one call; the error goes to the caller."""
_CHUNK = 1 << 16

_EVIDENCE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".pdf": "application/pdf"}


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


def user_agent() -> str:
    try:
        version = metadata.version("invigil")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"invigil/{version}"


def _problems(exc: ValidationError) -> str:
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


def client_for(
    server_url: str, *, machine_id: str | None, timeout: float, ca_bundle: str | Path | None
) -> InvigilClient:
    """The client every production caller builds (the player, its uploader, the staff console, the bench), so
    none of them forgets the machine id or the school's CA bundle: a console built without the bundle fails at
    a school whose web filter re-signs TLS while the students' players work.

    `ca_bundle`: a PEM file of CA certificates to trust instead of the system's (None: the system's)."""
    verify: str | bool = str(ca_bundle) if ca_bundle is not None else True
    return InvigilClient(server_url, machine_id=machine_id, timeout=timeout, verify=verify)


class InvigilClient:
    """One server over one requests.Session. Sessions are not thread-safe: give each thread its own client."""

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

    def __enter__(self) -> InvigilClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session if this client made it (a session passed in belongs to the caller)."""
        if self._owns_session:
            self._session.close()

    # ---- player ---------------------------------------------------------------------------------

    def login(self, access_code: str) -> LoginResponse:
        try:
            request = LoginRequest(access_code=access_code, machine_id=self.machine_id)
        except ValidationError as exc:
            # Only an absurdly long code fails here; say what the server would say about it.
            try:
                accesscode.normalize(access_code)
            except accesscode.AccessCodeFormatError as bad:
                raise Refused(str(bad), status=401, error="malformed_code") from exc
            raise Refused(f"The request is not valid: {_problems(exc)}.", status=422, error="invalid_request") from exc
        return self._call("POST", "/login", LoginResponse.model_validate, body=request)

    def fetch_media(self, attempt_id: str, token: str, ref: MediaRef, cache: MediaCache) -> Path:
        """The verified file for `ref`: from the cache if it is there and intact, else downloaded into it."""
        if cache.has_valid(ref):
            return cache.path_for(ref.sha256)
        path = f"/attempts/{_seg(attempt_id)}/media/{_seg(ref.sha256)}"
        for tries in range(MEDIA_RETRIES + 1):
            try:
                return self._download(path, token, ref, cache)
            except (Unreachable, ServerBusy) as exc:
                wait = self._retry_wait(exc, tries)
                if wait is None:
                    raise
                log.info("media %s: %s; trying again in %.1f s", ref.sha256[:12], type(exc).__name__, wait)
                self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def fetch_all_media(
        self, login: LoginResponse, cache: MediaCache, *, progress: Callable[[int, int], None] | None = None
    ) -> dict[str, Path]:
        """Every media file of the assessment, by sha256. `progress(files_done, files_total)` after each file."""
        refs: dict[str, MediaRef] = {}
        for section in login.assessment.sections:
            for item in section.items:
                for ref in item.media:
                    refs.setdefault(ref.sha256, ref)
        paths: dict[str, Path] = {}
        if progress is not None:
            progress(0, len(refs))
        for done, ref in enumerate(refs.values(), start=1):
            paths[ref.sha256] = self.fetch_media(login.attempt_id, login.attempt_token, ref, cache)
            if progress is not None:
                progress(done, len(refs))
        return paths

    def put_checkpoint(self, attempt_id: str, token: str, checkpoint: Checkpoint) -> None:
        self._send("PUT", f"/attempts/{_seg(attempt_id)}/checkpoint", token=token, body=checkpoint).close()

    def heartbeat(self, attempt_id: str, token: str, beat: Heartbeat) -> HeartbeatReply:
        path = f"/attempts/{_seg(attempt_id)}/heartbeat"
        return self._call("POST", path, HeartbeatReply.model_validate, token=token, body=beat)

    def submit_result(self, attempt_id: str, token: str, envelope: ResultEnvelope) -> ResultReceipt:
        """Send a result envelope; safe to repeat (the server keys it by idempotency_key, see .duplicate)."""
        path = f"/attempts/{_seg(attempt_id)}/results"
        return self._call("POST", path, ResultReceipt.model_validate, token=token, body=envelope)

    def submit_results(
        self, attempt_id: str, token: str, envelopes: Sequence[ResultEnvelope]
    ) -> list[BatchItemReceipt]:
        """Send up to MAX_BATCH_ENVELOPES envelopes of one attempt in one request; one item per envelope, in order.

        Safe to repeat, like `submit_result`. An item's `status` is 200 (see `.receipt.duplicate`) or the
        refusal that envelope alone got (`.error`, e.g. 409 idempotency_conflict); the others are unaffected.
        A refusal of the whole request (e.g. 401, or 404 from a server without the batch route) raises.
        """
        body = _build(ResultBatch, envelopes=list(envelopes))
        return self._submit_batch(
            attempt_id, token, body.model_dump_json().encode(), [e.idempotency_key for e in envelopes]
        )

    def submit_result_bodies(
        self, attempt_id: str, token: str, bodies: Sequence[tuple[str, str]]
    ) -> list[BatchItemReceipt]:
        """`submit_results` for envelopes already held as JSON text: (idempotency key, `ResultEnvelope` JSON) each.

        The texts go into the request as they are, neither parsed nor written again: the outbox keeps each
        envelope as the JSON committed when its section ended, and this sends it byte for byte. The server
        validates the request as usual: a text that is not a valid envelope gets its own 422 item and the others
        are stored; only one whose key cannot be read makes it refuse the whole request (422 invalid_request)
        with nothing stored, and the caller can then check and send them one by one.
        """
        if not 1 <= len(bodies) <= MAX_BATCH_ENVELOPES:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH_ENVELOPES} envelopes, not {len(bodies)}")
        data = b'{"envelopes":[' + ",".join(text for _, text in bodies).encode() + b"]}"
        return self._submit_batch(attempt_id, token, data, [key for key, _ in bodies])

    def _submit_batch(self, attempt_id: str, token: str, data: bytes, keys: list[str]) -> list[BatchItemReceipt]:
        path = f"/attempts/{_seg(attempt_id)}/results/batch"
        with self._send("POST", path, token=token, raw=(data, "application/json")) as response:
            # Parsed and validated in one step from the bytes (not json.loads and then validated again).
            try:
                reply = ResultBatchReply.model_validate_json(response.content)
            except ValidationError as exc:
                if any(e["type"] == "json_invalid" for e in exc.errors()):
                    kind = response.headers.get("Content-Type", "no content type")
                    raise self._bad_reply(
                        path, f"{response.status_code} with a body that is not JSON ({kind})"
                    ) from exc
                raise self._bad_reply(path, _problems(exc)) from exc
        if [item.idempotency_key for item in reply.items] != keys:
            raise self._bad_reply(path, f"{len(reply.items)} receipts for {len(keys)} envelopes, or not in order")
        return reply.items

    # ---- staff ----------------------------------------------------------------------------------

    def staff_login(self, username: str, password: str) -> sp.StaffLoginResponse:
        from sync import staff_protocol as sp

        try:
            request = sp.StaffLoginRequest(username=username, password=password)
        except ValidationError as exc:
            raise Refused(
                "Enter your username and password (a password is at most 500 characters).",
                status=422,
                error="invalid_request",
            ) from exc
        return self._call("POST", "/staff/login", sp.StaffLoginResponse.model_validate, body=request)

    def staff_logout(self, token: str) -> None:
        self._send("POST", "/staff/logout", token=token).close()

    def sittings(self, token: str) -> list[sp.SittingOut]:
        from sync import staff_protocol as sp

        return self._call("GET", "/staff/sittings", _list_of(sp.SittingOut).validate_python, token=token)

    def sitting(self, token: str, sitting_id: str) -> sp.SittingOut:
        from sync import staff_protocol as sp

        return self._call("GET", f"/staff/sittings/{_seg(sitting_id)}", sp.SittingOut.model_validate, token=token)

    def codes(self, token: str, sitting_id: str) -> list[sp.CodeSlipOut]:
        from sync import staff_protocol as sp

        return self._call(
            "GET", f"/staff/sittings/{_seg(sitting_id)}/codes", _list_of(sp.CodeSlipOut).validate_python, token=token
        )

    def release(self, token: str, allocation_id: str, reason: str, *, reason_kind: sp.ReasonKind) -> sp.AllocationOut:
        """Let the student continue on another machine; the old machine is cut off at once."""
        from sync import staff_protocol as sp

        body = _build(sp.ReleaseRequest, reason_kind=reason_kind, reason=reason)
        path = f"/staff/allocations/{_seg(allocation_id)}/release"
        return self._call("POST", path, sp.AllocationOut.model_validate, token=token, body=body)

    def room(self, token: str, sitting_id: str) -> sp.RoomView:
        """The live room: every allocated student's state, place, time left and last heartbeat, with counts."""
        from sync import staff_protocol as sp

        return self._call("GET", f"/staff/sittings/{_seg(sitting_id)}/room", sp.RoomView.model_validate, token=token)

    def act(
        self,
        token: str,
        allocation_id: str,
        kind: InstructionKind,
        *,
        reason_kind: sp.ReasonKind,
        reason: str,
        seconds: int | None = None,
    ) -> sp.ActionReceipt:
        """Pause, resume, add time to (seconds 60..3600) or end the section of one student; reaches the player
        in its next heartbeat."""
        from sync import staff_protocol as sp

        body = _build(sp.ActionIn, kind=kind, seconds=seconds, reason_kind=reason_kind, reason=reason)
        path = f"/staff/allocations/{_seg(allocation_id)}/actions"
        return self._call("POST", path, sp.ActionReceipt.model_validate, token=token, body=body)

    def act_on_room(
        self, token: str, sitting_id: str, kind: sp.RoomActionKind, *, reason_kind: sp.ReasonKind, reason: str
    ) -> list[sp.ActionReceipt]:
        """Pause every student in progress, or resume every paused one; one receipt per student reached."""
        from sync import staff_protocol as sp

        body = _build(sp.RoomActionIn, kind=kind, reason_kind=reason_kind, reason=reason)
        path = f"/staff/sittings/{_seg(sitting_id)}/actions"
        return self._call("POST", path, _list_of(sp.ActionReceipt).validate_python, token=token, body=body)

    def sitting_log(self, token: str, sitting_id: str) -> list[sp.LogEntry]:
        """Everything staff did in this sitting, oldest first, with who, when and why."""
        from sync import staff_protocol as sp

        return self._call(
            "GET", f"/staff/sittings/{_seg(sitting_id)}/log", _list_of(sp.LogEntry).validate_python, token=token
        )

    def log_event(
        self, token: str, sitting_id: str, action: SittingLogAction, detail: dict[str, LogDetailValue] | None = None
    ) -> sp.LogEntry:
        """Put an export or print of this sitting's data in its log (who and when come from the token)."""
        from sync import staff_protocol as sp

        body = _build(SittingLogEventIn, action=action, detail=detail or {})
        path = f"/staff/sittings/{_seg(sitting_id)}/log"
        return self._call("POST", path, sp.LogEntry.model_validate, token=token, body=body)

    def submit_result_code(self, token: str, code: str) -> sp.ResultCodeReceipt:
        """Hand in a result code typed or pasted from a student's computer; safe to repeat (see .duplicate)."""
        from sync import staff_protocol as sp

        body = _build(sp.ResultCodeIn, code=code)
        return self._call("POST", "/staff/result-codes", sp.ResultCodeReceipt.model_validate, token=token, body=body)

    def manual(self, token: str, allocation_id: str) -> sp.ManualEntryOut:
        from sync import staff_protocol as sp

        path = f"/staff/allocations/{_seg(allocation_id)}/manual"
        return self._call("GET", path, sp.ManualEntryOut.model_validate, token=token)

    def save_manual(self, token: str, allocation_id: str, entry: sp.ManualEntryIn) -> sp.ManualEntryOut:
        """Store the hand-marked dictation values and comments (replacing what was there)."""
        from sync import staff_protocol as sp

        path = f"/staff/allocations/{_seg(allocation_id)}/manual"
        return self._call("PUT", path, sp.ManualEntryOut.model_validate, token=token, body=entry)

    def upload_evidence(self, token: str, allocation_id: str, path: Path) -> sp.EvidenceOut:
        """Upload a PNG, JPEG or PDF of written work (at most MAX_EVIDENCE_BYTES); the server checks its content."""
        from sync import staff_protocol as sp

        mime_type = _EVIDENCE_SUFFIXES.get(path.suffix.lower())
        if mime_type is None:
            raise Refused(
                f"{path.name} is not a PNG, JPEG or PDF file; scan or photograph the work as one of those.",
                status=415,
                error="unsupported_type",
            )
        try:
            size = path.stat().st_size
            if size > sp.MAX_EVIDENCE_BYTES:
                raise Refused(_too_big(path.name, size), status=413, error="too_large")
            data = path.read_bytes()
        except OSError as exc:
            raise ClientError(f"Cannot read {path}: {exc.strerror or exc}. Choose the file again.") from exc
        url = f"/staff/allocations/{_seg(allocation_id)}/evidence"
        headers = {"X-Filename": quote(path.name, safe="")}
        return self._call(
            "POST", url, sp.EvidenceOut.model_validate, token=token, raw=(data, mime_type), headers=headers
        )

    def evidence(self, token: str, evidence_id: str) -> bytes:
        """The bytes of an evidence file, as uploaded."""
        with self._send("GET", f"/staff/evidence/{_seg(evidence_id)}", token=token) as response:
            return response.content

    def add_incident(self, token: str, sitting_id: str, incident: sp.IncidentIn) -> sp.IncidentOut:
        from sync import staff_protocol as sp

        path = f"/staff/sittings/{_seg(sitting_id)}/incidents"
        return self._call("POST", path, sp.IncidentOut.model_validate, token=token, body=incident)

    def incidents(self, token: str, sitting_id: str) -> list[sp.IncidentOut]:
        from sync import staff_protocol as sp

        path = f"/staff/sittings/{_seg(sitting_id)}/incidents"
        return self._call("GET", path, _list_of(sp.IncidentOut).validate_python, token=token)

    def sitting_results(self, token: str, sitting_id: str) -> list[sp.ResultOut]:
        from sync import staff_protocol as sp

        return self._call(
            "GET", f"/staff/sittings/{_seg(sitting_id)}/results", _list_of(sp.ResultOut).validate_python, token=token
        )

    # ---- plumbing -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        validate: Callable[[Any], T],
        *,
        token: str | None = None,
        body: BaseModel | None = None,
        raw: tuple[bytes, str] | None = None,
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
                raise self._bad_reply(path, _problems(exc)) from exc

    def _send(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: BaseModel | None = None,
        raw: tuple[bytes, str] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """One request with timeouts; returns a 2xx response or raises the matching ClientError.

        `body` is sent as JSON; `raw` is (bytes, content type) for a file upload.
        """
        url = f"{self.base_url}{API_PREFIX}{path}"
        sent = {"User-Agent": self._user_agent, "Accept": "application/json", **(headers or {})}
        if self.machine_id is not None:
            sent[MACHINE_HEADER] = quote(self.machine_id, safe="")
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data: bytes | None = None
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
        except OSError as exc:
            # requests raises a plain OSError, before connecting, when the CA bundle it was given is not a file.
            if not isinstance(self._verify, str):
                raise
            log.warning("%s %s%s failed: %s", method, API_PREFIX, path, exc)
            raise ClientError(
                f"Cannot connect securely to {self.base_url}: the CA bundle {self._verify} (ca_bundle in "
                "the Invigil config) cannot be read. Ask IT to fix ca_bundle or remove it."
            ) from exc
        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("%s %s%s -> %d (%.0f ms)", method, API_PREFIX, path, response.status_code, elapsed_ms)
        if 200 <= response.status_code < 300:
            return response
        with response:
            raise self._refusal(path, response)

    def _download(self, path: str, token: str, ref: MediaRef, cache: MediaCache) -> Path:
        with self._send("GET", path, token=token, stream=True) as response:

            def chunks() -> Iterator[bytes]:
                try:
                    yield from response.iter_content(_CHUNK)
                except requests.RequestException as exc:
                    raise self._unreachable(exc) from exc

            try:
                return cache.store(ref, chunks())
            except MediaMismatch as exc:
                log.warning("media %s from %s%s is damaged: %s", ref.sha256[:12], API_PREFIX, path, exc)
                raise MediaCorrupt(
                    f"The file {ref.filename} downloaded from {self.base_url} is damaged ({exc}). "
                    "Try again; if it keeps happening, tell IT."
                ) from exc

    def _retry_wait(self, exc: Unreachable | ServerBusy, tries: int) -> float | None:
        """Seconds to wait before the next try, or None to give up and raise."""
        if tries >= MEDIA_RETRIES:
            return None
        if isinstance(exc, ServerBusy) and exc.retry_after is not None:
            return float(exc.retry_after) if exc.retry_after <= MAX_RETRY_WAIT_SECONDS else None
        return RETRY_BACKOFF_SECONDS[min(tries, len(RETRY_BACKOFF_SECONDS) - 1)]

    def _unreachable(self, exc: requests.RequestException) -> Unreachable:
        if isinstance(exc, requests.exceptions.SSLError):
            return self._untrusted(exc)
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

    def _untrusted(self, exc: requests.exceptions.SSLError) -> Unreachable:
        text = str(exc)
        host = urlsplit(self.base_url).hostname or self.base_url
        if "mismatch" in text.lower():
            what = f"its certificate is not for {host}"
            return Unreachable(
                self.base_url,
                what,
                hint=f"Check that server_url names the server as its certificate does (ask IT). {CA_BUNDLE_HINT}",
            )
        if "CERTIFICATE_VERIFY_FAILED" in text:
            what = "this computer does not trust the server's certificate"
            if isinstance(self._verify, str):
                what += f" (not signed by a CA in the ca_bundle file {self._verify})"
            return Unreachable(self.base_url, what, hint=CA_BUNDLE_HINT)
        return Unreachable(self.base_url, "the secure (TLS) connection could not be set up", hint=CA_BUNDLE_HINT)

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
                return ServerBusy(body.message, status=status, error=body.error, retry_after=retry_after)
            when = f"in {retry_after} seconds" if retry_after is not None else "in a minute"
            return ServerBusy(
                f"The server at {self.base_url} is busy or has a problem (HTTP {status}). Try again {when}; "
                "if it keeps happening, tell your invigilator or IT.",
                status=status,
                error=f"http_{status}",
                retry_after=retry_after,
            )
        if body is not None:
            return Refused(body.message, status=status, error=body.error)
        return Refused(
            f"The server at {self.base_url} refused the request (HTTP {status}) without saying why. {SETUP_HINT}",
            status=status,
            error=f"http_{status}",
        )


@functools.cache
def _list_of(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    """A validator for a list of `model` (built on first use, like the staff types it is for)."""
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _build(model: type[M], **fields: Any) -> M:
    """A request body built here, so a bad field is refused with the server's wording before anything is sent."""
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()[:5]
        )
        raise Refused(f"The request is not valid: {problems}.", status=422, error="invalid_request") from exc


def _too_big(filename: str, size: int) -> str:
    from sync import staff_protocol as sp

    limit_mb = sp.MAX_EVIDENCE_BYTES / (1024 * 1024)
    return (
        f"{filename} is {size / (1024 * 1024):.1f} MB; evidence files can be at most {limit_mb:g} MB. "
        "Scan at a lower resolution, or save the photo smaller."
    )


def _seg(value: str) -> str:
    # Ids go into the path; quoting every character that is not plain keeps "../" or "?" from changing the route.
    return quote(value, safe="")


def _looks_like_dns(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(
        s in text for s in ("name or service not known", "nodename nor servname", "getaddrinfo", "name resolution")
    )
