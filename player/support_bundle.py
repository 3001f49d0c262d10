"""`invigil support-bundle`: a zip for whoever supports Invigil, of the logs, the config files, doctor's output and
the journal's statistics, that never holds answers, access codes, tokens or keys.

What keeps it so: the journal is only counted (tables, sizes, outbox states), never read row by row; the keyring is
never opened; config files and log lines are copied through `redact`, which hides secret-looking settings, bearer
tokens and anything shaped like an access code. No Qt here: the staff console calls it on its task runner."""

from __future__ import annotations

import json
import platform
import re
import sqlite3
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync.version import VERSION

if TYPE_CHECKING:
    from player.config import ConfigSources, PlayerConfig
    from player.doctor.report import Report

ROOT = "invigil-support"
"""Every file in the zip is under this folder, so unzipping it makes one folder."""
REDACTED = "[redacted]"
MAX_LOG_BYTES = 20_000_000
"""More than the player's rotating logs ever hold (6 x 2 MB); a bigger file is cut to its last part."""

# A setting or log field named like a secret: token, password, secret anywhere in the name, or ending in "key"
# ("api_key", "private_key"; not "keyring_backend", which holds no secret).
_SECRET_NAME = r"[\w.-]*(?:token|password|passwd|secret)[\w.-]*|[\w.-]*key"  # noqa: S105 (a pattern, not a password)
_SECRET_SETTING = re.compile(
    rf"(?im)^(\s*[\"']?(?:{_SECRET_NAME})[\"']?\s*=\s*)(.*)$",
)
_SECRET_FIELD = re.compile(rf"(?i)\b((?:{_SECRET_NAME})[\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&)}}\]]+)")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
_ACCESS_CODE_DASHED = re.compile(r"(?<![0-9A-Za-z-])[0-9A-Za-z]{4}-[0-9A-Za-z]{4}(?![0-9A-Za-z-])")
"""An access code as printed, XXXX-XXXX (sync/accesscode.py), in any case; a UUID's inner groups are not taken."""
_ACCESS_CODE_PLAIN = re.compile(
    r"(?<![0-9A-Za-z-])(?=[0-9A-Za-z]*[0-9])(?=[0-9A-Za-z]*[A-Za-z])[0-9A-Za-z]{8}(?![0-9A-Za-z-])"
)
"""The same normalised to eight characters ("ABCD1234"): letters and digits both, so plain words are left alone."""


def redact(text: str) -> str:
    """`text` with secret-looking settings and fields, bearer tokens and access-code-shaped words replaced.

    Errs on the side of hiding: an item id shaped like a code ("item-0001") is hidden too."""
    text = _SECRET_SETTING.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    text = _SECRET_FIELD.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _ACCESS_CODE_DASHED.sub(REDACTED, text)
    return _ACCESS_CODE_PLAIN.sub(REDACTED, text)


def redact_json(value: Any) -> Any:
    """`value` (parsed JSON) with every string in it redacted, keys kept: the shape stays valid JSON."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    return value


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


def _read_limited(path: Path) -> str:
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - MAX_LOG_BYTES))
        return f.read().decode("utf-8", errors="replace")


def _config_files(sources: ConfigSources) -> list[tuple[str, Path]]:
    return [("config/machine-config.toml", sources.machine_file), ("config/user-config.toml", sources.user_file)]


def make_support_bundle(
    config: PlayerConfig | None,
    dest: Path,
    *,
    report: Report | None,
    sources: ConfigSources | None = None,
    data_dir: Path | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Path:
    """Write the zip to `dest` (a file path; its folder must exist) and return it.

    `config`: the player's config, or None when it could not be read (the bundle is most wanted then);
    `report`: doctor's report to include (None: "not run"); `sources`: the config files to copy (default: the
    usual places); `data_dir`: where the logs and journal are (default: the config's, else the default one)."""
    from player.config import default_data_dir, default_sources
    from player.doctor.text import render_text

    sources = sources if sources is not None else default_sources()
    folder = data_dir or (config.data_dir if config is not None else default_data_dir())
    made_at = now()
    contents: list[str] = []
    partial = dest.with_name(f".{dest.name}.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:

        def add(name: str, text: str) -> None:
            bundle.writestr(f"{ROOT}/{name}", text)
            contents.append(name)

        if report is not None:
            add("doctor.json", json.dumps(redact_json(report.to_json()), indent=2, ensure_ascii=False) + "\n")
            add("doctor.txt", redact(render_text(report)))
        else:
            add("doctor.txt", "doctor was not run for this bundle.\n")
        for name, path in _config_files(sources):
            if path.is_file():
                try:
                    add(name, f"# copied from {path}, secrets redacted\n" + redact(_read_limited(path)))
                except OSError as exc:
                    add(name, f"# {path} could not be read: {exc.strerror}\n")
        logs = folder / "logs"
        for log_file in sorted(logs.glob("*")) if logs.is_dir() else []:
            if log_file.is_file():
                try:
                    add(f"logs/{log_file.name}", redact(_read_limited(log_file)))
                except OSError as exc:
                    add(f"logs/{log_file.name}", f"could not be read: {exc.strerror}\n")
        add("journal-statistics.json", json.dumps(journal_statistics(folder), indent=2) + "\n")
        add(
            "system.json",
            json.dumps(
                {
                    "invigil": VERSION,
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                    "data_dir": str(folder),
                    "config_files": [str(sources.machine_file), str(sources.user_file)],
                    "made_at": made_at.isoformat(timespec="seconds"),
                },
                indent=2,
            )
            + "\n",
        )
        add(
            "README.txt",
            f"Invigil {VERSION} support bundle, made {made_at.isoformat(timespec='seconds')}.\n\n"
            "It holds: " + ", ".join(contents) + ".\n"
            "It never holds answers, access codes, tokens or keys: the journal is only counted, the keyring is not "
            "opened, and secret-looking settings, bearer tokens and code-shaped words in the config and logs are "
            f"replaced by {REDACTED}.\n",
        )
    partial.replace(dest)  # a half-written zip never stands under the name asked for
    return dest


def default_bundle_name(now: datetime | None = None) -> str:
    """invigil-support-20270301-0912.zip: sortable, and no machine detail in the name."""
    moment = (now or datetime.now(UTC)).astimezone()
    return f"invigil-support-{moment:%Y%m%d-%H%M%S}.zip"
