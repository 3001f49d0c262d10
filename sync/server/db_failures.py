"""A database that cannot be reached or used, described for whoever must fix it: which one (never its password),
why, and what to check."""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

DEFAULT_POSTGRES_PORT = 5432

# libpq's own words for the common failures, each with what the operator should look at.
_ADVICE = (
    (
        re.compile(r'database ".*" does not exist'),
        "Create the database (`createdb -h {host} -p {port} -U {user} {database}`, or CREATE DATABASE as an "
        "administrator), or correct its name in {given_as}; then run `invigil-server init`.",
    ),
    (
        re.compile(r'role ".*" does not exist'),
        "Correct the user name in {given_as}, or create that user on the PostgreSQL server (`createuser`).",
    ),
    (
        re.compile(r"password authentication failed|no password supplied|password is required"),
        "Check the user name and password in {given_as} (or in PGPASSWORD or ~/.pgpass).",
    ),
    (
        re.compile(r"no pg_hba\.conf entry"),
        "Let this machine connect as that user: add a line for it to the PostgreSQL server's pg_hba.conf and "
        "reload the server.",
    ),
    (
        re.compile(r"[Cc]onnection refused"),
        "Check that PostgreSQL is running on that host and port and listens on an address this machine can reach "
        "(listen_addresses and port in postgresql.conf), and the host and port in {given_as}.",
    ),
    (
        re.compile(r"resolve host|translate host name|Name or service not known"),
        "Check the host name in {given_as}.",
    ),
    (
        re.compile(r"permission denied"),
        "The user may connect but not create or change tables: make it the database's owner "
        "(`ALTER DATABASE {database} OWNER TO {user}` as an administrator), or name the owner in {given_as}.",
    ),
    (
        re.compile(r"timeout expired|timed out"),
        "Nothing answered in time: check the host and port in {given_as}, and that no firewall drops the "
        "connection (connect_timeout in the URL sets how long to wait).",
    ),
)
_GENERAL_ADVICE = (
    "Check that PostgreSQL is running there, that the database exists, and the user name and password in {given_as}."
)
_LIBPQ_NOISE = re.compile(
    r"^(connection failed: )?(connection to server (at|on) .*? failed: )?(FATAL: +)?", re.IGNORECASE
)


def describe_failure(url: str | URL, exc: BaseException, *, given_as: str = "--db") -> str:
    """One paragraph: which database could not be reached or used, the driver's reason in one line, and what to
    check.

    `exc` is the driver's error (or SQLAlchemy's wrapper of it); `given_as` names where the URL came from
    (`--db`, `INVIGIL_SERVER_DB`), so the advice points at the setting to correct.
    """
    url = make_url(url) if isinstance(url, str) else url
    reason = one_line(str(getattr(exc, "orig", None) or exc), hide=url.password)
    if url.get_backend_name() == "sqlite":
        return (
            f"Cannot open the SQLite database {url.database}: {reason} Check that its folder exists and that this "
            f"user may read and write there, and the path in {given_as}."
        )
    host = url.host or "the local socket"
    port = url.port or DEFAULT_POSTGRES_PORT
    user = url.username or "(your login name)"
    database = url.database or url.username or "(your login name)"
    advice = next((text for pattern, text in _ADVICE if pattern.search(reason)), _GENERAL_ADVICE)
    advice = advice.format(host=url.host or "localhost", port=port, user=user, database=database, given_as=given_as)
    # A connection that failed is "cannot reach"; one that worked and was refused (rights) is "cannot use".
    verb = "Cannot reach" if isinstance(exc, OperationalError) else "Cannot use"
    return f'{verb} the PostgreSQL database "{database}" on {host} port {port} as user {user}: {reason} {advice}'


def one_line(text: str, *, hide: str | None = None) -> str:
    """The driver's message without libpq's preamble, on one line, ending as a sentence ends."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    reason = "; ".join(_LIBPQ_NOISE.sub("", line).rstrip(".") for line in lines) or "no reason given"
    if hide:
        # libpq never repeats a password, but this text is printed and logged: make sure.
        reason = reason.replace(hide, "***")
    return reason if reason.endswith(("?", "!")) else reason.rstrip(".") + "."
