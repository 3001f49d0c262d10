"""The answer journal: every answer, play, flag, checkpoint and section end, committed before it is shown."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    # Types only: pydantic, sqlite-utils and the wire types cost ~250 ms to import, and the player imports this
    # module before its first paint; the code that needs them at run time imports them where it runs.
    import sqlite3

    import sqlite_utils

    from player.offline_queue.outbox import Outbox
    from player.offline_queue.plays import PlayRecord
    from sync.protocol import AnswerValue, Checkpoint, LoginResponse

log = logging.getLogger(__name__)

AttemptState = Literal["open", "finished", "moved"]
"""'moved': the invigilator released the code to another machine; never resumed here (its results stay queued)."""


class JournalError(Exception):
    """A journal operation that would break the sitting's record (unknown or finished attempt, bad value)."""


@dataclass(frozen=True)
class StoredAttempt:
    attempt_id: str
    server_url: str
    login: LoginResponse = field(repr=False)
    """Kept out of repr: it carries the attempt token and result secret, which must never reach a log."""
    attempt_token: str = field(repr=False)
    result_secret: str = field(repr=False)
    state: AttemptState
    started_at: datetime
    current_section_id: str | None
    current_item_id: str | None
    remaining_seconds: int | None
    """The remaining time of the current section at the last checkpoint (None: never checkpointed)."""
    remaining_ms: int | None
    """The same in milliseconds (None: a checkpoint from the server or from before 0004_time_left_ms)."""
    checkpoint_at: datetime | None
    finished_sections: tuple[str, ...]
    finished_at: datetime | None
    moved_at: datetime | None = None


@dataclass(frozen=True)
class SavedAnswer:
    attempt_id: str
    item_id: str
    value: AnswerValue
    answered_at: datetime
    seq: int
    """Increases with every change within the attempt: the newest answer has the highest seq."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Journal:
    """One machine's journal; every write is one db.atomic() transaction, durable when it returns."""

    def __init__(self, db: sqlite_utils.Database, *, now: Callable[[], datetime] = _utc_now) -> None:
        self._db = db
        self._now = now

    # ---- attempts ------------------------------------------------------------------------------------

    def start_attempt(self, login: LoginResponse, *, server_url: str) -> StoredAttempt:
        """Record a login. A login to an attempt already open here keeps its answers and position."""
        now = self._timestamp()
        with self._write_transaction():
            existing = self._attempt_row(login.attempt_id)
            if existing is not None and existing["moved_at"] is not None:
                self._reopen_moved(login, server_url=server_url)
            elif existing is not None and existing["state"] == "finished":
                raise JournalError(
                    f"attempt {login.attempt_id} already finished on this computer; "
                    "its results are kept here and it cannot be started again"
                )
            if existing is None:
                self._insert_attempt(login, server_url=server_url, now=now)
            else:
                # A new login brings a fresh token; the progress recorded here is newer than the server's.
                self._db.execute(
                    "UPDATE attempts SET server_url = ?, login = ?, attempt_token = ?, result_secret = ? "
                    "WHERE attempt_id = ?",
                    [server_url, login.model_dump_json(), login.attempt_token, login.result_secret, login.attempt_id],
                )
        log.info("Attempt %s %s", login.attempt_id, "resumed" if existing else "started")
        return self.attempt(login.attempt_id)

    def _reopen_moved(self, login: LoginResponse, *, server_url: str) -> None:
        # The code was moved away and has now been released back to this machine: another machine may have
        # gone on since, so the server's checkpoint (not this journal's old position) says where to resume.
        self._db.execute(
            "UPDATE attempts SET state = 'open', moved_at = NULL, finished_at = NULL, server_url = ?, login = ?, "
            "attempt_token = ?, result_secret = ?, current_section_id = COALESCE(?, current_section_id), "
            "current_item_id = COALESCE(?, current_item_id), remaining_seconds = COALESCE(?, remaining_seconds), "
            "remaining_ms = NULL, checkpoint_at = COALESCE(?, checkpoint_at) WHERE attempt_id = ?",
            [*_credentials(login, server_url), *_server_checkpoint(login), login.attempt_id],
        )
        self._take_plays(login)

    def mark_moved(self, attempt_id: str) -> None:
        """The server says this machine's sign-in was released to another machine: stop the attempt here.

        Nothing in it can change any more and it is never resumed here, but its queued results stay in the
        outbox (staff can still copy their result codes)."""
        with self._write_transaction():
            self._require_open(attempt_id)
            self._db.execute(
                "UPDATE attempts SET state = 'finished', moved_at = ? WHERE attempt_id = ?",
                [self._timestamp(), attempt_id],
            )
        log.info("Attempt %s was moved to another computer; it will not be resumed here", attempt_id)

    def _insert_attempt(self, login: LoginResponse, *, server_url: str, now: str) -> None:
        self._db.execute(
            "INSERT INTO attempts (attempt_id, server_url, login, attempt_token, result_secret, state, "
            "started_at, current_section_id, current_item_id, remaining_seconds, checkpoint_at) "
            "VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)",
            [login.attempt_id, *_credentials(login, server_url), now, *_server_checkpoint(login)],
        )
        self._take_plays(login)

    def _take_plays(self, login: LoginResponse) -> None:
        # Resuming where another machine left off: the server's play counts still limit how often audio may play.
        for item_id, count in (login.checkpoint.plays if login.checkpoint else {}).items():
            self._db.execute(
                "INSERT INTO plays (attempt_id, item_id, count) VALUES (?, ?, ?) "
                "ON CONFLICT (attempt_id, item_id) DO UPDATE SET count = MAX(count, excluded.count)",
                [login.attempt_id, item_id, count],
            )

    def attempt(self, attempt_id: str) -> StoredAttempt:
        row = self._attempt_row(attempt_id)
        if row is None:
            raise JournalError(f"attempt {attempt_id} is not in this computer's journal")
        return _stored_attempt(row)

    def open_attempt_on_this_machine(self) -> StoredAttempt | None:
        """The attempt to resume after a crash: the most recently started one still open here."""
        rows = list(self._db.query("SELECT * FROM attempts WHERE state = 'open' ORDER BY started_at DESC, rowid DESC"))
        if len(rows) > 1:
            log.warning("%d open attempts in the journal; resuming the newest, %s", len(rows), rows[0]["attempt_id"])
        return _stored_attempt(rows[0]) if rows else None

    def checkpoint(self, attempt_id: str, section_id: str, item_id: str, remaining_seconds: float) -> datetime:
        """Position and time left (whole seconds for the server, ms to resume from); returns the checkpoint's time."""
        if remaining_seconds < 0:
            raise JournalError(f"remaining_seconds must not be negative, got {remaining_seconds}")
        taken_at, ms = _time(self._timestamp()), math.ceil(remaining_seconds * 1000)
        with self._write_transaction():
            # Every item change checkpoints: one statement that also checks the attempt is still open.
            changed = self._db.execute(
                "UPDATE attempts SET current_section_id = ?, current_item_id = ?, remaining_seconds = ?, "
                "remaining_ms = ?, checkpoint_at = ? WHERE attempt_id = ? AND state = 'open' AND moved_at IS NULL",
                [section_id, item_id, math.ceil(remaining_seconds), ms, taken_at.isoformat(), attempt_id],
            ).rowcount
            if not changed:
                self._require_open(attempt_id)  # raises with the reason
        return taken_at

    def finish_section(
        self, attempt_id: str, section_id: str, *, envelope: Mapping[str, Any] | None, ends_attempt: bool = False
    ) -> None:
        """End a section and queue its result envelope in the outbox, in one transaction: both or neither."""
        with self._write_transaction():
            row = self._require_open(attempt_id)
            finished = json.loads(row["finished_sections"])
            if section_id in finished:
                raise JournalError(f"section {section_id} of attempt {attempt_id} is already finished")
            finished.append(section_id)
            moment = self._now()
            now = _iso(moment)
            self._db.execute(
                "UPDATE attempts SET finished_sections = ? WHERE attempt_id = ?", [json.dumps(finished), attempt_id]
            )
            if envelope is not None:
                self._queue_envelope(attempt_id, envelope, queued_at=moment)
            if ends_attempt:
                self._finish(attempt_id, now=now)
        log.info("Section %s of attempt %s finished", section_id, attempt_id)

    def _queue_envelope(self, attempt_id: str, envelope: Mapping[str, Any], *, queued_at: datetime) -> None:
        """Hand the envelope to the outbox on this connection, inside the caller's transaction."""
        key = envelope.get("idempotency_key")
        if not isinstance(key, str) or not key:
            raise JournalError(f"the result envelope of attempt {attempt_id} has no idempotency_key")
        if envelope.get("attempt_id", attempt_id) != attempt_id:
            raise JournalError(f"the result envelope names attempt {envelope.get('attempt_id')}, not {attempt_id}")
        try:
            body = json.dumps(envelope, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise JournalError(f"the result envelope of attempt {attempt_id} is not JSON ({exc})") from exc
        if not self.outbox().queue_result(attempt_id, key, body, queued_at):
            raise JournalError(f"the outbox already holds an envelope with idempotency key {key}")

    def finish_attempt(self, attempt_id: str) -> None:
        with self._write_transaction():
            self._require_open(attempt_id)
            self._finish(attempt_id, now=self._timestamp())
        log.info("Attempt %s finished", attempt_id)

    def _finish(self, attempt_id: str, *, now: str) -> None:
        self._db.execute(
            "UPDATE attempts SET state = 'finished', finished_at = ? WHERE attempt_id = ?", [now, attempt_id]
        )

    # ---- answers, plays, flags ---------------------------------------------------------------------------

    def save_answer(self, attempt_id: str, item_id: str, value: AnswerValue) -> SavedAnswer:
        """Commit an answer (replacing the item's earlier one); once it returns, the UI may show "Saved".

        The hot path of every click: one statement between BEGIN IMMEDIATE and COMMIT (one fsync), which checks
        that the attempt is open and numbers the change itself; the reasons for a refusal are looked up only
        when there is one."""
        encoded = _encode_value(value, item_id=item_id)
        answered = self._now()
        answered_at = _iso(answered)
        with self._write_transaction():
            # The connection's own execute(): inside this transaction sqlite-utils' bookkeeping has nothing to do.
            row = self._db.conn.execute(
                "INSERT INTO answers (attempt_id, item_id, value, answered_at, seq) "
                "SELECT attempt_id, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM answers WHERE attempt_id = ?) "
                "FROM attempts WHERE attempt_id = ? AND state = 'open' AND moved_at IS NULL "
                "ON CONFLICT (attempt_id, item_id) DO UPDATE SET "
                "value = excluded.value, answered_at = excluded.answered_at, seq = excluded.seq "
                "RETURNING seq",
                [item_id, encoded, answered_at, attempt_id, attempt_id],
            ).fetchone()
            if row is None:
                self._require_open(attempt_id)  # raises with the reason
                raise JournalError(f"attempt {attempt_id}: the answer to item {item_id} was not stored")
        # From what was just stored, not decoded again: a list is copied, as the caller may change theirs later.
        stored = list(value) if isinstance(value, list) else value
        return SavedAnswer(attempt_id, item_id, stored, answered.astimezone(UTC), int(row[0]))

    def answers(self, attempt_id: str) -> dict[str, AnswerValue]:
        return {saved.item_id: saved.value for saved in self.saved_answers(attempt_id)}

    def saved_answers(self, attempt_id: str) -> list[SavedAnswer]:
        """Every answer with when it was given, oldest change first (what a result envelope needs)."""
        rows = self._db.query("SELECT * FROM answers WHERE attempt_id = ? ORDER BY seq", [attempt_id])
        return [
            SavedAnswer(r["attempt_id"], r["item_id"], json.loads(r["value"]), _time(r["answered_at"]), r["seq"])
            for r in rows
        ]

    def plays(self, attempt_id: str) -> dict[str, int]:
        """Used plays by item; each play's start and end are kept by `play_record()` (player.offline_queue.plays)."""
        return self.play_record().counted(attempt_id)

    def play_record(self) -> PlayRecord:
        from player.offline_queue.plays import PlayRecord

        return PlayRecord(self._db, transaction=self._write_transaction, require_open=self._require_open, now=self._now)

    def set_flag(self, attempt_id: str, item_id: str, flagged: bool) -> None:
        """Mark an item for review (or clear the mark)."""
        with self._write_transaction():
            self._require_open(attempt_id)
            if flagged:
                self._db.execute(
                    "INSERT INTO flags (attempt_id, item_id, flagged_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    [attempt_id, item_id, self._timestamp()],
                )
            else:
                self._db.execute("DELETE FROM flags WHERE attempt_id = ? AND item_id = ?", [attempt_id, item_id])

    def flags(self, attempt_id: str) -> frozenset[str]:
        rows = self._db.query("SELECT item_id FROM flags WHERE attempt_id = ?", [attempt_id])
        return frozenset(row["item_id"] for row in rows)

    # ---- invigilator instructions --------------------------------------------------------------------

    def record_instruction(self, attempt_id: str, instruction_id: str, kind: str) -> bool:
        """Remember that an instruction was applied; False if it already was (a repeated delivery)."""
        with self._write_transaction():
            if self._attempt_row(attempt_id) is None:
                raise JournalError(f"attempt {attempt_id} is not in this computer's journal")
            added = self._db.execute(
                "INSERT INTO applied_instructions (attempt_id, instruction_id, kind, applied_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [attempt_id, instruction_id, kind, self._timestamp()],
            ).rowcount
        return bool(added)

    def applied_instructions(self, attempt_id: str) -> frozenset[str]:
        rows = self._db.query("SELECT instruction_id FROM applied_instructions WHERE attempt_id = ?", [attempt_id])
        return frozenset(row["instruction_id"] for row in rows)

    def paused_by_invigilator(self, attempt_id: str) -> bool:
        """True when the last pause/resume applied to the attempt was a pause (so a restart stays paused)."""
        row = self._db.execute(
            "SELECT kind FROM applied_instructions WHERE attempt_id = ? AND kind IN ('pause', 'resume') "
            "ORDER BY applied_at DESC, rowid DESC LIMIT 1",
            [attempt_id],
        ).fetchone()
        return bool(row and row[0] == "pause")

    def latest_checkpoints(self) -> dict[str, Checkpoint]:
        """Each open attempt's newest checkpoint (position, time left, plays): what `Outbox.refresh_checkpoints` queues."""
        from sync.protocol import MAX_PLAYS, Checkpoint, GivenBackPlay

        latest: dict[str, Checkpoint] = {}
        for row in self._db.query(
            "SELECT attempt_id, current_section_id AS section_id, current_item_id AS item_id, remaining_seconds, "
            "checkpoint_at AS taken_at FROM attempts WHERE state = 'open' AND checkpoint_at IS NOT NULL "
            "AND current_section_id IS NOT NULL AND current_item_id IS NOT NULL AND remaining_seconds IS NOT NULL"
        ):
            attempt_id = row.pop("attempt_id")
            taken_at = _time(row.pop("taken_at"))
            plays = self.play_record()
            given_back = [GivenBackPlay(**vars(play)) for play in plays.given_back(attempt_id)[-MAX_PLAYS:]]
            latest[attempt_id] = Checkpoint(
                **row, taken_at=taken_at, plays=plays.counted(attempt_id), plays_given_back=given_back
            )
        return latest

    def finished_attempt_ids(self) -> frozenset[str]:
        """Attempts finished (or moved away) here: the server takes no more progress for them."""
        return frozenset(row[0] for row in self._db.execute("SELECT attempt_id FROM attempts WHERE state = 'finished'"))

    def delivery_target(self, attempt_id: str) -> tuple[str, str] | None:
        """(server address, attempt token) the attempt's results and checkpoints go to; None if it is not here."""
        row = self._attempt_row(attempt_id)
        return (row["server_url"], row["attempt_token"]) if row else None

    def outbox(self) -> Outbox:
        """The outbox over this journal's connection (same thread): what the finished screen and heartbeats read."""
        from player.offline_queue.outbox import Outbox

        return Outbox(self._db, now=self._now)

    # ---- helpers ----------------------------------------------------------------------------------

    @contextmanager
    def _write_transaction(self) -> Iterator[None]:
        conn = self._db.conn
        if conn.in_transaction:
            with self._db.atomic():  # nested: a savepoint inside the caller's transaction
                yield
            return
        # BEGIN IMMEDIATE takes SQLite's write lock before the first read. A deferred transaction that reads and
        # then writes fails at once with "database is locked" (no busy_timeout wait) when another connection,
        # such as the uploader's, wrote in between; IMMEDIATE waits its turn instead.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _attempt_row(self, attempt_id: str) -> dict[str, Any] | None:
        # execute(), not query(): query() wraps each read in a savepoint, two more statements per write.
        cursor = self._db.execute("SELECT * FROM attempts WHERE attempt_id = ?", [attempt_id])
        return _first_row(cursor)

    def _require_open(self, attempt_id: str) -> dict[str, Any]:
        row = self._attempt_row(attempt_id)
        if row is None:
            raise JournalError(f"attempt {attempt_id} is not in this computer's journal")
        if row["moved_at"] is not None:
            raise JournalError(f"attempt {attempt_id} was moved to another computer; nothing in it can change here")
        if row["state"] != "open":
            raise JournalError(f"attempt {attempt_id} is finished; nothing in it can change any more")
        return row

    def _timestamp(self) -> str:
        return _iso(self._now())


def _encode_value(value: object, *, item_id: str) -> str:
    if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        # ASCII-escaped JSON survives any text, even lone surrogates that UTF-8 cannot store.
        return json.dumps(value)
    raise JournalError(
        f"answer to item {item_id} must be text or a list of option ids, not {type(value).__name__} {value!r}"
    )


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise JournalError(f"timestamps must carry a time zone, got naive {moment.isoformat()}")
    return moment.astimezone(UTC).isoformat()


_time = datetime.fromisoformat


def _credentials(login: LoginResponse, server_url: str) -> list[object]:
    return [server_url, login.model_dump_json(), login.attempt_token, login.result_secret]


def _server_checkpoint(login: LoginResponse) -> list[object]:
    """The server's checkpoint as section, item, seconds left and time taken (all None when it sent none)."""
    c = login.checkpoint
    return [None] * 4 if c is None else [c.section_id, c.item_id, c.remaining_seconds, _iso(c.taken_at)]


def _first_row(cursor: sqlite3.Cursor) -> dict[str, Any] | None:
    row = cursor.fetchone()
    return None if row is None else dict(zip((d[0] for d in cursor.description), row, strict=True))


def _stored_attempt(row: Mapping[str, Any]) -> StoredAttempt:
    import pydantic

    from sync.protocol import LoginResponse

    try:
        login = LoginResponse.model_validate_json(row["login"])
    except pydantic.ValidationError as exc:
        raise JournalError(
            f"attempt {row['attempt_id']}: this version cannot read the stored login "
            f"({exc.error_count()} problems); send the journal file to support"
        ) from exc
    return StoredAttempt(
        attempt_id=row["attempt_id"],
        server_url=row["server_url"],
        login=login,
        attempt_token=row["attempt_token"],
        result_secret=row["result_secret"],
        state="moved" if row["moved_at"] else row["state"],
        started_at=_time(row["started_at"]),
        current_section_id=row["current_section_id"],
        current_item_id=row["current_item_id"],
        remaining_seconds=row["remaining_seconds"],
        remaining_ms=row.get("remaining_ms"),
        checkpoint_at=_time(row["checkpoint_at"]) if row["checkpoint_at"] else None,
        finished_sections=tuple(json.loads(row["finished_sections"])),
        finished_at=_time(row["finished_at"]) if row["finished_at"] else None,
        moved_at=_time(row["moved_at"]) if row["moved_at"] else None,
    )
