"""Content packages: the manifest model with keys, loading a checked folder or zip, and the delivery form."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sync.protocol import (
    ChoiceOption,
    DeliveryAssessment,
    DeliveryItem,
    DeliverySection,
    MediaRef,
    MediaRole,
)

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
ITEM_TYPES = ("single_choice", "multiple_choice", "short_text", "extended_text", "dictation")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MiB = 1024 * 1024


class PackageError(Exception):
    """A package was refused; names the file, the field (a JSON path) when there is one, and what to do."""

    def __init__(self, file: str, field: str | None, message: str) -> None:
        self.file = file
        self.field = field
        self.message = message
        super().__init__(f"{file}: {field}: {message}" if field else f"{file}: {message}")


@dataclass(frozen=True)
class PackageLimits:
    max_manifest_bytes: int = 1 * MiB
    max_media_bytes: int = 50 * MiB
    max_total_bytes: int = 200 * MiB
    max_files: int = 2000


# ---- the manifest model ---------------------------------------------------------------------------


class _Model(BaseModel):
    # Unknown fields are refused so that a misspelt key ("corect") never silently drops an answer key.
    model_config = ConfigDict(extra="forbid", frozen=True)


class MediaAsset(_Model):
    """A media reference after loading: the path inside the package plus what a player needs to fetch it."""

    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    mime_type: str
    size: int = Field(ge=0)


MediaPath = Annotated[
    str | MediaAsset,
    Field(description="A path inside the package, e.g. 'media/cat.png' (the server stores it resolved)."),
]
Id = Annotated[str, Field(pattern=ID_PATTERN, description="Letters, digits, '_', '.', '-'; at most 64.")]


class Option(_Model):
    id: Id
    text: str = Field(min_length=1)


class _ItemBase(_Model):
    id: Id
    prompt: str = Field(min_length=1)
    image: MediaPath | None = None
    audio: MediaPath | None = None
    max_plays: int | None = Field(default=None, ge=1, description="Plays allowed for the audio; none: unlimited.")
    points: float = Field(default=1, ge=0.01, le=1000, description="The item's maximum score (2 decimals).")


class SingleChoiceItem(_ItemBase):
    type: Literal["single_choice"]
    options: list[Option] = Field(min_length=2)
    correct: str = Field(description="KEY: the id of the correct option.")


class MultipleChoiceItem(_ItemBase):
    type: Literal["multiple_choice"]
    options: list[Option] = Field(min_length=2)
    correct: list[str] = Field(min_length=1, description="KEY: the ids of all correct options.")
    scoring: Literal["all_or_nothing", "partial"] = Field(
        default="all_or_nothing",
        description="partial: points * max(0, right picks - wrong picks) / number of correct options.",
    )


class ShortTextItem(_ItemBase):
    type: Literal["short_text"]
    accepted: list[str] = Field(min_length=1, description="KEY: every answer that scores full points.")
    case_sensitive: bool = False
    max_length: int = Field(default=200, ge=1, le=10_000)


class ExtendedTextItem(_ItemBase):
    type: Literal["extended_text"]
    guidance: str = Field(default="", description="KEY: notes for the person marking by hand.")
    max_length: int = Field(default=5000, ge=1, le=100_000)


class DictationItem(_ItemBase):
    type: Literal["dictation"]
    text: str = Field(min_length=1, description="KEY: the passage as spoken; scored word by word.")
    max_length: int = Field(default=2000, ge=1, le=100_000)


AnyItem = SingleChoiceItem | MultipleChoiceItem | ShortTextItem | ExtendedTextItem | DictationItem
Item = Annotated[AnyItem, Field(discriminator="type")]


class Section(_Model):
    id: Id
    title: str = Field(min_length=1)
    instructions: str = ""
    time_limit_minutes: int = Field(gt=0, le=600)
    items: list[Item] = Field(min_length=1)


class Manifest(_Model):
    """A whole assessment including answer keys and scoring rules; never sent to a player as is."""

    format_version: Literal[1] = 1
    id: Id
    version: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1)
    sections: list[Section] = Field(min_length=1)

    def items(self) -> dict[str, AnyItem]:
        return {item.id: item for section in self.sections for item in section.items}

    def content_hash(self) -> str:
        """sha256 over the canonical JSON of the resolved manifest; media enter through their own hashes."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(b"invigil-package-v1\n" + canonical.encode()).hexdigest()

    def delivery_form(self) -> DeliveryAssessment:
        """What a player receives: prompts, options and media, with every key and scoring rule left out."""
        return DeliveryAssessment(
            id=self.id,
            version=self.version,
            content_hash=self.content_hash(),
            title=self.title,
            sections=[
                DeliverySection(
                    id=section.id,
                    title=section.title,
                    instructions=section.instructions,
                    time_limit_seconds=section.time_limit_minutes * 60,
                    items=[_delivery_item(item) for item in section.items],
                )
                for section in self.sections
            ],
        )


def _delivery_item(item: AnyItem) -> DeliveryItem:
    media = [_media_ref(item.image, "image")] if item.image is not None else []
    if item.audio is not None:
        media.append(_media_ref(item.audio, "audio"))
    options = item.options if isinstance(item, SingleChoiceItem | MultipleChoiceItem) else []
    max_length = item.max_length if isinstance(item, ShortTextItem | ExtendedTextItem | DictationItem) else None
    return DeliveryItem(
        id=item.id,
        type=item.type,
        prompt=item.prompt,
        options=[ChoiceOption(id=option.id, text=option.text) for option in options],
        media=media,
        max_plays=item.max_plays,
        max_length=max_length,
    )


def _media_ref(ref: str | MediaAsset, role: MediaRole) -> MediaRef:
    if not isinstance(ref, MediaAsset):
        raise ValueError(f"media {ref!r} was never resolved; load the package with load_package()")
    return MediaRef(
        role=role,
        sha256=ref.sha256,
        filename=PurePosixPath(ref.path).name,
        mime_type=ref.mime_type,
        size=ref.size,
    )


# ---- media types -------------------------------------------------------------------------------------

_MEDIA_TYPES: dict[str, tuple[MediaRole, str]] = {
    ".png": ("image", "image/png"),
    ".jpg": ("image", "image/jpeg"),
    ".jpeg": ("image", "image/jpeg"),
    ".gif": ("image", "image/gif"),
    ".webp": ("image", "image/webp"),
    ".ogg": ("audio", "audio/ogg"),
    ".wav": ("audio", "audio/wav"),
    ".mp3": ("audio", "audio/mpeg"),
}


def _magic_matches(mime_type: str, data: bytes) -> bool:
    """The file's first bytes agree with its extension, so a renamed file cannot slip through."""
    head = data[:16]
    checks = {
        "image/png": head.startswith(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg": head.startswith(b"\xff\xd8\xff"),
        "image/gif": head[:6] in (b"GIF87a", b"GIF89a"),
        "image/webp": head[:4] == b"RIFF" and head[8:12] == b"WEBP",
        "audio/ogg": head.startswith(b"OggS"),
        "audio/wav": head[:4] == b"RIFF" and head[8:12] == b"WAVE",
        "audio/mpeg": head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0),
    }
    return checks.get(mime_type, False)


@dataclass(frozen=True)
class MediaFile:
    sha256: str
    filename: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class LoadedPackage:
    manifest: Manifest
    media: list[MediaFile]
    content_hash: str


# ---- reading a folder or zip -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Files:
    """The package's files by POSIX path, read lazily so unreferenced files cost nothing."""

    sizes: dict[str, int]
    read: Callable[[str, int], bytes]
    """Reads a path, refusing more than the given number of bytes."""


def _check_entry_name(name: str, *, source: str) -> str:
    """Refuses absolute paths and '..' so no entry can land outside the package folder."""
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise PackageError(name, None, f"absolute or Windows-style path in {source}; use paths inside the package")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise PackageError(name, None, f"'..' in a path in {source} would escape the package folder; remove it")
    return str(PurePosixPath(*parts))


def _check_counts(files: _Files, limits: PackageLimits) -> None:
    if len(files.sizes) > limits.max_files:
        raise PackageError(
            "(package)", None, f"{len(files.sizes)} files; at most {limits.max_files} are allowed per package"
        )
    total = sum(files.sizes.values())
    if total > limits.max_total_bytes:
        raise PackageError(
            "(package)",
            None,
            f"{total} bytes in all; the limit is {limits.max_total_bytes} bytes per package",
        )


@contextmanager
def _zip_files(source: Path) -> Iterator[_Files]:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(source.name, None, f"not a readable zip file ({exc}); zip the package again") from exc
    with archive:
        yield _zip_listing(archive, source)


def _zip_listing(archive: zipfile.ZipFile, source: Path) -> _Files:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise PackageError(info.filename, None, f"symlink in {source.name}; zip the real file instead")
        if info.is_dir() or info.filename.startswith("__MACOSX/"):
            continue  # macOS adds resource forks under __MACOSX/; they are never content
        infos[_check_entry_name(info.filename, source=source.name)] = info
    # Zipping a folder often puts everything under one top-level folder: accept that as the package root.
    prefix = ""
    if MANIFEST_NAME not in infos:
        tops = {PurePosixPath(name).parts[0] for name in infos}
        if len(tops) == 1 and f"{next(iter(tops))}/{MANIFEST_NAME}" in infos:
            prefix = f"{next(iter(tops))}/"
    infos = {name.removeprefix(prefix): info for name, info in infos.items()}

    def read(path: str, limit: int) -> bytes:
        # The declared size can lie (zip bombs): never read more than limit + 1 bytes.
        try:
            with archive.open(infos[path]) as stream:
                data = stream.read(limit + 1)
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as exc:
            raise PackageError(path, None, f"damaged inside {source.name} ({exc}); zip the package again") from exc
        if len(data) > limit:
            raise PackageError(path, None, f"larger than the limit of {limit} bytes; make the file smaller")
        return data

    return _Files(sizes={name: info.file_size for name, info in infos.items()}, read=read)


@contextmanager
def _folder_files(source: Path) -> Iterator[_Files]:
    sizes: dict[str, int] = {}
    for path in sorted(source.rglob("*")):
        name = path.relative_to(source).as_posix()
        if path.is_symlink():
            raise PackageError(name, None, "symlinks are not allowed in a package; copy the real file in")
        if path.is_file():
            sizes[name] = path.stat().st_size

    def read(name: str, limit: int) -> bytes:
        data = (source / name).read_bytes()
        if len(data) > limit:
            raise PackageError(name, None, f"larger than the limit of {limit} bytes; make the file smaller")
        return data

    yield _Files(sizes=sizes, read=read)


# ---- loading and validating --------------------------------------------------------------------------


def load_package(source: Path, *, limits: PackageLimits = PackageLimits()) -> LoadedPackage:
    """Reads and checks a package folder or .zip completely; raises PackageError before anything is kept."""
    if source.is_dir():
        opener = _folder_files(source)
    elif source.is_file() and source.suffix.lower() == ".zip":
        opener = _zip_files(source)
    else:
        raise PackageError(str(source), None, "not a package folder or .zip file; check the path")
    with opener as files:
        return _load(files, source=source, limits=limits)


def _load(files: _Files, *, source: Path, limits: PackageLimits) -> LoadedPackage:
    _check_counts(files, limits)
    if MANIFEST_NAME not in files.sizes:
        raise PackageError(MANIFEST_NAME, None, f"missing from {source.name}; every package needs one at its top")
    if files.sizes[MANIFEST_NAME] > limits.max_manifest_bytes:
        raise PackageError(
            MANIFEST_NAME,
            None,
            f"{files.sizes[MANIFEST_NAME]} bytes; the limit is {limits.max_manifest_bytes}; shorten it",
        )
    raw = _parse_manifest_json(files.read(MANIFEST_NAME, limits.max_manifest_bytes))
    manifest = _validate_manifest(raw)
    media: dict[str, MediaFile] = {}
    assets: dict[str, MediaAsset] = {}
    for where, role, ref in _media_references(raw):
        if ref in assets:
            continue
        asset, data = _load_media(files, ref, role=role, where=where, limits=limits)
        assets[ref] = asset
        media.setdefault(asset.sha256, MediaFile(asset.sha256, PurePosixPath(ref).name, asset.mime_type, data))
    unused = sorted(set(files.sizes) - set(assets) - {MANIFEST_NAME})
    if unused:
        log.info("package %s: ignoring %d unreferenced files: %s", manifest.id, len(unused), unused[:10])
    resolved = _resolve(manifest, assets)
    return LoadedPackage(manifest=resolved, media=list(media.values()), content_hash=resolved.content_hash())


def load_stored_manifest(text: str) -> Manifest:
    """Re-reads a manifest the server stored (Manifest.model_dump_json()); all media must be resolved."""
    manifest = _validate_manifest(_parse_manifest_json(text.encode()))
    for where, _role, ref in _media_references(manifest.model_dump(mode="json")):
        if isinstance(ref, str):
            raise PackageError(MANIFEST_NAME, where, "stored manifest has an unresolved media path; reload the package")
    return manifest


def _parse_manifest_json(data: bytes) -> dict[str, Any]:
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


def _validate_manifest(raw: dict[str, Any]) -> Manifest:
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise _package_error_from(exc) from exc
    _check_rules(manifest)
    return manifest


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
        for i, item in enumerate(section.items):
            where = f"sections[{s}].items[{i}]"
            claim(item.id, f"{where}.id")
            if isinstance(item, SingleChoiceItem | MultipleChoiceItem):
                _check_choice_item(item, where)
            if item.max_plays is not None and item.audio is None and not isinstance(item, DictationItem):
                raise PackageError(MANIFEST_NAME, f"{where}.max_plays", "set, but the item has no audio; add audio")
            if isinstance(item, DictationItem) and not re.search(r"\w", item.text):
                raise PackageError(MANIFEST_NAME, f"{where}.text", "has no words to compare; write the passage")
            if isinstance(item, DictationItem) and (item.audio is None or item.max_plays is None):
                missing = "audio" if item.audio is None else "max_plays"
                raise PackageError(MANIFEST_NAME, f"{where}.{missing}", "missing; every dictation item needs it")


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


def _media_references(raw: dict[str, Any]) -> list[tuple[str, MediaRole, Any]]:
    refs: list[tuple[str, MediaRole, Any]] = []
    for s, section in enumerate(raw.get("sections", [])):
        for i, item in enumerate(section.get("items", [])):
            for role in ("image", "audio"):
                if item.get(role) is not None:
                    refs.append((f"sections[{s}].items[{i}].{role}", role, item[role]))
    return refs


def _load_media(
    files: _Files, ref: Any, *, role: MediaRole, where: str, limits: PackageLimits
) -> tuple[MediaAsset, bytes]:
    if not isinstance(ref, str):
        raise PackageError(MANIFEST_NAME, where, "must be a path inside the package, e.g. 'media/cat.png'")
    try:
        path = _check_entry_name(ref, source=MANIFEST_NAME)
    except PackageError as exc:
        raise PackageError(MANIFEST_NAME, where, f"'{ref}': {exc.message}") from exc
    if path not in files.sizes:
        raise PackageError(MANIFEST_NAME, where, f"names media '{ref}', which is not in the package; add the file")
    suffix = PurePosixPath(path).suffix.lower()
    if suffix not in _MEDIA_TYPES:
        raise PackageError(path, where, f"unsupported media type '{suffix}'; use one of {', '.join(_MEDIA_TYPES)}")
    kind, mime_type = _MEDIA_TYPES[suffix]
    if kind != role:
        raise PackageError(path, where, f"is {kind}, but the field needs {role}; reference it from '{kind}'")
    if files.sizes[path] > limits.max_media_bytes:
        raise PackageError(
            path, where, f"{files.sizes[path]} bytes; media files may be at most {limits.max_media_bytes}"
        )
    data = files.read(path, limits.max_media_bytes)
    if not _magic_matches(mime_type, data):
        raise PackageError(path, where, f"does not contain {mime_type} data although named '{suffix}'; re-export it")
    digest = hashlib.sha256(data).hexdigest()
    return MediaAsset(path=path, sha256=digest, mime_type=mime_type, size=len(data)), data


def _resolve(manifest: Manifest, assets: dict[str, MediaAsset]) -> Manifest:
    sections = []
    for section in manifest.sections:
        items = []
        for item in section.items:
            changes = {role: assets[ref] for role in ("image", "audio") if isinstance(ref := getattr(item, role), str)}
            items.append(item.model_copy(update=changes))
        sections.append(section.model_copy(update={"items": items}))
    return manifest.model_copy(update={"sections": sections})


def manifest_json_schema() -> str:
    """The JSON Schema of manifest.json as committed in docs/content-package.schema.json."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Manifest.model_json_schema(),
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
