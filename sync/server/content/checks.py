"""Checking a manifest: JSON parsing, the model, and the rules a field type cannot say, in the author's terms."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from sync.server.content.errors import MANIFEST_NAME, PackageError
from sync.server.content.manifest import (
    ITEM_TYPES,
    DictationItem,
    Manifest,
    MultipleChoiceItem,
    Section,
    ShortTextItem,
    SingleChoiceItem,
)
from sync.server.content.scoring_checks import check_scoring


def parse_manifest_json(data: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise PackageError(MANIFEST_NAME, None, f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise PackageError(
            MANIFEST_NAME,
            None,
            f"line {exc.lineno}, column {exc.colno}: malformed JSON: {exc.msg}; fix it there",
        ) from exc
    if not isinstance(raw, dict):
        raise PackageError(MANIFEST_NAME, None, "must be a JSON object {...} at the top level")
    return raw


def validate_manifest(raw: dict[str, Any]) -> Manifest:
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise _package_error_from(exc) from exc
    _check_rules(manifest)
    return manifest


def refuse_nul(raw: dict[str, Any]) -> None:
    """PackageError at the first string (or field name) of a new package holding U+0000, by its path: PostgreSQL
    cannot store it in a text column (the title, the version), and a section title holding it would have every
    heartbeat naming that section refused. Iterative, as deep as json.loads may nest."""
    stack: list[tuple[str, object]] = [("", raw)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            raise PackageError(MANIFEST_NAME, where or None, _NUL_REFUSED)
        if isinstance(value, dict):
            for key in value:
                if "\x00" in key:
                    raise PackageError(MANIFEST_NAME, f"{where}.{key!r}" if where else repr(key), _NUL_REFUSED)
            stack.extend((f"{where}.{key}" if where else key, inner) for key, inner in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{where}[{index}]", inner) for index, inner in reversed(list(enumerate(value))))


_NUL_REFUSED = "contains a NUL character (U+0000, \\u0000 in JSON), which is not allowed in a package; remove it"


def _field_path(loc: Iterable[int | str]) -> str:
    path = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ITEM_TYPES and isinstance(previous, int):
            pass  # the discriminated union adds the item type to the path; authors never wrote it
        elif part in ("str", "MediaAsset") or part.startswith("function-"):
            pass
        else:
            path += f".{part}" if path else part
        previous = part
    return path


def _package_error_from(exc: ValidationError) -> PackageError:
    """The first problem pydantic found, in the author's terms; the rest show up once it is fixed."""
    error = exc.errors()[0]
    where = _field_path(error["loc"])
    kind = error["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        found = error.get("ctx", {}).get("tag")
        what = f"unknown item type '{found}'" if found is not None else "missing"
        return PackageError(MANIFEST_NAME, f"{where}.type", f"{what}; use one of {', '.join(ITEM_TYPES)}")
    if kind == "missing":
        message = "missing; this field is required"
    elif kind == "extra_forbidden":
        message = "unknown field; remove it or check its spelling"
    elif kind == "string_pattern_mismatch" and where.endswith("id"):
        message = f"{error.get('input')!r} is not a usable id; use up to 64 letters, digits, '_', '.' or '-'"
    else:
        message = f"{error['msg']} (got {error.get('input')!r})"
    others = exc.error_count() - 1
    if others:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return PackageError(MANIFEST_NAME, where, message)


def _check_rules(manifest: Manifest) -> None:
    """Rules a field type alone cannot say: unique ids, keys that name real options, dictation audio."""
    seen: dict[str, str] = {}

    def claim(identifier: str, where: str) -> None:
        if identifier in seen:
            raise PackageError(
                MANIFEST_NAME,
                where,
                f"duplicate id '{identifier}' (also at {seen[identifier]}); ids must be unique",
            )
        seen[identifier] = where

    claim(manifest.id, "id")
    for s, section in enumerate(manifest.sections):
        claim(section.id, f"sections[{s}].id")
        _check_section(section, f"sections[{s}]")
        for i, item in enumerate(section.items):
            where = f"sections[{s}].items[{i}]"
            claim(item.id, f"{where}.id")
            _check_keys_present(item, where)
            check_scoring(item, where)
            if isinstance(item, SingleChoiceItem | MultipleChoiceItem):
                _check_choice_item(item, where)
            if item.max_plays is not None and item.audio is None and not isinstance(item, DictationItem):
                raise PackageError(MANIFEST_NAME, f"{where}.max_plays", "set, but the item has no audio; add audio")
            if not item.autoplay and item.audio is None and not isinstance(item, DictationItem):
                raise PackageError(MANIFEST_NAME, f"{where}.autoplay", "set, but the item has no audio; add audio")
            if not item.autoplay and isinstance(item, DictationItem):
                raise PackageError(
                    MANIFEST_NAME,
                    f"{where}.autoplay",
                    "false, but a dictation's recording is the test and always starts by itself; remove autoplay",
                )
            if isinstance(item, DictationItem) and not re.search(r"\w", item.text):
                raise PackageError(MANIFEST_NAME, f"{where}.text", "has no words to compare; write the passage")
            if isinstance(item, DictationItem) and (item.audio is None or item.max_plays is None):
                missing = "audio" if item.audio is None else "max_plays"
                raise PackageError(MANIFEST_NAME, f"{where}.{missing}", "missing; every dictation item needs it")


def _check_section(section: Section, where: str) -> None:
    if section.time_limit_minutes is None and section.time_limit_seconds is None:
        raise PackageError(MANIFEST_NAME, f"{where}.time_limit_minutes", "missing; this field is required")
    if section.time_limit_minutes is not None and section.time_limit_seconds is not None:
        raise PackageError(
            MANIFEST_NAME, f"{where}.time_limit_seconds", "set as well as time_limit_minutes; keep only one of them"
        )
    item_ids = [item.id for item in section.items]
    for f, fixed in enumerate(section.fixed_items):
        if fixed not in item_ids:
            raise PackageError(
                MANIFEST_NAME,
                f"{where}.fixed_items[{f}]",
                f"names item '{fixed}', which section '{section.id}' lacks; use one of its items' ids",
            )


def _check_keys_present(item: object, where: str) -> None:
    """The keys a field type cannot require: needed unless QTI scoring rules mark the item."""
    if isinstance(item, DictationItem):
        if item.qti is not None:
            raise PackageError(MANIFEST_NAME, f"{where}.qti", "dictation is marked word by word; remove qti")
        return
    if getattr(item, "qti", None) is not None:
        return
    if isinstance(item, SingleChoiceItem) and item.correct is None:
        raise PackageError(MANIFEST_NAME, f"{where}.correct", "missing; this field is required")
    if isinstance(item, MultipleChoiceItem) and not item.correct:
        raise PackageError(MANIFEST_NAME, f"{where}.correct", "missing or empty; list the correct options' ids")
    if isinstance(item, ShortTextItem) and not item.accepted:
        raise PackageError(MANIFEST_NAME, f"{where}.accepted", "missing or empty; list every accepted answer")


def _check_choice_item(item: SingleChoiceItem | MultipleChoiceItem, where: str) -> None:
    option_ids: set[str] = set()
    for o, option in enumerate(item.options):
        if option.id in option_ids:
            raise PackageError(
                MANIFEST_NAME,
                f"{where}.options[{o}].id",
                f"duplicate option id '{option.id}' in item '{item.id}'",
            )
        option_ids.add(option.id)
    if isinstance(item, MultipleChoiceItem):
        if item.max_choices is not None and item.max_choices > len(item.options):
            raise PackageError(
                MANIFEST_NAME,
                f"{where}.max_choices",
                f"{item.max_choices}, but item '{item.id}' has only {len(item.options)} options; lower it",
            )
        if item.max_choices is not None and item.min_choices > item.max_choices:
            raise PackageError(
                MANIFEST_NAME, f"{where}.min_choices", f"{item.min_choices} is more than max_choices; lower it"
            )
    if item.correct is None:
        return
    keys = [item.correct] if isinstance(item.correct, str) else item.correct
    for k, key in enumerate(keys):
        if key not in option_ids:
            field_name = "correct" if isinstance(item.correct, str) else f"correct[{k}]"
            raise PackageError(
                MANIFEST_NAME,
                f"{where}.{field_name}",
                f"names option '{key}', which item '{item.id}' lacks; use one of {sorted(option_ids)}",
            )
    if len(set(keys)) != len(keys):
        raise PackageError(MANIFEST_NAME, f"{where}.correct", "lists the same option twice; list each once")
