"""A student's calls: login, media (verified, retried), checkpoints, heartbeats and results."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import requests
from pydantic import ValidationError

from sync import accesscode
from sync.client.errors import MediaCorrupt, Refused, ServerBusy, Unreachable
from sync.client.transport import Transport, build, problems, seg
from sync.mediacache import MediaCache, MediaMismatch
from sync.protocol import (
    API_PREFIX,
    MAX_BATCH_ENVELOPES,
    BatchItemReceipt,
    Checkpoint,
    Heartbeat,
    HeartbeatReply,
    LoginRequest,
    LoginResponse,
    MediaRef,
    ResultBatch,
    ResultBatchReply,
    ResultEnvelope,
    ResultReceipt,
)

log = logging.getLogger(__name__)

MEDIA_RETRIES = 2
"""A failed media download (transient errors only) is tried this many more times."""
RETRY_BACKOFF_SECONDS = (0.5, 2.0)
MAX_RETRY_WAIT_SECONDS = 10.0
"""A Retry-After longer than this is not waited out inside one call; the error goes to the caller."""
_CHUNK = 1 << 16


class PlayerCalls(Transport):
    """What a student's player asks of the server (the staff console's calls are in StaffCalls)."""

    def login(self, access_code: str) -> LoginResponse:
        try:
            request = LoginRequest(access_code=access_code, machine_id=self.machine_id)
        except ValidationError as exc:
            # Only an absurdly long code fails here; say what the server would say about it.
            try:
                accesscode.normalize(access_code)
            except accesscode.AccessCodeFormatError as bad:
                raise Refused(str(bad), status=401, error="malformed_code") from exc
            raise Refused(f"The request is not valid: {problems(exc)}.", status=422, error="invalid_request") from exc
        return self._call("POST", "/login", LoginResponse.model_validate, body=request)

    def fetch_media(self, attempt_id: str, token: str, ref: MediaRef, cache: MediaCache) -> Path:
        """The verified file for `ref`: from the cache if it is there and intact, else downloaded into it."""
        if cache.has_valid(ref):
            return cache.path_for(ref.sha256)
        path = f"/attempts/{seg(attempt_id)}/media/{seg(ref.sha256)}"
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
        self._send("PUT", f"/attempts/{seg(attempt_id)}/checkpoint", token=token, body=checkpoint).close()

    def heartbeat(self, attempt_id: str, token: str, beat: Heartbeat) -> HeartbeatReply:
        path = f"/attempts/{seg(attempt_id)}/heartbeat"
        return self._call("POST", path, HeartbeatReply.model_validate, token=token, body=beat)

    def submit_result(self, attempt_id: str, token: str, envelope: ResultEnvelope) -> ResultReceipt:
        """Send a result envelope; safe to repeat (the server keys it by idempotency_key, see .duplicate)."""
        path = f"/attempts/{seg(attempt_id)}/results"
        return self._call("POST", path, ResultReceipt.model_validate, token=token, body=envelope)

    def submit_results(
        self, attempt_id: str, token: str, envelopes: Sequence[ResultEnvelope]
    ) -> list[BatchItemReceipt]:
        """Send up to MAX_BATCH_ENVELOPES envelopes of one attempt in one request; one item per envelope, in order.

        Safe to repeat, like `submit_result`. An item's `status` is 200 (see `.receipt.duplicate`) or the
        refusal that envelope alone got (`.error`, e.g. 409 idempotency_conflict); the others are unaffected.
        A refusal of the whole request (e.g. 401, or 404 from a server without the batch route) raises.
        """
        body = build(ResultBatch, envelopes=list(envelopes))
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
        path = f"/attempts/{seg(attempt_id)}/results/batch"
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
                raise self._bad_reply(path, problems(exc)) from exc
        if [item.idempotency_key for item in reply.items] != keys:
            raise self._bad_reply(path, f"{len(reply.items)} receipts for {len(keys)} envelopes, or not in order")
        return reply.items

    # ---- media downloads ------------------------------------------------------------------------

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
