"""The player's config values: each setting's parser (raw TOML or environment text -> value, or ValueError saying
why in words an IT admin can act on). player/config.py names the keys and says where a value came from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MACHINE_ID_MAX_LENGTH = 128  # sync.protocol.LoginRequest.machine_id allows no more
MACHINE_NAME_MAX_LENGTH = 64  # sync.protocol.MachineName allows no more


def expect_str(raw: Any, from_env: bool) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"{show(raw)} is {a_toml_type(raw)}, not a string (put it in quotes)")
    return raw


def parse_url(raw: Any, from_env: bool) -> str:
    text = expect_str(raw, from_env).strip()
    # A query or fragment (an access token, a session id) is cut off before any message shows the value.
    cut = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=len(text))
    base = text[:cut]
    # Checked first, before any message that shows the value: a password must never reach a message or a log.
    hidden = without_userinfo(base)
    if hidden is not None:
        raise ValueError(
            f"{show(hidden)} has a user name or password in it (before the @); the player never sends credentials "
            "in the URL: remove them, and keep only the server's address"
        )
    if cut < len(text):
        # "http://user:pa?ss@host" is a password cut at its "?": with an @ in the cut-off part, show nothing.
        shown = "the address" if "@" in text[cut:] else show(base + "…")
        mark = text[cut]
        raise ValueError(
            f"{shown} has a query or fragment (the part from the {mark}); server_url is only the server's base "
            f"address: remove everything from the {mark}"
        )
    if not text.isprintable():  # urlsplit would silently drop a tab or line break, and the file keeps it
        raise ValueError(f"{show(text)} has a tab, line break or other invisible character in it")
    try:
        parts = urlsplit(text)
    except ValueError:  # Python's only complaint here: an IPv6 address in [ ] that is not closed or not valid
        raise ValueError(f"{show(text)} has an IPv6 address that is not valid (in [ ])") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{show(text)} is not an http(s) URL")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"{show(text)} has a port that is not a number from 1 to 65535")
    if "[" not in parts.netloc:  # urlsplit has checked an IPv6 address already
        problem = host_problem(parts.hostname)
        if problem:
            raise ValueError(f"{show(text)} {problem}")
    return text.rstrip("/")


HOST_NAME_MAX_LENGTH = 253
HOST_LABEL_MAX_LENGTH = 63
_HOST_PUNCTUATION = frozenset("-._")


def host_problem(host: str) -> str | None:
    """What makes `host` (a name or IPv4 address, as urlsplit gives it) one the network library cannot use, as
    "has ..." words, else None. urllib3 refuses these only when connecting, with an error that names no setting."""
    for char in host:
        # Non-ASCII letters are an international name's (checked below as its xn-- form).
        allowed = char.isalnum() or char in _HOST_PUNCTUATION if char.isascii() else not char.isspace()
        if not allowed:
            name = "a space" if char == " " else f"a {char!r}"
            return f"has {name} in its host name; a host name has only letters, digits, hyphens and dots"
    name = host[:-1] if host.endswith(".") else host  # a fully qualified name's final dot is allowed
    if "" in name.split("."):
        return "has an empty part in its host name (two dots together, or a dot at the start)"
    try:
        encoded = name.encode("idna")  # what urllib3 does before connecting; an international name's xn-- form
    except UnicodeError:
        return (
            f"has a part of its host name (between dots) over {HOST_LABEL_MAX_LENGTH} characters, or one that "
            "cannot be a DNS name"
        )
    if any(len(label) > HOST_LABEL_MAX_LENGTH for label in encoded.split(b".")):
        return f"has a part of its host name (between dots) over {HOST_LABEL_MAX_LENGTH} characters"
    if len(encoded) > HOST_NAME_MAX_LENGTH:
        return f"has a host name over {HOST_NAME_MAX_LENGTH} characters"
    return None


def without_userinfo(url: str) -> str | None:
    """`url` with its user:password@ replaced by "…@" when it has one (with or without a scheme), else None."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, authority_end)
    if at < 0:
        return None
    return f"{scheme}{sep}…@{rest[at + 1 :]}"


def parse_path(raw: Any, from_env: bool) -> Path:
    path = Path(expect_str(raw, from_env)).expanduser()
    if not path.is_absolute():
        raise ValueError(f"{show(raw)} is not an absolute path")
    return path


def parse_optional_path(raw: Any, from_env: bool) -> Path | None:
    if from_env and raw == "":
        return None
    return parse_path(raw, from_env)


def parse_ca_bundle(raw: Any, from_env: bool) -> Path | None:
    path = parse_optional_path(raw, from_env)
    # Checked here, at start-up, rather than at the first request, where it would look like a network fault.
    if path is not None and not path.is_file():
        what = "a folder" if path.is_dir() else "not there"
        raise ValueError(f"{show(raw)} is {what}; it must name the PEM file of the CA certificates to trust")
    return path


def parse_float(minimum: float, maximum: float | None = None) -> Callable[[Any, bool], float]:
    def parse(raw: Any, from_env: bool) -> float:
        value: float
        if from_env and isinstance(raw, str):
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{show(raw)} is not a number") from None
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
        else:
            raise ValueError(f"{show(raw)} is {a_toml_type(raw)}, not a number")
        if maximum is not None and not minimum <= value <= maximum:
            raise ValueError(f"{show(raw)} is out of range (it must be from {minimum:g} to {maximum:g})")
        if not value >= minimum or value == float("inf"):
            raise ValueError(f"{show(raw)} is out of range (it must be at least {minimum:g})")
        return value

    return parse


def parse_int(minimum: int) -> Callable[[Any, bool], int]:
    def parse(raw: Any, from_env: bool) -> int:
        value: int
        if from_env and isinstance(raw, str):
            try:
                value = int(raw)
            except ValueError:
                raise ValueError(f"{show(raw)} is not a whole number") from None
        elif isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        else:
            raise ValueError(f"{show(raw)} is {a_toml_type(raw)}, not a whole number")
        if value < minimum:
            raise ValueError(f"{show(raw)} is out of range (it must be at least {minimum})")
        return value

    return parse


def parse_bool(raw: Any, from_env: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    if from_env and isinstance(raw, str) and raw.strip().lower() in ENV_BOOLS:
        return ENV_BOOLS[raw.strip().lower()]
    raise ValueError(f"{show(raw)} is not true or false")


ENV_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_choice(choices: tuple[str, ...], *, upper: bool) -> Callable[[Any, bool], str]:
    def parse(raw: Any, from_env: bool) -> str:
        text = expect_str(raw, from_env).strip()
        text = text.upper() if upper else text.lower()
        if text not in choices:
            raise ValueError(f"{show(raw)} is not one of {', '.join(choices)}")
        return text

    return parse


def parse_label(max_length: int) -> Callable[[Any, bool], str | None]:
    """A one-line label (machine_id, machine_name) of 1 to `max_length` printable characters; empty in the
    environment: not set."""

    def parse(raw: Any, from_env: bool) -> str | None:
        text = expect_str(raw, from_env).strip()
        if from_env and text == "":
            return None
        if not text or len(text) > max_length or not text.isprintable():
            raise ValueError(f"{show(raw)} must be 1 to {max_length} printable characters")
        return text

    return parse


def show(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 80 else text[:77] + "..."


def a_toml_type(raw: Any) -> str:
    """The type with its article ("an integer", "a string"), as the messages say it."""
    name = toml_type(raw)
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def toml_type(raw: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "table"}
    return names.get(type(raw), type(raw).__name__)
