"""Media in a package: which files are allowed, checked by their first bytes, and hashed for storage by sha256."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sync.protocol import MediaRole
from sync.server.content.errors import MANIFEST_NAME, PackageError, PackageLimits
from sync.server.content.files import PackageFiles, check_entry_name
from sync.server.content.manifest import MediaAsset

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


def media_references(raw: dict[str, Any]) -> list[tuple[str, MediaRole, Any]]:
    refs: list[tuple[str, MediaRole, Any]] = []
    for s, section in enumerate(raw.get("sections", [])):
        for i, item in enumerate(section.get("items", [])):
            for role in ("image", "audio"):
                if item.get(role) is not None:
                    refs.append((f"sections[{s}].items[{i}].{role}", role, item[role]))
    return refs


def load_media(
    files: PackageFiles, ref: Any, *, role: MediaRole, where: str, limits: PackageLimits
) -> tuple[MediaAsset, bytes]:
    if not isinstance(ref, str):
        raise PackageError(MANIFEST_NAME, where, "must be a path inside the package, e.g. 'media/cat.png'")
    try:
        path = check_entry_name(ref, source=MANIFEST_NAME)
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
