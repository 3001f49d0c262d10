"""Server settings: where the database and the secret key live, the login rate limits, and what staff may load."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import platformdirs
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

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
    content_uploads: bool = False
    """`serve --content-uploads`: a school's admin may load content packages through the staff API. Off by
    default: assessments are shared by every school on the server, so an upload changes what every school's
    new sittings get (see docs/server.md, "Loading content")."""


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "invigil.db"


POSTGRES_DRIVER = "postgresql+psycopg"
"""PostgreSQL through psycopg 3, the driver the server ships, named in every URL: SQLAlchemy does not know
`postgres://` at all, and before 2.1 it took `postgresql://` to mean psycopg2."""
_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", POSTGRES_DRIVER})
_SQLITE_SCHEMES = frozenset({"sqlite", "sqlite+pysqlite"})
CONNECT_TIMEOUT_S = 10
"""Added to a PostgreSQL URL that sets none: libpq would otherwise wait for the kernel (about two minutes) on a
host that drops packets, and every command, and a worker's readiness check, with it."""
SUPPORTED_DATABASES = (
    "Give an SQLite file (a path, or sqlite:///PATH) or a PostgreSQL URL: "
    "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (postgres:// and postgresql+psycopg:// mean the same)."
)


def database_url(value: str | None, env: Mapping[str, str] | None = None) -> str:
    """Turn `--db PATH_OR_URL` (or INVIGIL_SERVER_DB, or the default file) into an SQLAlchemy URL.

    A PostgreSQL URL always names psycopg 3, and gets a connect timeout unless it sets one; a URL of any other
    database is refused (SettingsError) before anything is opened.
    """
    env = os.environ if env is None else env
    given_as = "--db" if value else DB_ENV
    value = value or env.get(DB_ENV) or str(default_db_path())
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    try:
        url = make_url(value)
    except (ArgumentError, ValueError) as exc:
        # The value itself is not repeated: it may hold a password.
        raise SettingsError(
            f"{given_as} is not a database URL that can be read ({exc}). {SUPPORTED_DATABASES}"
        ) from exc
    if url.drivername in _SQLITE_SCHEMES:
        if sqlite_url_names_no_file(value):
            raise SettingsError(
                f"{given_as} names no SQLite file (an in-memory database would vanish when the command ends): give "
                "the file's path, like /var/lib/invigil-server/invigil.db or sqlite:////var/lib/invigil-server/invigil.db"
            )
        # One spelling, as the rest of the server tells an SQLite file by its `sqlite:///` prefix.
        return "sqlite://" + value.split("://", 1)[1]
    if url.drivername not in _POSTGRES_SCHEMES:
        raise SettingsError(f"{given_as}: {url.drivername}:// databases are not supported. {SUPPORTED_DATABASES}")
    url = url.set(drivername=POSTGRES_DRIVER)
    if "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)})
    return url.render_as_string(hide_password=False)


def sqlite_url_names_no_file(value: str) -> bool:
    """`sqlite://`, `sqlite:///`, `sqlite:///:memory:` (any sqlite+driver): a database that vanishes when the
    command ends, which failed deep inside with a traceback."""
    scheme, sep, rest = value.partition("://")
    if not sep or not (scheme == "sqlite" or scheme.startswith("sqlite+")):
        return False
    path = rest.removeprefix("/").split("?", 1)[0]
    return not rest.startswith("/") or path in ("", ":memory:")


def shown_url(url: str) -> str:
    """The URL as it may be printed or logged: any password replaced by ***."""
    return make_url(url).render_as_string(hide_password=True)


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
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise SettingsError(
                f"Cannot create the secret key file {path}: {exc.strerror}. "
                "Choose a --secret-file path this user may write to."
            ) from exc
        with os.fdopen(fd, "w") as f:
            f.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")
    try:
        key = base64.urlsafe_b64decode(path.read_text().strip())
    except (ValueError, OSError) as exc:
        raise SettingsError(f"Secret key file {path} could not be read: {exc}") from exc
    if len(key) != 32:
        raise SettingsError(f"Secret key file {path} does not hold a 32-byte key; restore it from your backup.")
    return key
