"""`invigil support-bundle`: a zip for whoever supports Invigil, of the logs, the config files, the INVIGIL_*
environment, doctor's output and the journal's statistics, that never holds answers, access codes, tokens or keys.

What keeps it so: the journal is only counted (tables, sizes, outbox states), and read for nothing but the values of
its secret columns, to hide them wherever they were logged; the keyring is never opened; everything copied goes
through player/redaction.py, which first learns every secret value (config, environment, journal, and what its
shapes find in any file) and then hides each in every spelling. No Qt here: the staff console calls it on its task
runner."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import sqlite3
import stat
import sys
import tomllib
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from player.redaction import REDACTED, URL_USER_REDACTED, Redactor, is_secret_name
from sync.version import VERSION

if TYPE_CHECKING:
    from player.config import ConfigSources, PlayerConfig
    from player.doctor.report import Report

ROOT = "invigil-support"
"""Every file in the zip is under this folder, so unzipping it makes one folder."""
MAX_LOG_BYTES = 20_000_000
"""More than the player's rotating logs ever hold (6 x 2 MB); a bigger file is cut to its last part."""

ENVIRONMENT_SHOWN = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "QT_QPA_PLATFORM")
"""Besides INVIGIL_*: what changes how the player reaches the server or shows its window (any case)."""


def journal_statistics(data_dir: Path) -> dict[str, Any]:
    """Counts and sizes only: rows per table, the files' sizes, outbox rows by kind and state. Opened read-only;
    no row's contents are read."""
    from player.offline_queue.db import journal_path

    path = journal_path(data_dir)
    files = {p.name: p.stat().st_size for p in sorted(data_dir.glob(f"{path.name}*")) if p.is_file()}
    stats: dict[str, Any] = {"journal": str(path), "files_bytes": files}
    if not path.is_file():
        stats["note"] = "no journal on this computer yet"
        return stats
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            tables = [
                row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            ]
            # Table names come from the journal's own schema, quoted as identifiers.
            stats["rows"] = {
                name: conn.execute(f'SELECT COUNT(*) FROM "{name.replace(chr(34), chr(34) * 2)}"').fetchone()[0]  # noqa: S608
                for name in tables
            }
            if "outbox" in tables:
                stats["outbox"] = [
                    {"kind": kind, "state": state, "rows": count, "oldest": oldest}
                    for kind, state, count, oldest in conn.execute(
                        "SELECT kind, state, COUNT(*), MIN(created_at) FROM outbox GROUP BY kind, state ORDER BY 1, 2"
                    )
                ]
            stats["journal_mode"] = conn.execute("PRAGMA journal_mode").fetchone()[0]
            stats["integrity"] = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        stats["error"] = f"the journal could not be read: {exc}"
    return stats


def journal_secrets(data_dir: Path) -> list[str]:
    """The values of the journal's secret-named columns (attempts.attempt_token, attempts.result_secret), read
    only to be hidden wherever they were logged; nothing else of any row is read, and nothing of it is copied."""
    from player.offline_queue.db import journal_path

    path = journal_path(data_dir)
    if not path.is_file():
        return []
    values: list[str] = []
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                columns = [row[1] for row in conn.execute(f"PRAGMA table_info({_quoted(table)})")]
                for column in filter(is_secret_name, columns):
                    # Names from the journal's own schema, quoted as identifiers.
                    query = (
                        f"SELECT DISTINCT {_quoted(column)} FROM {_quoted(table)} WHERE {_quoted(column)} IS NOT NULL"  # noqa: S608
                    )
                    values += [str(value) for (value,) in conn.execute(query)]
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # journal_statistics says the journal could not be read; the shapes still hide what they can
    return values


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class NotRegular(Exception):
    """A path that is not a regular file (a link where none is followed, a folder, a pipe, a device): not read."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NON_BLOCK = getattr(os, "O_NONBLOCK", 0)  # a pipe put there after the check must not hang the bundle


def _read_limited(path: Path, *, follow: bool) -> str:
    """The file's text (its last MAX_LOG_BYTES). Only a regular file is read: with follow=False a link is refused
    before and while opening (lstat, then O_NOFOLLOW, so one swapped in between is refused too); with follow=True a
    link is followed but what it names must be a regular file too (fstat on what was opened)."""
    if not follow and stat.S_ISLNK(path.lstat().st_mode):
        raise NotRegular("a link, not copied")
    flags = os.O_RDONLY | _NON_BLOCK | getattr(os, "O_BINARY", 0) | (0 if follow else _NO_FOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow and exc.errno == errno.ELOOP:
            raise NotRegular("a link, not copied") from exc
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegular("not a regular file, not copied")
        size = f.seek(0, 2)
        f.seek(max(0, size - MAX_LOG_BYTES))
        return f.read().decode("utf-8", errors="replace")


def _read_or_why(path: Path, *, follow: bool = False) -> str | OSError | NotRegular:
    try:
        return _read_limited(path, follow=follow)
    except (OSError, NotRegular) as exc:
        return exc


def _log_entries(logs_dir: Path) -> tuple[list[tuple[str, str | OSError]], list[str]]:
    """The logs folder's regular files, read, and what was skipped and why. Nothing in it is followed: a link there
    (to /etc/shadow, say, made by whoever could write the data folder) would put another file in the zip of a
    bundle made as root. A logs folder that is itself a link is skipped whole, for the same reason."""
    if stat.S_ISLNK(_lstat_mode(logs_dir)):
        return [], ["logs: a link, not copied"]
    if not logs_dir.is_dir():
        return [], []
    read: list[tuple[str, str | OSError]] = []
    skipped: list[str] = []
    for path in sorted(logs_dir.iterdir()):
        mode = _lstat_mode(path)
        if stat.S_ISLNK(mode):
            skipped.append(f"logs/{path.name}: a link, not copied")
        elif stat.S_ISDIR(mode):
            skipped.append(f"logs/{path.name}: a folder, not copied")
        elif not stat.S_ISREG(mode):
            skipped.append(f"logs/{path.name}: not a regular file, not copied")
        else:
            text = _read_or_why(path)
            if isinstance(text, NotRegular):  # changed since it was looked at
                skipped.append(f"logs/{path.name}: {text.why}")
            else:
                read.append((path.name, text))
    return read, skipped


def _lstat_mode(path: Path) -> int:
    try:
        return path.lstat().st_mode
    except OSError:
        return 0


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    shown = {name.upper() for name in ENVIRONMENT_SHOWN}
    return {name: value for name, value in sorted(env.items()) if name.startswith("INVIGIL_") or name.upper() in shown}


def _learn_config(redactor: Redactor, text: str) -> None:
    """The secrets of a config file: every value under a secret-named key when it parses (at any depth, in
    arrays and multi-line strings), and what the line rules find when it does not (as far as a line reads)."""
    with contextlib.suppress(tomllib.TOMLDecodeError):
        redactor.learn_values(tomllib.loads(text))
    redactor.learn(text, config=True)


def _config_files(sources: ConfigSources) -> list[tuple[str, Path]]:
    return [("config/machine-config.toml", sources.machine_file), ("config/user-config.toml", sources.user_file)]


def _open_new(path: Path) -> IO[bytes]:
    return path.open("wb")


def make_support_bundle(
    config: PlayerConfig | None,
    dest: Path,
    *,
    report: Report | None,
    sources: ConfigSources | None = None,
    data_dir: Path | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    open_file: Callable[[Path], IO[bytes]] = _open_new,
) -> Path:
    """Write the zip and return its path: `dest` itself, or in `dest` under default_bundle_name() when `dest` is
    a folder. The zip is written beside it as .NAME.partial and renamed when complete; on any failure (a full
    disk, a folder that cannot be written) the partial file is removed and the error raised.

    `config`: the player's config, or None when it could not be read (the bundle is most wanted then);
    `report`: doctor's report to include (None: "not run"); `sources`: the config files and environment to copy
    (default: the usual places); `data_dir`: where the logs and journal are (default: the config's, else the
    default one); `open_file`: opens the partial file for writing (an edge, for tests of a disk that fills)."""
    from player.config import default_data_dir, default_sources
    from player.doctor.text import render_text

    sources = sources if sources is not None else default_sources()
    folder = data_dir or (config.data_dir if config is not None else default_data_dir())
    made_at = now()
    if dest.is_dir():
        dest = dest / default_bundle_name(made_at)

    # Read everything first and learn every secret in it, so that a value seen in one file (a password in the
    # config, a code in one log line) is hidden in all of them, however it is spelled there.
    redactor = Redactor()
    # The config files are those the player reads, so a link to one is followed (config management often puts
    # /etc/invigil/config.toml there so), but only to a regular file: a link to /dev/zero or a folder is skipped.
    configs: list[tuple[str, Path, str | OSError]] = []
    skipped: list[str] = []
    for name, path in _config_files(sources):
        if not _lstat_mode(path):
            continue  # no such file: nothing to copy, nothing to say
        text = _read_or_why(path, follow=True)
        if isinstance(text, NotRegular):
            skipped.append(f"{name}: {path}: {text.why}")
        else:
            configs.append((name, path, text))
    logs, skipped_logs = _log_entries(folder / "logs")
    skipped += skipped_logs
    environment = _environment(sources.env)
    for _, _, text in configs:
        if isinstance(text, str):
            _learn_config(redactor, text)
    redactor.learn_values(dict(sources.env))
    for value in journal_secrets(folder):
        redactor.known.add(value)
    for _, text in logs:
        if isinstance(text, str):
            redactor.learn(text)
    doctor_text = render_text(report) if report is not None else None
    if report is not None and doctor_text is not None:
        redactor.learn_values(report.to_json())
        redactor.learn(doctor_text)

    if dest.exists() or dest.is_symlink():
        # Never replaced: --output naming an existing file (a report, another bundle) must change nothing.
        raise FileExistsError(errno.EEXIST, "already exists", str(dest))
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        with open_file(partial) as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            contents: list[str] = []

            def add(name: str, text: str) -> None:
                bundle.writestr(f"{ROOT}/{name}", text)
                contents.append(name)

            if report is not None and doctor_text is not None:
                add("doctor.json", _json(redactor.json_value(report.to_json())))
                add("doctor.txt", redactor.text(doctor_text))
            else:
                add("doctor.txt", "doctor was not run for this bundle.\n")
            for name, path, text in configs:
                if isinstance(text, str):
                    header = f"# copied from {path}, secrets redacted".replace("\n", " ")  # stays a comment
                    add(name, header + "\n" + redactor.toml(text))
                else:
                    add(name, f"# {path} could not be read: {text.strerror}\n")
            add("config/environment.txt", _environment_text(environment, redactor))
            for name, text in logs:
                add(
                    f"logs/{name}",
                    redactor.text(text) if isinstance(text, str) else f"could not be read: {text.strerror}\n",
                )
            if skipped:
                add(
                    "skipped.txt",
                    "# What was not copied, and why: only regular files are (a link in the logs folder is never "
                    "followed).\n" + "".join(redactor.text(line) + "\n" for line in skipped),
                )
            add("journal-statistics.json", _json(redactor.json_value(journal_statistics(folder))))
            system = {
                "invigil": VERSION,
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "data_dir": str(folder),
                "config_files": [str(sources.machine_file), str(sources.user_file)],
                "made_at": made_at.isoformat(timespec="seconds"),
            }
            add("system.json", _json(redactor.json_value(system)))
            add(
                "README.txt",
                f"Invigil {VERSION} support bundle, made {made_at.isoformat(timespec='seconds')}.\n\n"
                "It holds: " + ", ".join(contents) + ".\n"
                "Only regular files are copied: a link in the logs folder is never followed (see skipped.txt).\n"
                "It never holds answers, access codes, tokens or keys: the journal is only counted, the keyring is "
                "not opened, and every secret value found in the config, the environment and the journal, every "
                "secret-named setting or field, authorization header, cookie, URL password, secret-named URL query "
                "parameter and code-shaped word is replaced by "
                f"{REDACTED} (a URL's user:password by {URL_USER_REDACTED}).\n",
            )
        partial.replace(dest)  # a half-written zip never stands under the name asked for
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return dest


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _environment_text(environment: Mapping[str, str], redactor: Redactor) -> str:
    lines = [
        f"{name}={REDACTED if is_secret_name(name) else redactor.text(value)}" for name, value in environment.items()
    ]
    header = "# The environment variables that change the player's settings or connection, secrets redacted.\n"
    return header + ("\n".join(lines) + "\n" if lines else "# (none set)\n")


def default_bundle_name(now: datetime | None = None) -> str:
    """invigil-support-20270301-091200.zip: sortable, and no machine detail in the name."""
    moment = (now or datetime.now(UTC)).astimezone()
    return f"invigil-support-{moment:%Y%m%d-%H%M%S}.zip"
