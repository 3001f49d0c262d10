"""The checks `invigil doctor` runs, in order, and the Report they make (keys: see CHECK_KEYS).

Each check is a small function of a Context (context.py); server_checks.py asks the server, journal_checks.py
looks at the answers journal, machine_checks.py at the rest of this computer. A check that raises is reported as
a failure of that check: doctor itself never crashes on the machine it is meant to diagnose."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from player import redaction
from player.doctor import journal_checks, machine_checks, server_checks
from player.doctor.context import Context, failure
from player.doctor.edges import DoctorEdges
from player.doctor.report import Check, Report
from sync.version import VERSION

if TYPE_CHECKING:
    from player.config import ConfigSources, PlayerConfig

__all__ = ["CHECK_KEYS", "DoctorEdges", "run_doctor", "run_doctor_from_sources", "settings_of"]

log = logging.getLogger(__name__)

_CHECKS: tuple[tuple[str, str, Callable[[Context], Check]], ...] = (
    ("config", "Settings", machine_checks.check_config),
    ("server", "Server reachable", server_checks.check_server),
    ("tls", "Secure connection (TLS)", server_checks.check_tls),
    ("api_version", "Server version", server_checks.check_api_version),
    ("clock", "Clock against the server", server_checks.check_clock),
    ("audio_output", "Audio output", machine_checks.check_audio_output),
    ("audio_tone", "Test tone", machine_checks.check_audio_tone),
    ("disk_space", "Free disk space", machine_checks.check_disk_space),
    ("wal", "Journal safety (SQLite WAL)", journal_checks.check_wal),
    ("keyring", "Staff sign-in store (keyring)", machine_checks.check_keyring),
    ("display", "Screen size", machine_checks.check_display),
    ("unsent_results", "Unsent results", journal_checks.check_unsent_results),
    ("machine_name", "Machine name", machine_checks.check_machine_name),
)
CHECK_KEYS = tuple(key for key, _, _ in _CHECKS)
QUICK_LEAVES_OUT = frozenset({"audio_tone", "keyring"})
"""What a student would notice: a tone in their headphones, and the keyring probe (a locked desktop keyring asks
for its password in a dialog). Neither says whether this machine can run the sitting."""

SECRET_WORDS = redaction.SECRET_WORDS
"""The support bundle's rule (player/redaction.py), so a setting doctor hides is one the bundle hides too."""


def looks_secret(name: str) -> bool:
    """A setting never shown: named as a secret is (player/redaction.is_secret_name: token, password, passphrase,
    secret, credentials, pin or auth as words of their own, a name ending in "key" such as "api_key"). None is
    today; a future one must not leak into a report, a heartbeat or a support bundle. "keyring_backend",
    "spinner" and "author" are no secrets."""
    return redaction.is_secret_name(name)


def run_doctor(
    config: PlayerConfig,
    *,
    edges: DoctorEdges | None = None,
    quick: bool = False,
    progress: Callable[[Check], None] | None = None,
    sources: ConfigSources | None = None,
) -> Report:
    """Every check, in order; `progress` hears each as it completes. quick: leave out what a student would
    notice or what takes seconds (QUICK_LEAVES_OUT: the test tone, the keyring probe), for the summary sent with
    heartbeats during a sitting.

    Any thread may call it. The Qt edges (audio, display) need a Qt application in this process (a QGuiApplication
    for the display) whose GUI thread runs its event loop when called from another thread (qt_edges.py).
    sources: where `config` was read from, so the config check lists each file (read, or absent) by name."""
    return _run(Context(config, None, edges or DoctorEdges(), sources), quick=quick, progress=progress)


def run_doctor_from_sources(
    sources: ConfigSources,
    *,
    server_url: str | None = None,
    data_dir: Path | None = None,
    edges: DoctorEdges | None = None,
    quick: bool = False,
    progress: Callable[[Check], None] | None = None,
) -> Report:
    """Read the config as the player does (the command line's --server and --data-dir over it), then run_doctor.
    A config that cannot be read is the config check's failure, naming the file and key; the checks that need no
    config still run.

    With edges=None (the real machine: `invigil doctor` and `invigil support-bundle`, each a process of its own),
    Qt's own messages are turned off for the rest of the process (quiet_qt.py), so the terminal shows the report
    alone."""
    from player.config import ConfigError, load_config

    if edges is None:
        from player.doctor.quiet_qt import quiet_qt_messages

        quiet_qt_messages()
        edges = DoctorEdges()
    try:
        config = with_overrides(load_config(sources), server_url=server_url, data_dir=data_dir)
    except ConfigError as exc:
        return _run(Context(None, str(exc), edges, sources), quick=quick, progress=progress)
    return run_doctor(config, edges=edges, quick=quick, progress=progress, sources=sources)


def with_overrides(config: PlayerConfig, *, server_url: str | None, data_dir: Path | None) -> PlayerConfig:
    """The command line's --server and --data-dir over the config, checked as the player checks them (a bad
    --server is the config check's failure, naming it) and their origin noted. Raises ConfigError."""
    from player.config import with_command_line

    return with_command_line(config, server_url=server_url, data_dir=data_dir)


def settings_of(config: PlayerConfig | None) -> dict[str, dict[str, str]]:
    """Each setting's shown value and where it came from (Report.settings); secrets never shown."""
    if config is None:
        return {}
    shown: dict[str, dict[str, str]] = {}
    for field in dataclasses.fields(config):
        if field.name == "origins":
            continue
        value = getattr(config, field.name)
        text = "(not set)" if value is None else str(value)
        if looks_secret(field.name):
            text = "(hidden)"
        shown[field.name] = {"value": text, "source": config.origins.get(field.name, "default")}
    return shown


def _run(ctx: Context, *, quick: bool, progress: Callable[[Check], None] | None) -> Report:
    checks: list[Check] = []
    for key, title, check in _CHECKS:
        if quick and key in QUICK_LEAVES_OUT:
            continue
        try:
            found = check(ctx)
        except Exception as exc:  # a check's own bug or an edge that broke: reported, never a crash
            log.exception("doctor: the %s check failed", key)
            found = failure(
                key,
                title,
                f"The check itself could not run: {type(exc).__name__}: {exc}",
                "Make a support bundle (`invigil support-bundle`) and send it to whoever supports Invigil.",
            )
        checks.append(found)
        if progress is not None:
            progress(found)
    return Report(checks=tuple(checks), version=VERSION, settings=settings_of(ctx.config))
