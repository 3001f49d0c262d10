"""The player's settings: a machine-wide TOML file, a user TOML file and INVIGIL_* environment overrides."""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import sys
import tomllib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs

from player.config_values import (
    MACHINE_ID_MAX_LENGTH,
    parse_bool,
    parse_ca_bundle,
    parse_choice,
    parse_float,
    parse_int,
    parse_label,
    parse_path,
    parse_url,
)
from player.config_values import MACHINE_NAME_MAX_LENGTH as MACHINE_NAME_MAX_LENGTH  # player/machine_name.py's

log = logging.getLogger(__name__)

APP_NAME = "invigil"
CONFIG_FILE_NAME = "config.toml"
MACHINE_ID_FILE_NAME = "machine-id"
ENV_PREFIX = "INVIGIL_"
CONFIG_PATH_ENV = "INVIGIL_CONFIG"
"""Points at a machine-wide file somewhere else (a network share, a test fixture)."""
LINUX_MACHINE_FILE = Path("/etc/invigil/config.toml")
"""Linux's machine-wide file: where the .deb installs it and where an admin looks (platformdirs' site config dir,
/etc/xdg/invigil, is a desktop-menu convention few admins would guess for a program's settings)."""
SERVER_OPTION = "--server"
DATA_DIR_OPTION = "--data-dir"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
KEYRING_BACKENDS = ("auto", "memory")
HEARTBEAT_RANGE = (2.0, 15.0)
"""heartbeat_interval_seconds' allowed range. Under 2 s, a room of players would load the server for nothing;
over 15 s (half of sync.staff_protocol.ONLINE_WITHIN_SECONDS, not imported here: pydantic would slow start-up),
one lost heartbeat would show a working machine as silent in the console, and pauses would take that long."""


class ConfigError(Exception):
    """A setting that cannot be used; the message names where it came from, the key and what to do."""


@dataclass(frozen=True)
class PlayerConfig:
    server_url: str
    data_dir: Path
    log_level: str = "INFO"
    machine_id: str | None = None
    """None: use the id generated once and kept in the data dir (see ensure_machine_id)."""
    machine_name: str | None = None
    """What the console calls this machine; None: its host name (player/machine_name.py)."""
    request_timeout_seconds: float = 10.0
    checkpoint_interval_seconds: float = 5.0
    typing_commit_seconds: float = 2.0
    """How long typing may pause before the text is committed to the journal."""
    heartbeat_interval_seconds: float = 5.0
    """Seconds between the player's heartbeats while a sitting is open (HEARTBEAT_RANGE)."""
    staff_idle_lock_minutes: int = 15
    keyring_backend: str = "auto"
    ca_bundle: Path | None = None
    """A PEM file of extra CA certificates, for schools whose proxy re-signs TLS."""
    allow_user_config: bool = True
    """Machine file only: False makes the player ignore the per-user file (students can edit that one)."""
    kiosk: bool = False
    """docs/kiosk.md. Machine file or environment only: a student can edit the user file, so not there."""
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)
    """Where each setting came from ("default", a file path, or an environment variable), for `doctor`."""


@dataclass(frozen=True)
class ConfigSources:
    machine_file: Path
    user_file: Path
    env: Mapping[str, str]


# ---- the keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    name: str
    parse: Callable[[Any, bool], Any]
    """(raw value, came from the environment) -> value; raises ValueError with the reason."""
    example: str | int | bool
    """A sensible value, shown in error messages (as TOML for a file, as text for a variable)."""


_KEYS: tuple[_Key, ...] = (
    _Key("server_url", parse_url, "https://invigil.example.org"),
    _Key("data_dir", parse_path, "/var/lib/invigil"),
    _Key("log_level", parse_choice(LOG_LEVELS, upper=True), "INFO"),
    _Key("machine_id", parse_label(MACHINE_ID_MAX_LENGTH), "room12-pc03"),
    _Key("machine_name", parse_label(MACHINE_NAME_MAX_LENGTH), "Room 12 PC 3"),
    _Key("request_timeout_seconds", parse_float(0.1), 10),
    _Key("checkpoint_interval_seconds", parse_float(0.1), 5),
    _Key("typing_commit_seconds", parse_float(0.0), 2),
    _Key("heartbeat_interval_seconds", parse_float(*HEARTBEAT_RANGE), 5),
    _Key("staff_idle_lock_minutes", parse_int(1), 15),
    _Key("keyring_backend", parse_choice(KEYRING_BACKENDS, upper=False), "auto"),
    _Key("ca_bundle", parse_ca_bundle, "/etc/ssl/certs/school-proxy.pem"),
    _Key("allow_user_config", parse_bool, False),
    _Key("kiosk", parse_bool, True),
)
_KEYS_BY_NAME = {key.name: key for key in _KEYS}
_NOT_IN_USER_FILE = frozenset({"allow_user_config", "kiosk"})  # the student's account can edit the user file
_NOT_FROM_ENV = frozenset({"allow_user_config"})  # INVIGIL_KIOSK may come from an admin's launcher or policy


def env_var_for(key: str) -> str:
    """The environment variable that overrides a key, e.g. INVIGIL_SERVER_URL."""
    return ENV_PREFIX + key.upper()


# ---- loading ----------------------------------------------------------------------------------------


def default_sources(env: Mapping[str, str] | None = None, *, platform: str = sys.platform) -> ConfigSources:
    """The usual places: the machine-wide file (or $INVIGIL_CONFIG) and the user's config dir. The machine file is
    /etc/invigil/config.toml on Linux, the OS's machine-wide config dir (platformdirs) on Windows and macOS."""
    env = dict(os.environ) if env is None else env
    machine_file = machine_config_file(platform)
    if env.get(CONFIG_PATH_ENV):
        machine_file = Path(env[CONFIG_PATH_ENV]).expanduser()
    user_file = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / CONFIG_FILE_NAME
    return ConfigSources(machine_file=machine_file, user_file=user_file, env=env)


def machine_config_file(platform: str = sys.platform) -> Path:
    """Where the machine-wide file is when INVIGIL_CONFIG does not say otherwise."""
    if platform.startswith("linux"):
        return LINUX_MACHINE_FILE
    return Path(platformdirs.site_config_dir(APP_NAME, appauthor=False)) / CONFIG_FILE_NAME


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def load_config(sources: ConfigSources) -> PlayerConfig:
    """Merge defaults < machine file < user file < environment; raise ConfigError on the first bad setting."""
    values: dict[str, Any] = {"server_url": "http://127.0.0.1:8765", "data_dir": default_data_dir()}
    origins: dict[str, str] = {name: "default" for name in _KEYS_BY_NAME}

    machine = _read_toml(sources.machine_file)
    _apply_file(values, origins, machine, path=sources.machine_file, machine_file=True)
    if values.get("allow_user_config", True):
        user = _read_toml(sources.user_file)
        _apply_file(values, origins, user, path=sources.user_file, machine_file=False)
    elif sources.user_file.exists():
        log.info("Ignoring %s: the machine-wide config sets allow_user_config = false", sources.user_file)

    for key in _KEYS:
        var = env_var_for(key.name)
        if var in sources.env and key.name not in _NOT_FROM_ENV:
            where = f"environment variable {var}"
            values[key.name] = _parse(key, sources.env[var], where=where, from_env=True)
            origins[key.name] = where

    config = PlayerConfig(**values, origins=MappingProxyType(origins))
    log.debug("Config loaded: %s", {name: origins[name] for name in sorted(origins)})
    return config


def with_command_line(config: PlayerConfig, *, server_url: str | None, data_dir: Path | None) -> PlayerConfig:
    """The command line's --server and --data-dir over `config`, --server checked as the server_url key is
    (http or https, no user:password@), their origins noted for `doctor`. Raises ConfigError naming the option."""
    origins = dict(config.origins)
    if server_url is not None:
        where = f"command line {SERVER_OPTION}"
        try:
            url = parse_url(server_url, True)
        except ValueError as exc:
            example = _KEYS_BY_NAME["server_url"].example
            raise ConfigError(f"{where}: {exc}; give e.g. {SERVER_OPTION} {example}") from None
        config = replace(config, server_url=url)
        origins["server_url"] = where
    if data_dir is not None:
        # A relative path is fine here (unlike in a file): it is relative to the folder the command was typed in.
        config = replace(config, data_dir=data_dir.expanduser().resolve())
        origins["data_dir"] = f"command line {DATA_DIR_OPTION}"
    return replace(config, origins=MappingProxyType(origins))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a file; put the settings in a file of that name") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}); check the file's permissions") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's message ends with "(at line N, column M)", which is what an admin needs to find it.
        raise ConfigError(f"{path}: is not valid TOML: {exc}; fix that line") from None


def _apply_file(
    values: dict[str, Any],
    origins: dict[str, str],
    table: Mapping[str, Any],
    *,
    path: Path,
    machine_file: bool,
) -> None:
    for name, raw in table.items():
        key = _KEYS_BY_NAME.get(name)
        if key is None:
            raise ConfigError(f"{path}: {name}: {_unknown_key_hint(name)}")
        if name in _NOT_IN_USER_FILE and not machine_file:
            what = "can only be set in the machine-wide config file, which students cannot change; remove it here"
            raise ConfigError(f"{path}: {name}: {what}")
        values[name] = _parse(key, raw, where=str(path), from_env=False)
        origins[name] = str(path)


def _unknown_key_hint(name: str) -> str:
    close = difflib.get_close_matches(name, list(_KEYS_BY_NAME), n=1)
    hint = f"did you mean {close[0]}?" if close else "see docs/player-config.md for the known keys"
    return f"is not a known setting; {hint}"


def _parse(key: _Key, raw: Any, *, where: str, from_env: bool) -> Any:
    try:
        return key.parse(raw, from_env)
    except ValueError as exc:
        example = _env_text(key.example) if from_env else _toml_text(key.example)
        raise ConfigError(f"{where}: {key.name}: {exc}; set it to e.g. {example}") from None


def _toml_text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # a JSON string or number is also valid TOML


def _env_text(value: str | int | bool) -> str:
    return _toml_text(value) if isinstance(value, bool) else str(value)


# ---- machine id ---------------------------------------------------------------------------------------


def machine_id_path(data_dir: Path) -> Path:
    return data_dir / MACHINE_ID_FILE_NAME


def ensure_machine_id(data_dir: Path) -> str:
    """This machine's stable id: read from the data dir, or generated (uuid4) and kept there on first use."""
    path = machine_id_path(data_dir)
    existing = _read_machine_id(path)
    if existing is not None:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    new_id = str(uuid.uuid4())
    tmp = path.with_name(f".{MACHINE_ID_FILE_NAME}.{new_id}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(new_id + "\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        # link() creates the name only if it is absent, so two players starting at once agree on one id.
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:
        # Some file systems (FAT on a USB stick) have no hard links; a plain replace is the best left.
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    kept = _read_machine_id(path)
    if kept is None:
        raise ConfigError(f"{path}: could not keep this machine's id there; check the data folder is writable")
    log.info("Generated machine id %s in %s", kept, path)
    return kept


def _read_machine_id(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None  # not there (NotADirectory: nor is the data folder; making it says why it cannot be made)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}); delete it and a new machine id is made") from None
    if not text or len(text) > MACHINE_ID_MAX_LENGTH or not text.isprintable():
        raise ConfigError(f"{path}: does not hold a machine id; delete it and a new one is made")
    return text


def resolve_machine_id(config: PlayerConfig) -> str:
    """The configured machine_id, else the one kept in the data dir."""
    return config.machine_id if config.machine_id is not None else ensure_machine_id(config.data_dir)
