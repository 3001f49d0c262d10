"""The section clock between journal checkpoints: a tiny file rewritten every tick, so a crash costs under 1 s.

The journal checkpoints the clock every few seconds with an fsync (synchronous=FULL). Between those, every tick of
the player writes the time left here: one in-place write of a fixed-size record, no fsync, no SQLite. A killed
process loses nothing the kernel already has, so after `kill -9` the player resumes from this record, at most one
tick (0.25 s) in the student's favour. A power cut may lose or tear the record: then its checksum fails or it names
an older journal checkpoint, and the journal's own checkpoint is used, which is older and so also in the student's
favour. It shares nothing with the journal's file or locks, so it cannot slow or weaken an answer's save.

A record is only believed against the checkpoint it was taken after (same attempt, section and checkpoint time) and
never when it says more time is left than that checkpoint did: an old record that survives a power cut beside a
newer checkpoint (extra time given since, or a new section) is ignored rather than taking time away.
"""

from __future__ import annotations

import json
import logging
import math
import os
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from player.offline_queue.journal import StoredAttempt

log = logging.getLogger(__name__)

TIME_LEFT_FILE_NAME = "time-left"
RECORD_BYTES = 512
"""Every record is padded to this size, so a shorter record overwrites all of a longer one in one write."""


@dataclass(frozen=True)
class TimeLeft:
    attempt_id: str
    section_id: str
    checkpoint_at: datetime
    """The journal checkpoint this was measured after (StoredAttempt.checkpoint_at)."""
    left_ms: int
    """Milliseconds left in the section when written, rounded up."""


def time_left_path(data_dir: Path) -> Path:
    return data_dir / TIME_LEFT_FILE_NAME


class TimeLeftRecord:
    """The record file of one data folder; opened on first write and kept open (one pwrite per tick)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._failed = False

    @property
    def path(self) -> Path:
        return self._path

    def write(self, attempt_id: str, section_id: str, checkpoint_at: datetime, left_seconds: float) -> None:
        """Record the time left; a failure is logged once and the journal's checkpoints carry on alone."""
        payload = json.dumps(
            {
                "attempt": attempt_id,
                "section": section_id,
                "checkpoint_at": checkpoint_at.isoformat(),
                "left_ms": max(0, math.ceil(left_seconds * 1000)),
            },
            separators=(",", ":"),
        )
        line = f"{zlib.crc32(payload.encode()):08x} {payload}\n".encode()
        if len(line) > RECORD_BYTES:
            self._fail(f"a record of {len(line)} bytes does not fit in {RECORD_BYTES}")
            return
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.pwrite(self._fd, line.ljust(RECORD_BYTES, b" "), 0)
        except OSError as exc:
            self._fail(str(exc))

    def _fail(self, reason: str) -> None:
        if not self._failed:
            # Once: a full disk would otherwise log four times a second. Resuming falls back to the journal.
            log.warning(
                "Cannot record the time left in %s (%s); a restart uses the last checkpoint", self._path, reason
            )
            self._failed = True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def read(self) -> TimeLeft | None:
        """The record as written, or None when there is none or it is torn (its checksum does not match)."""
        try:
            raw = self._path.read_bytes()[:RECORD_BYTES]
        except OSError:
            return None
        checksum, _, payload = raw.decode("utf-8", errors="replace").strip().partition(" ")
        try:
            if int(checksum, 16) != zlib.crc32(payload.encode()):
                return None
            fields = json.loads(payload)
            return TimeLeft(
                attempt_id=str(fields["attempt"]),
                section_id=str(fields["section"]),
                checkpoint_at=datetime.fromisoformat(fields["checkpoint_at"]),
                left_ms=int(fields["left_ms"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def left_after(
        self, *, attempt_id: str, section_id: str | None, checkpoint_at: datetime | None, checkpoint_ms: int | None
    ) -> float | None:
        """Seconds left by the record, if it was taken after exactly this checkpoint and is not above it; else None."""
        record = self.read()
        if record is None or checkpoint_at is None or checkpoint_ms is None:
            return None
        if (record.attempt_id, record.section_id, record.checkpoint_at) != (attempt_id, section_id, checkpoint_at):
            return None
        if record.left_ms > checkpoint_ms:
            log.warning("Time-left record above its checkpoint (%d > %d ms); ignored", record.left_ms, checkpoint_ms)
            return None
        return record.left_ms / 1000


def time_left_at_resume(attempt: StoredAttempt, record: TimeLeftRecord | None) -> float | None:
    """Seconds left in the attempt's current section on a restart: the tick's record when it follows the journal's
    last checkpoint (a kill -9 or a crash), else that checkpoint's own (None: the attempt was never checkpointed)."""
    kept = attempt.remaining_seconds if attempt.remaining_ms is None else attempt.remaining_ms / 1000
    if record is None or kept is None:
        return kept
    ticked = record.left_after(
        attempt_id=attempt.attempt_id,
        section_id=attempt.current_section_id,
        checkpoint_at=attempt.checkpoint_at,
        checkpoint_ms=attempt.remaining_ms,
    )
    return kept if ticked is None else ticked
