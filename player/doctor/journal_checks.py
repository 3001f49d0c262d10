"""The checks of the answers journal's folder and file: that SQLite's WAL and full sync work where the journal is
kept (check_wal), and how many results wait to be sent (check_unsent_results). They never change the journal:
it is read read-only (without creating SQLite's -wal/-shm when no player has it open), and the WAL test runs in a
scratch folder that is removed again."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import TypeVar

from player.doctor.context import Context, failure, not_checked, ok, warning
from player.doctor.report import Check

NO_CONFIG = "the config could not be read (see Settings)"

_T = TypeVar("_T")


def check_wal(ctx: Context) -> Check:
    """A scratch database set up exactly as the journal is, its settings read back: a file system that cannot do
    WAL (some network shares) silently keeps another journal mode.

    Nothing is made or changed in the data folder (doctor may run as root, or before the player ever ran): the
    scratch database lives in a folder of its own, inside the data folder when it exists, else next to where it
    will be made (its nearest existing parent, the same file system), and is removed afterwards."""
    key, title = "wal", "Journal safety (SQLite WAL)"
    if ctx.config is None:
        return not_checked(key, title, NO_CONFIG)
    data_dir = ctx.config.data_dir
    fix = (
        "Put the data folder on a local disk this user can write (set data_dir in the config); network shares and "
        "some USB file systems cannot keep the journal safe."
    )
    where, blocker = _nearest_existing(data_dir)
    if blocker is not None:
        return failure(
            key, title, f"The data folder {data_dir} cannot be created: {blocker} is a file, not a folder.", fix
        )
    if where == data_dir and (odd := _not_a_file(_journal_path(data_dir))) is not None:
        journal = _journal_path(data_dir)
        return failure(
            key,
            title,
            f"The journal's place {journal} is {odd}, not a file: the player cannot open its journal there and "
            "refuses to start.",
            f"Look at what {journal} holds, then move it out of the data folder; the player makes its journal (a "
            "single file) there at its next start. Do not delete it unread: someone may have put files in it.",
            entry="journal_not_a_file",
        )
    if where == data_dir:
        place, tested = f"the data folder {data_dir}", ""
    else:
        place = f"{where}, where the data folder will be made"
        tested = f"The data folder {data_dir} does not exist yet (the player makes it at its first start); tested in "
    try:
        scratch_dir = Path(tempfile.mkdtemp(prefix=".invigil-doctor-", dir=where))
    except OSError as exc:
        if where == data_dir:
            detail = f"The data folder {data_dir} cannot be written by this user ({exc.strerror})."
        else:
            detail = (
                f"The data folder {data_dir} does not exist yet, and the player cannot make it: {where} cannot be "
                f"written by this user ({exc.strerror})."
            )
        return failure(key, title, detail, fix)
    try:
        problem = _try_wal(scratch_dir / "probe.sqlite3")
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)
    if problem is not None:
        return failure(key, title, f"{tested or 'In '}{place}: {problem}", fix)
    if tested:
        return ok(key, title, f"{tested}{place}: WAL and full sync work there.")
    return ok(key, title, f"WAL and full sync work in {place}.")


def _journal_path(data_dir: Path) -> Path:
    from player.offline_queue.db import journal_path

    return journal_path(data_dir)


def _not_a_file(path: Path) -> str | None:
    """What stands at the journal's path when it is not a regular file (a folder, a pipe, ...), which the player
    cannot open as its journal; None for a regular file (or a link to one) and for nothing at all (the player
    makes the journal at its first start). A path that cannot be looked at is left to the read that follows."""
    try:
        mode = path.stat().st_mode  # through a link, as SQLite opens it
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        kind = "a folder"
    elif stat.S_ISFIFO(mode):
        kind = "a named pipe (FIFO)"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    else:
        kind = "something other than a file"
    if path.is_symlink():
        kind += f" (it is a link to {os.readlink(path)})"
    return kind


def _nearest_existing(path: Path) -> tuple[Path, Path | None]:
    """(the folder itself or its nearest existing parent, None), or (_, the file in the way of making it)."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate, None
        if candidate.exists():
            return candidate, candidate
    return Path(path.anchor or "."), None


def _try_wal(scratch: Path) -> str | None:
    """None when a database at `scratch` keeps the journal's settings and a write; else what went wrong."""
    from player.offline_queue.db import journal_pragmas

    wanted = journal_pragmas(busy_timeout_ms=2000)
    try:
        conn = sqlite3.connect(scratch, isolation_level=None)
        try:
            for name, value in wanted.items():
                conn.execute(f"PRAGMA {name} = {value}")
            actual = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in wanted}
            conn.execute("CREATE TABLE probe (n INTEGER)")
            conn.execute("INSERT INTO probe VALUES (1)")
            written = conn.execute("SELECT n FROM probe").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"SQLite cannot keep a journal there: {exc}."
    wrong = {name: actual[name] for name in wanted if actual[name] != wanted[name]}
    if wrong or written != 1:
        return f"SQLite refused the journal's safety settings (wanted {wanted}, got {actual})."
    return None


def check_unsent_results(ctx: Context) -> Check:
    """Read-only: counts of the outbox's unconfirmed results, never their contents."""
    from player.offline_queue.db import journal_path

    key, title = "unsent_results", "Unsent results"
    if ctx.config is None:
        return not_checked(key, title, NO_CONFIG)
    path = journal_path(ctx.config.data_dir)
    odd = _not_a_file(path)
    if odd is not None:
        return not_checked(key, title, f"the journal's place {path} is {odd}, not a file (see Journal safety)")
    if not path.is_file():
        return ok(key, title, "None: nothing has been recorded on this computer yet.")
    try:
        unsent = read_journal(path, _count_unsent)
    except sqlite3.Error as exc:
        return _journal_problem(key, title, path, exc)
    if unsent is None:
        return ok(key, title, "None: the journal holds no results yet.")
    count, refused, oldest = unsent
    if count == 0:
        return ok(key, title, "None: every result made on this computer has reached the server.")
    since = _local_time(oldest)
    refused_text = f"; the server refused {refused} of them" if refused else ""
    return warning(
        key,
        title,
        f"{count} result(s) made on this computer have not reached the server yet (oldest since {since}){refused_text}.",
        "Leave this computer on and connected to the server: they are sent by themselves. Do not wipe or reimage it "
        "until they are; staff can also take them as result codes (staff console, Unsent results).",
    )


def _count_unsent(conn: sqlite3.Connection) -> tuple[int, int, str | None] | None:
    """(unsent results, of them refused by the server, the oldest's time), or None when there is no outbox yet."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "outbox" not in tables:
        return None
    count, refused, oldest = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(state = 'needs_attention'), 0), MIN(created_at) FROM outbox "
        "WHERE kind = 'result' AND state != 'sent'"
    ).fetchone()
    return int(count), int(refused), oldest


def _companions(path: Path) -> tuple[Path, Path]:
    """SQLite's write-ahead log and shared-memory index beside a WAL database: there while any connection has it
    open (the player running), or after one that did not close (a crash)."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _journal_state(path: Path) -> tuple[int, int, int, bool, bool] | None:
    """What changes when anyone writes the journal: the file (inode, size, time) and whether its companions are
    there. None when it cannot be looked at."""
    try:
        found = path.stat()
    except OSError:
        return None
    wal, shm = _companions(path)
    return found.st_ino, found.st_size, found.st_mtime_ns, wal.exists(), shm.exists()


def read_journal(path: Path, read: Callable[[sqlite3.Connection], _T]) -> _T:
    """`read` on the journal, opened read-only, leaving nothing behind in the data folder when nothing else has it
    open. Raises sqlite3.Error.

    A plain read-only open of a WAL database makes its -wal and -shm companions and, unable to checkpoint, leaves
    them. So when neither is there (no player has the journal open: a WAL connection always has both), the file
    is read as immutable, which makes none. Immutable means unlocked: a player starting meanwhile would write
    unseen. So the journal is looked at again afterwards; if anything changed (companions appeared, the file was
    written), or the read failed, it is read again the ordinary way: that sees a running player's latest commits
    through the companions it keeps (SQLite adds the other of the pair when only one is there)."""
    uri = path.as_uri()
    before = _journal_state(path)
    if before is not None and not (before[3] or before[4]):
        try:
            found = _read_with(f"{uri}?mode=ro&immutable=1", read)
        except sqlite3.Error:
            pass  # read again below: the ordinary way says what is wrong, or reads what a writer just changed
        else:
            if _journal_state(path) == before:
                return found
    return _read_with(f"{uri}?mode=ro", read)


def _read_with(uri: str, read: Callable[[sqlite3.Connection], _T]) -> _T:
    conn = sqlite3.connect(uri, uri=True, timeout=5)
    try:
        return read(conn)
    finally:
        conn.close()


_DAMAGED = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
"""SQLite's own words for a file that is not (or no longer) a database: the journal is damaged."""


def _journal_problem(key: str, title: str, path: Path, exc: sqlite3.Error) -> Check:
    """The journal could not be read: damaged, or not this user's to open. Never a suggestion to delete it: it may
    hold the only copy of answers the server has not received."""
    keep = (
        "Do not delete it or the data folder: it may hold answers that have not reached the server. Make a support "
        "bundle (`invigil support-bundle`) and send it to whoever supports Invigil."
    )
    if getattr(exc, "sqlite_errorname", "") in _DAMAGED:
        return failure(
            key,
            title,
            f"The journal at {path} is damaged: SQLite cannot read it ({exc}). The player cannot start a sitting "
            "with it.",
            keep,
            entry="journal_damaged",
        )
    return failure(
        key,
        title,
        f"The journal at {path} cannot be opened by this user ({exc}).",
        "Run doctor as the account students use (not with sudo); if it still cannot be opened, check the file's "
        f"owner and permissions. {keep}",
        entry="journal_unreadable",
    )


def _local_time(stamp: str | None) -> str:
    from datetime import datetime

    if not stamp:
        return "an unknown time"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%d %b %Y %H:%M")
