"""The staff console's calls: sign-in, sittings, codes, the live room, actions, the log, records and results.

The staff wire types are imported inside each call, never at import: a student's player loads this module (its
client has these methods too) but must not load `sync.staff_protocol` (memory, start-up)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import quote

from pydantic import ValidationError

from sync.client.errors import ClientError, Refused
from sync.client.transport import Transport, build, list_of, seg
from sync.protocol import InstructionKind, LogDetailValue, SittingLogAction, SittingLogEventIn

if TYPE_CHECKING:
    from sync import marking_protocol as mp
    from sync import staff_protocol as sp

Progress = Callable[[int, int], None]
"""`progress(bytes_sent, total_bytes)`, called from the thread doing the upload."""

UPLOAD_CHUNK = 256 * 1024


class _ReportingFile:
    """A file sent as it is read, reporting how much has gone; requests sends its `len()` as Content-Length."""

    def __init__(self, stream: IO[bytes], size: int, progress: Progress | None) -> None:
        self._stream = stream
        self._size = size
        self._sent = 0
        self._progress = progress

    def __len__(self) -> int:
        return self._size

    def read(self, amount: int = -1) -> bytes:
        chunk = self._stream.read(amount)
        self._sent += len(chunk)
        if self._progress is not None and chunk:
            self._progress(self._sent, self._size)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(UPLOAD_CHUNK):
            yield chunk


_EVIDENCE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".pdf": "application/pdf"}


class StaffCalls(Transport):
    """What the invigilator console asks of the server, with a staff member's bearer token."""

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

        return self._call("GET", "/staff/sittings", list_of(sp.SittingOut).validate_python, token=token)

    def sitting(self, token: str, sitting_id: str) -> sp.SittingOut:
        from sync import staff_protocol as sp

        return self._call("GET", f"/staff/sittings/{seg(sitting_id)}", sp.SittingOut.model_validate, token=token)

    def codes(self, token: str, sitting_id: str) -> list[sp.CodeSlipOut]:
        from sync import staff_protocol as sp

        return self._call(
            "GET", f"/staff/sittings/{seg(sitting_id)}/codes", list_of(sp.CodeSlipOut).validate_python, token=token
        )

    def release(self, token: str, allocation_id: str, reason: str, *, reason_kind: sp.ReasonKind) -> sp.AllocationOut:
        """Let the student continue on another machine; the old machine is cut off at once."""
        from sync import staff_protocol as sp

        body = build(sp.ReleaseRequest, reason_kind=reason_kind, reason=reason)
        path = f"/staff/allocations/{seg(allocation_id)}/release"
        return self._call("POST", path, sp.AllocationOut.model_validate, token=token, body=body)

    def room(self, token: str, sitting_id: str) -> sp.RoomView:
        """The live room: every allocated student's state, place, time left and last heartbeat, with counts."""
        from sync import staff_protocol as sp

        return self._call("GET", f"/staff/sittings/{seg(sitting_id)}/room", sp.RoomView.model_validate, token=token)

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

        body = build(sp.ActionIn, kind=kind, seconds=seconds, reason_kind=reason_kind, reason=reason)
        path = f"/staff/allocations/{seg(allocation_id)}/actions"
        return self._call("POST", path, sp.ActionReceipt.model_validate, token=token, body=body)

    def act_on_room(
        self,
        token: str,
        sitting_id: str,
        kind: sp.RoomActionKind,
        *,
        reason_kind: sp.ReasonKind,
        reason: str,
        seconds: int | None = None,
        section_id: str | None = None,
    ) -> list[sp.ActionReceipt]:
        """Pause every student in progress, resume every paused one, add `seconds` for everyone with an open
        attempt, or end section `section_id` for everyone in it; one receipt per student reached."""
        from sync import staff_protocol as sp

        body = build(
            sp.RoomActionIn,
            kind=kind,
            reason_kind=reason_kind,
            reason=reason,
            seconds=seconds,
            section_id=section_id,
        )
        path = f"/staff/sittings/{seg(sitting_id)}/actions"
        return self._call("POST", path, list_of(sp.ActionReceipt).validate_python, token=token, body=body)

    def sitting_log(self, token: str, sitting_id: str) -> list[sp.LogEntry]:
        """Everything staff did in this sitting, oldest first, with who, when and why."""
        from sync import staff_protocol as sp

        return self._call(
            "GET", f"/staff/sittings/{seg(sitting_id)}/log", list_of(sp.LogEntry).validate_python, token=token
        )

    def log_event(
        self, token: str, sitting_id: str, action: SittingLogAction, detail: dict[str, LogDetailValue] | None = None
    ) -> sp.LogEntry:
        """Put an export or print of this sitting's data in its log (who and when come from the token)."""
        from sync import staff_protocol as sp

        body = build(SittingLogEventIn, action=action, detail=detail or {})
        path = f"/staff/sittings/{seg(sitting_id)}/log"
        return self._call("POST", path, sp.LogEntry.model_validate, token=token, body=body)

    def submit_result_code(self, token: str, code: str) -> sp.ResultCodeReceipt:
        """Hand in a result code typed or pasted from a student's computer; safe to repeat (see .duplicate)."""
        from sync import staff_protocol as sp

        body = build(sp.ResultCodeIn, code=code)
        return self._call("POST", "/staff/result-codes", sp.ResultCodeReceipt.model_validate, token=token, body=body)

    def manual(self, token: str, allocation_id: str) -> sp.ManualEntryOut:
        from sync import staff_protocol as sp

        path = f"/staff/allocations/{seg(allocation_id)}/manual"
        return self._call("GET", path, sp.ManualEntryOut.model_validate, token=token)

    def save_manual(self, token: str, allocation_id: str, entry: sp.ManualEntryIn) -> sp.ManualEntryOut:
        """Store the hand-marked dictation values and comments (replacing what was there)."""
        from sync import staff_protocol as sp

        path = f"/staff/allocations/{seg(allocation_id)}/manual"
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
        url = f"/staff/allocations/{seg(allocation_id)}/evidence"
        headers = {"X-Filename": quote(path.name, safe="")}
        return self._call(
            "POST", url, sp.EvidenceOut.model_validate, token=token, raw=(data, mime_type), headers=headers
        )

    def upload_assessment(
        self,
        token: str,
        path: Path,
        *,
        progress: Progress | None = None,
        untimed_section_minutes: int | None = None,
    ) -> sp.AssessmentLoaded:
        """Load a content package (a .zip) onto the server: admins only, and only where the server's operator
        allows it (`serve --content-uploads`; otherwise Refused 403 `content_uploads_off`, saying how content is
        loaded there). The server checks all of it before storing any: Refused 422 `bad_package` names the file,
        the field or line, and what to do. `already_loaded` on the reply: this very content was there already.
        `untimed_section_minutes`: minutes for each section of a QTI package that has no time limit."""
        from sync import staff_protocol as sp

        if path.suffix.lower() != ".zip":
            raise Refused(
                f"{path.name} is not a .zip file; a content package is loaded as the .zip it comes in.",
                status=415,
                error="unsupported_type",
            )
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise ClientError(f"Cannot read {path}: {exc.strerror or exc}. Choose the file again.") from exc
        with stream:
            body = _ReportingFile(stream, os.fstat(stream.fileno()).st_size, progress)
            headers = {"X-Filename": quote(path.name, safe="")}
            return self._call(
                "POST",
                "/staff/assessments"
                + (f"?untimed_section_minutes={untimed_section_minutes}" if untimed_section_minutes else ""),
                sp.AssessmentLoaded.model_validate,
                token=token,
                raw=(body, "application/zip"),
                headers=headers,
            )

    def assessments(self, token: str) -> list[sp.AssessmentOut]:
        """Every assessment loaded on the server (shared by its schools), by package id and version."""
        from sync import staff_protocol as sp

        return self._call("GET", "/staff/assessments", list_of(sp.AssessmentOut).validate_python, token=token)

    def evidence(self, token: str, evidence_id: str) -> bytes:
        """The bytes of an evidence file, as uploaded."""
        with self._send("GET", f"/staff/evidence/{seg(evidence_id)}", token=token) as response:
            return response.content

    def add_incident(self, token: str, sitting_id: str, incident: sp.IncidentIn) -> sp.IncidentOut:
        from sync import staff_protocol as sp

        path = f"/staff/sittings/{seg(sitting_id)}/incidents"
        return self._call("POST", path, sp.IncidentOut.model_validate, token=token, body=incident)

    def incidents(self, token: str, sitting_id: str) -> list[sp.IncidentOut]:
        from sync import staff_protocol as sp

        path = f"/staff/sittings/{seg(sitting_id)}/incidents"
        return self._call("GET", path, list_of(sp.IncidentOut).validate_python, token=token)

    def sitting_results(self, token: str, sitting_id: str) -> list[sp.ResultOut]:
        from sync import staff_protocol as sp

        return self._call(
            "GET", f"/staff/sittings/{seg(sitting_id)}/results", list_of(sp.ResultOut).validate_python, token=token
        )

    def hand_marking(self, token: str, sitting_id: str) -> mp.HandMarkingSheet:
        """The sitting's answers to mark by hand, item by item, each with the mark it has now."""
        from sync import marking_protocol as mp

        path = f"/staff/sittings/{seg(sitting_id)}/hand-marking"
        return self._call("GET", path, mp.HandMarkingSheet.model_validate, token=token)

    def give_hand_mark(
        self, token: str, result_id: str, item_id: str, score: float, *, replaces: int | None
    ) -> mp.HandMarkOut:
        """Mark one answer; `replaces` is the id of the mark shown to the marker (None when there was none)."""
        from sync import marking_protocol as mp

        body = build(mp.HandMarkIn, score=score, replaces=replaces)
        path = f"/staff/results/{seg(result_id)}/hand-marks/{seg(item_id)}"
        return self._call("PUT", path, mp.HandMarkOut.model_validate, token=token, body=body)


def _too_big(filename: str, size: int) -> str:
    from sync import staff_protocol as sp

    limit_mb = sp.MAX_EVIDENCE_BYTES / (1024 * 1024)
    return (
        f"{filename} is {size / (1024 * 1024):.1f} MB; evidence files can be at most {limit_mb:g} MB. "
        "Scan at a lower resolution, or save the photo smaller."
    )
