"""Server settings: where the database and the secret key live, and the login rate limits."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import platformdirs

from sync.server.bodylimit import BodyLimits

APP_NAME = "invigil-server"
SECRET_ENV = "INVIGIL_SERVER_SECRET_FILE"  # noqa: S105  (an env var name, not a secret)
DB_ENV = "INVIGIL_SERVER_DB"


class SettingsError(Exception):
    """A setting that cannot be used, with what to do about it."""


@dataclass(frozen=True)
class LoginLimits:
    """Failed access-code logins allowed within a window per machine, per code prefix and per client address.

    A machine over its limit is refused outright; a prefix over its limit refuses codes beginning so (except a
    machine resuming its own attempt). The address limit is only a backstop, far higher because a whole school
    often reaches the server through one address: over it, unknown codes and machines with recent failures are
    refused, but a correct code from a machine without failures still signs in. See docs/server.md.
    """

    per_machine: int = 10
    per_prefix: int = 20
    per_address: int = 200
    window: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class ServerSettings:
    database_url: str
    secret_key: bytes
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    staff_token_lifetime: timedelta = timedelta(hours=12)
    body_limits: BodyLimits = field(default_factory=BodyLimits)


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "invigil.db"


def database_url(value: str | None, env: Mapping[str, str] | None = None) -> str:
    """Turn `--db PATH_OR_URL` (or INVIGIL_SERVER_DB, or the default file) into an SQLAlchemy URL."""
    env = os.environ if env is None else env
    value = value or env.get(DB_ENV) or str(default_db_path())
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def default_secret_path(url: str, env: Mapping[str, str] | None = None) -> Path:
    """The key file sits beside an SQLite database (never inside it); other databases must name one."""
    env = os.environ if env is None else env
    if env.get(SECRET_ENV):
        return Path(env[SECRET_ENV]).expanduser()
    if url.startswith("sqlite:///"):
        db_path = Path(url.removeprefix("sqlite:///"))
        return db_path.with_name(db_path.name + ".secret")
    raise SettingsError(
        f"No secret key file for {url.split('://')[0]}: set {SECRET_ENV} or pass --secret-file "
        "(every server worker must use the same file)."
    )


def load_secret(path: Path, *, create: bool) -> bytes:
    """Read the 32-byte server key; with create=True make one (mode 0600) when the file is missing."""
    if not path.exists():
        if not create:
            raise SettingsError(
                f"Secret key file {path} does not exist. Run `invigil-server init` first, "
                "or point --secret-file at the key the server was set up with."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")
    try:
        key = base64.urlsafe_b64decode(path.read_text().strip())
    except (ValueError, OSError) as exc:
        raise SettingsError(f"Secret key file {path} could not be read: {exc}") from exc
    if len(key) != 32:
        raise SettingsError(f"Secret key file {path} does not hold a 32-byte key; restore it from your backup.")
    return key
