"""Hiding secrets from what the support bundle copies: known secret values first, a few safe shapes second.

Known secrets are the values themselves, gathered before anything is copied (the config's secret-named settings,
URL passwords, the journal's tokens, what the shapes below find anywhere in the bundle) and then hidden wherever
they occur, in any case and with or without the dash or space a person types. The shapes are kept conservative
so that support can still read paths and machine names: an access code written XXXX-XXXX (or "code ABCDEFGH"),
an Authorization header's token, the `user:password@` of a URL, and the value of a secret-named setting.
A config file that was valid TOML is still valid TOML after redaction, with the same keys."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import tomllib
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from typing import Any

from player.known_secrets import REDACTED, URL_USERINFO, KnownSecrets

_ALREADY = REDACTED[:-1]
"""A value already hidden, as a field's pattern takes it (it stops before the closing bracket)."""
URL_USER_REDACTED = "redacted"
"""What stands for a URL's `user:password`: no brackets, so the URL still parses (brackets mean IPv6 there)."""

# ---- which names are secret --------------------------------------------------------------------------------

SECRET_WORDS = ("token", "password", "passwd", "passphrase", "secret", "credential", "apikey", "privatekey", "cookie")
"""Anywhere in a name (its words joined): "attempt_token", "staffPassword", "api_key", "credentials"."""
SECRET_WHOLE_WORDS = frozenset({"pin", "pass", "auth", "oauth", "authorization", "creds"})
"""Only as a word of their own: "staff_pin", "staffPin", "auth_header"; not "spinner", "author", "passage"."""
_KEY_NOT_SECRET_AFTER = frozenset({"idempotency", "sort", "check", "cache", "primary", "foreign", "lookup"})
"""A name ending in "key" is secret ("api_key", "signing_key") unless it is one of these keys that only identify
something ("idempotency_key"); "key" alone is doctor's check key and "keyring_backend" is a choice, not a key."""
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def name_words(name: str) -> list[str]:
    """ "INVIGIL_API_KEY" -> ["invigil", "api", "key"]; "staffPin" -> ["staff", "pin"]."""
    return [word.lower() for word in _WORDS.findall(name)]


def is_secret_name(name: str) -> bool:
    """True for a setting, column, header or field whose value must never be shown."""
    words = name_words(name)
    joined = "".join(words)
    if any(word in joined for word in SECRET_WORDS) or "accesscode" in joined:
        return True
    if any(word in SECRET_WHOLE_WORDS for word in words):
        return True
    return len(words) >= 2 and words[-1] in ("key", "keys") and words[-2] not in _KEY_NOT_SECRET_AFTER


# ---- the shapes ------------------------------------------------------------------------------------------------

"""The `user:password@` of any URL; greedy to the last @ before the host, so an unescaped @ in a password is
taken whole."""
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/\-]{8,}=*)")
_BASIC = re.compile(r"(?i)\b(basic\s+)([A-Za-z0-9+/]{4,}=*)")
_ALNUM = "0-9A-Za-z"
_CROCKFORD = "0-9A-HJKMNP-TV-Za-hjkmnp-tv-z"
"""The characters codes are made of (sync/crockford.py: no I, L, O or U), in any case. Without the word "code"
before it, only these make a code: "room-12ab" and "lab1-pc03" are machine names, not codes."""
_CODE_DASHED = re.compile(rf"(?<![{_ALNUM}-])([{_CROCKFORD}]{{4}})-([{_CROCKFORD}]{{4}})(?![{_ALNUM}-])")
"""An access code as printed (sync/accesscode.py), in any case. Two all-lowercase words ("read-back") are not
taken, nor a UUID's inner groups."""
_CODE_SPACED = re.compile(rf"(?<![{_ALNUM}])([0-9A-HJKMNP-TV-Z]{{4}}) ([0-9A-HJKMNP-TV-Z]{{4}})(?![{_ALNUM}])")
"""A code typed with a space, in capitals with a letter and a digit ("ABCD 1234"); "from 2027" is not one."""
_CODE_AFTER_WORD = re.compile(
    r"(?i)\b((?:access[\s_-]?)?codes?\b[\"']?\s*[:=]?\s*[\"']?)([0-9a-z]{4})[\s-]?([0-9a-z]{4})(?![0-9a-z-])"
)
"""Eight code characters just after the word "code" ("code ABCDEFGH", "code: abcd 1234"); lowercase letters only
count with a digit among them, so "the code from your slip" stays readable."""
_NAME = r"[A-Za-z_][\w.\-]*"
_QUOTED = r"\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'"
_SCHEME = r"(?:(?i:bearer|basic|digest|token)\s+)?"
_SETTING_LINE = re.compile(rf"(?m)^([ \t#]*)([\"']?)({_NAME})\2([ \t]*=[ \t]*)({_QUOTED}|[^\n#]*?)([ \t]*(?:#.*)?)$")
"""A TOML or INI assignment on its own line (also commented out): the whole value, even a multi-line string."""
_FIELD = re.compile(rf"(?<![\w.\-])([\"']?)({_NAME})\1(\s*[=:]\s*)({_SCHEME})({_QUOTED}|[^\s,;&)}}\]\"']+)")
"""A `name=value`, `name: value` or `"name": "value"` inside a line (a log's fields, a repr'd dict, JSON)."""
_HEADER = re.compile(
    rf"(?i)(?<![\w.\-])([\"']?)((?:proxy-)?authorization|(?:set-)?cookie)\1(\s*[=:]\s*)({_QUOTED}|[^\r\n]*\S)"
)
"""An Authorization header (any scheme: Token, Basic, Bearer, Digest with its response="...") or a Cookie: its whole
value is secret, to the end of the line (or of its quoted string in a repr'd dict), not just its first word."""
_QUERY_SECRET_NAMES = frozenset({"sig", "signature", "key", "code", "session", "sessionid", "sid", "otp", "jwt"})
"""Query parameters that carry a secret though their name alone would not say so in a log (a signed URL's sig)."""
_QUERY = re.compile(r"(?<=[?&;])([A-Za-z_][\w.\-]*)=((?:[^&#\s\"'<>,]|,(?!\s|$))+)")
"""A URL query's `name=value` (after ? or &): its value ends at the next &, # or space, or a comma that ends a
phrase in a log line ("server http://h/?token=x, data ...")."""


def _code_is_plausible(first: str, second: str, *, dashed: bool) -> bool:
    both = first + second
    if dashed:
        return not both.isalpha() or not both.islower()
    return any(c.isdigit() for c in both) or both.isupper()


# ---- redaction -------------------------------------------------------------------------------------------------


class Redactor:
    """Learns secrets (`learn`, before anything is written) and hides them and the shapes (`text`, `json_value`,
    `toml`)."""

    def __init__(self, known: KnownSecrets | None = None) -> None:
        self.known = known if known is not None else KnownSecrets()

    # -- learning

    def learn(self, text: str, *, config: bool = False) -> None:
        """Every secret the shapes find in `text`, so that each is hidden in every file, in every spelling.
        config: `text` is a config file, whose `name = value` lines run to the line's end (or a string's)."""
        self.known.add_url_userinfo(text)
        for match in _BEARER.finditer(text):
            self.known.add(match.group(2))
        for match in _BASIC.finditer(text):
            self._learn_basic(match.group(2))
        for match in _CODE_DASHED.finditer(text):
            if _code_is_plausible(match.group(1), match.group(2), dashed=True):
                self.known.add(match.group(1) + match.group(2))
        for match in _CODE_SPACED.finditer(text):
            if _code_is_plausible(match.group(1), match.group(2), dashed=False):
                self.known.add(match.group(1) + match.group(2))
        for match in _CODE_AFTER_WORD.finditer(text):
            if _code_is_plausible(match.group(2), match.group(3), dashed=False):
                self.known.add(match.group(2) + match.group(3))
        for match in _SETTING_LINE.finditer(text) if config else ():
            if is_secret_name(match.group(3)):
                self.known.add(_unquote(match.group(5)))
        for match in _HEADER.finditer(text):
            self.known.add(_unquote(match.group(4)))
        for match in _QUERY.finditer(text):
            if _is_secret_query(match.group(1)):
                self.known.add(match.group(2))
        for match in _secret_fields(text):
            self.known.add(_unquote(match.group(5)))

    def _learn_basic(self, encoded: str) -> bool:
        """Learns an HTTP Basic credential (and the password inside it); False if `encoded` is not one."""
        try:
            decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, colon, password = decoded.partition(":")
        if not colon or not user.isprintable():
            return False
        self.known.add(encoded)
        self.known.add(password)
        return True

    def learn_values(self, data: Any, *, secret: bool = False) -> None:
        """The values under secret-named keys (at any depth) of parsed TOML or JSON, and every URL password."""
        if isinstance(data, Mapping):
            for key, value in data.items():
                self.learn_values(value, secret=secret or is_secret_name(str(key)))
        elif isinstance(data, list | tuple):
            for value in data:
                self.learn_values(value, secret=secret)
        elif isinstance(data, str):
            self.known.add_url_userinfo(data)
            if secret:
                self.known.add(data)
        elif secret:
            self.known.add(data)

    # -- hiding

    def text(self, text: str, *, config: bool = False) -> str:
        """`text` with every known secret and every secret shape hidden. config: `text` is a config file, whose
        secret-named `name = value` lines are hidden to the line's end (or the end of a multi-line string) and
        show "[redacted]" in quotes, as TOML needs."""
        text = URL_USERINFO.sub(lambda m: f"{m.group(1)}{URL_USER_REDACTED}@", text)
        text = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        text = _BASIC.sub(lambda m: f"{m.group(1)}{REDACTED}" if self._learn_basic(m.group(2)) else m.group(0), text)
        if config:
            text = _SETTING_LINE.sub(self._hide_setting, text)
        text = _CODE_AFTER_WORD.sub(
            lambda m: m.group(1) + REDACTED if _code_is_plausible(m.group(2), m.group(3), dashed=False) else m.group(0),
            text,
        )
        text = _HEADER.sub(_hide_header, text)
        text = _QUERY.sub(lambda m: f"{m.group(1)}={REDACTED}" if _is_secret_query(m.group(1)) else m.group(0), text)
        text = _hide_fields(text)
        text = _CODE_DASHED.sub(
            lambda m: REDACTED if _code_is_plausible(m.group(1), m.group(2), dashed=True) else m.group(0), text
        )
        text = _CODE_SPACED.sub(
            lambda m: REDACTED if _code_is_plausible(m.group(1), m.group(2), dashed=False) else m.group(0), text
        )
        return self.known.hide(text)

    @staticmethod
    def _hide_setting(match: re.Match[str]) -> str:
        lead, quote, name, equals, value, comment = match.groups()
        if not is_secret_name(name) or not value.strip() or _ALREADY in value:
            return match.group(0)
        if value[:1] not in "\"'" and not _is_toml_value(value):
            comment = ""  # `password = abc#def` is no value and comment: all of it may be the password
        return f'{lead}{quote}{name}{quote}{equals}"{REDACTED}"{comment}'

    def json_value(self, value: Any, *, secret: bool = False) -> Any:
        """`value` (parsed JSON) with its strings redacted and every value under a secret-named field hidden (at
        any depth; null stays null); the keys and the shape are kept, so it is still valid JSON."""
        if isinstance(value, Mapping):
            return {
                key: self.json_value(item, secret=secret or is_secret_name(str(key))) for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.json_value(item, secret=secret) for item in value]
        if secret and value is not None:
            return REDACTED
        return self.text(value) if isinstance(value, str) else value

    def toml(self, text: str) -> str:
        """A config file's text redacted. When the original is valid TOML, so is the copy, with the same keys:
        the text is redacted line by line (comments and layout kept) and, should that not parse the same, the
        parsed settings are written out again redacted instead."""
        try:
            original = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return self.text(text, config=True)
        redacted = self.text(text, config=True)
        try:
            parsed = tomllib.loads(redacted)
            # Same keys, and every value under a secret-named key or table hidden: a line rule knows no table, so
            # `key = "ab"` under [creds] (too short to be hidden as a known value) is caught here.
            if _key_paths(parsed) == _key_paths(original) and _hidden_where(self._redact_parsed(original), parsed):
                return redacted
        except tomllib.TOMLDecodeError:
            pass
        return "# the settings re-written with secrets hidden (comments and layout not kept)\n" + dump_toml(
            self._redact_parsed(original)
        )

    def _redact_parsed(self, data: Any, *, secret: bool = False) -> Any:
        if isinstance(data, dict):
            return {key: self._redact_parsed(item, secret=secret or is_secret_name(key)) for key, item in data.items()}
        if isinstance(data, list):
            return [self._redact_parsed(item, secret=secret) for item in data]
        if secret:
            return REDACTED
        return self.text(data) if isinstance(data, str) else data


def _secret_fields(text: str) -> Iterator[re.Match[str]]:
    """The secret-named `name=value` fields of `text`, wherever they sit on a line. A field whose name is not
    secret ("sync.client: password=x", "failed: token=x") gives back all but its name, so the field inside its
    value is found too: a log line's `logger: ` prefix never hides what follows it."""
    place = 0
    while (match := _FIELD.search(text, place)) is not None:
        _quote, name, _sep, _scheme, value = match.groups()
        if is_secret_name(name) and _ALREADY not in value and value.lower() not in _SCHEMES:
            yield match
            place = match.end()
        else:
            place = match.end(2)


_SCHEMES = ("bearer", "basic", "digest", "token")


def _hide_fields(text: str) -> str:
    pieces: list[str] = []
    done = 0
    for match in _secret_fields(text):
        quote, name, sep, scheme, value = match.groups()
        shown = f"{value[0]}{REDACTED}{value[0]}" if value[:1] in "\"'" else REDACTED
        pieces += [text[done : match.start()], f"{quote}{name}{quote}{sep}{scheme}{shown}"]
        done = match.end()
    return "".join(pieces) + text[done:] if pieces else text


def _hide_header(match: re.Match[str]) -> str:
    quote, name, sep, value = match.groups()
    if _ALREADY in value:
        return match.group(0)
    shown = f"{value[0]}{REDACTED}{value[0]}" if value[:1] in "\"'" and value[-1:] == value[:1] else REDACTED
    return f"{quote}{name}{quote}{sep}{shown}"


def _is_secret_query(name: str) -> bool:
    return is_secret_name(name) or name.lower() in _QUERY_SECRET_NAMES


def _is_toml_value(text: str) -> bool:
    try:
        tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return False
    return True


def _unquote(value: str) -> str:
    value = value.strip()
    for quote in ('"""', "'''", '"', "'"):
        if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
            inner = value[len(quote) : -len(quote)]
            return inner.strip("\n") if len(quote) == 3 else inner
    return value


def _hidden_where(wanted: Any, got: Any) -> bool:
    """True if `got` holds REDACTED wherever `wanted` (the parsed settings redacted) does; a value hidden whole
    (a secret array as one "[redacted]") counts for everything in it."""
    if isinstance(got, str) and got == REDACTED:
        return True
    if isinstance(wanted, str) and wanted == REDACTED:
        return False
    if isinstance(wanted, dict):
        return isinstance(got, dict) and all(_hidden_where(v, got.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(got, list) and len(got) == len(wanted) and all(map(_hidden_where, wanted, got))
    return True


def _key_paths(data: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()
    if isinstance(data, dict):
        for key, item in data.items():
            paths.add((*prefix, key))
            paths |= _key_paths(item, (*prefix, key))
    return paths


# ---- writing TOML back ------------------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dump_toml(data: Mapping[str, Any]) -> str:
    """`data` (as tomllib parsed it) as TOML text: plain values first, then each table under its header."""
    return _dump_table(data, ())


def _dump_table(data: Mapping[str, Any], path: tuple[str, ...]) -> str:
    plain = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in data.items() if isinstance(v, Mapping)}
    lines = [f"{_key(key)} = {_value(value)}" for key, value in plain.items()]
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, table in tables.items():
        sub = (*path, key)
        text += f"\n[{'.'.join(_key(k) for k in sub)}]\n" + _dump_table(table, sub)
    return text


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are all TOML basic-string escapes
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"not a TOML value: {type(value).__name__}")
