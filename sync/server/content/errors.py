"""A refused package's error (file, field, what to do) and the size limits every package is read under."""

from __future__ import annotations

from dataclasses import dataclass

MANIFEST_NAME = "manifest.json"
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
