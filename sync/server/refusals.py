"""A refused request body in words: pydantic's errors say what is wrong, where, and what to do about it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sync.protocol import API_PREFIX, EARLIEST_TIME, LATEST_TIME

MAX_PROBLEMS = 5
"""How many problems one refusal lists (the rest show once these are fixed)."""

# The branches of a union (an answer is text or a list of option ids) and validator wrappers appear in an
# error's location; a person never wrote them.
_BRANCH = re.compile(r"^(list\[)?(constrained-)?(str|int|float|bool|none)\]?$|^function-|^json-or-python")
_TIME_BOUNDS = {
    EARLIEST_TIME.isoformat().replace("+00:00", "Z"),
    LATEST_TIME.isoformat().replace("+00:00", "Z"),
    EARLIEST_TIME.isoformat(),
    LATEST_TIME.isoformat(),
}
_SHAPE_ERRORS = ("string_type", "list_type", "int_type", "float_type", "bool_type", "none_required")


def shown(value: object, limit: int = 40) -> str:
    """A value as a message may quote it: repr (which escapes lone surrogates), cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_path(loc: Sequence[object]) -> str:
    """`answers.2.value` from pydantic's location (where in the body), without the parts no one wrote."""
    parts: list[str] = []
    for part in loc:
        if part in ("body", "query", "path") and not parts:
            continue
        if isinstance(part, str) and _BRANCH.match(part):
            continue
        if part == "[key]" and parts:
            parts[-1] = f"key {parts[-1]}"
            continue
        parts.append(_part(part))
    return ".".join(parts) or "request body"


def _part(part: object) -> str:
    # A location may hold a name the client made up (an unknown field, a dict key): it is quoted only as far
    # as it can be sent back (no lone surrogates, no megabytes).
    text = str(part)
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 40 else text[:37] + "..."


def explain(error: Mapping[str, Any]) -> str:
    """What is wrong with one field and what to do, in place of pydantic's generic sentence."""
    kind = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    value = error.get("input")
    if kind == "string_unicode":
        return "is not valid Unicode text (it holds a lone surrogate such as \\ud800); send the text as UTF-8"
    if kind == "string_too_long":
        size = f"is {len(value):,} characters long; " if isinstance(value, str) else ""
        return f"{size}at most {_number(ctx.get('max_length'))} characters are accepted; shorten it"
    if kind == "too_long":
        return f"has too many entries; at most {_number(ctx.get('max_length'))} are accepted"
    if kind == "timezone_aware":
        return "has no time zone; add one, e.g. 2027-03-01T09:00:00Z (UTC) or 2027-03-01T10:00:00+01:00"
    if kind in ("greater_than_equal", "less_than_equal") and str(ctx.get("ge", ctx.get("le"))) in _TIME_BOUNDS:
        return "is too close to the year 1 or 9999 to convert to UTC; send the real time, with its time zone"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {"greater_than_equal": "at least", "less_than_equal": "at most"}.get(kind, "within range:")
        limit = ctx.get("ge", ctx.get("le", ctx.get("gt", ctx.get("lt"))))
        return f"is {shown(value)}; it must be {bound} {limit}"
    if kind == "finite_number":
        return "is not a finite number (NaN and Infinity are not numbers to store); send a number"
    if kind == "json_invalid":
        return f"is not valid JSON ({ctx.get('error', 'malformed')}); send a JSON object as {API_PREFIX}/openapi.json describes"
    if kind in ("model_attributes_type", "dict_type", "model_type") and field_path(error["loc"]) == "request body":
        return "must be a JSON object sent as Content-Type: application/json"
    if kind == "extra_forbidden":
        return "is not a field of this request; remove it or check its spelling"
    if kind == "missing":
        return "is missing; this field is required"
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return message


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def problems(errors: Sequence[Mapping[str, Any]], *, limit: int = MAX_PROBLEMS) -> list[str]:
    """`field: what is wrong` for each problem, at most `limit`.

    An answer's value is text or a list of option ids: pydantic reports a bad one against both shapes. Only the
    complaint about the shape that was sent is kept (a too-long text is not also "not a list"); a value of
    neither shape gets one sentence saying which two are accepted.
    """
    by_path: dict[str, list[Mapping[str, Any]]] = {}
    for error in errors:
        by_path.setdefault(_union_path(error["loc"]), []).append(error)
    lines: list[str] = []
    for group in by_path.values():
        specific = [e for e in group if e["type"] not in _SHAPE_ERRORS] or group
        if len(specific) > 1 and all(e["type"] in _SHAPE_ERRORS for e in specific):
            lines.append(f"{field_path(specific[0]['loc'])}: {_shapes(specific)}")
            continue
        lines.extend(f"{field_path(e['loc'])}: {explain(e)}" for e in specific)
    return list(dict.fromkeys(lines))[:limit]  # a union's branches may say the same thing twice


def describe(errors: Sequence[Mapping[str, Any]]) -> str:
    """One sentence for a refusal: "The request is not valid: a: ...; b: ..."."""
    return "The request is not valid: " + "; ".join(problems(errors)) + "."


_SHAPE_NAMES = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false", "none": "null"}


def _shapes(errors: Sequence[Mapping[str, Any]]) -> str:
    """For a value of none of a union's shapes: the shapes accepted ("text or a list of option ids")."""
    names: list[str] = []
    for error in errors:
        branch = next((p for p in error["loc"] if isinstance(p, str) and _BRANCH.match(p)), "")
        # The one union with a list on the wire is an answer's value: text, or a list of option ids.
        name = "a list of option ids" if branch.startswith("list[") else None
        names.append(name or _SHAPE_NAMES.get(branch.removeprefix("constrained-"), branch))
    names = list(dict.fromkeys(names))
    return "must be " + (", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0])


def _union_path(loc: Sequence[object]) -> str:
    # The location up to the first union branch: both branches' complaints about one value share it.
    head: list[str] = []
    for part in loc:
        if isinstance(part, str) and _BRANCH.match(part):
            break
        head.append(str(part))
    return "\x00".join(head) if len(head) < len(loc) else "\x00".join(str(p) for p in loc) + "\x00*"


def unreadable_body(cause: BaseException | None) -> str:
    """The refusal of a body FastAPI could not decode (its 400 hides why; `cause` is what it caught)."""
    if isinstance(cause, UnicodeDecodeError):
        why = "it is not UTF-8 encoded JSON"
    elif isinstance(cause, RecursionError):
        why = "its JSON is nested too deeply"
    elif isinstance(cause, ValueError) and "digits" in str(cause):
        why = "it holds a number with too many digits"
    else:
        why = "it is not valid JSON"
    return (
        f"The request body could not be read: {why}. Send a JSON object as Content-Type: application/json, as "
        f"{API_PREFIX}/openapi.json describes."
    )
