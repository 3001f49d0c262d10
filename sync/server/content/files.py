"""Reading a package's files from a folder or a zip, refusing paths that escape it, symlinks and zip bombs."""

from __future__ import annotations

import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sync.server.content.errors import MANIFEST_NAME, PackageError, PackageLimits

MANIFEST_NAMES = (MANIFEST_NAME, "imsmanifest.xml")
"""What marks a package's top folder: our manifest.json, or an IMS Content Package's manifest (QTI)."""
BOMB_RATIO = 100
BOMB_MIN_BYTES = 1024 * 1024


@dataclass(frozen=True)
class PackageFiles:
    """The package's files by POSIX path, read lazily so unreferenced files cost nothing."""

    sizes: dict[str, int]
    read: Callable[[str, int], bytes]
    """Reads a path, refusing more than the given number of bytes."""


def check_entry_name(name: str, *, source: str) -> str:
    """Refuses absolute paths and '..' so no entry can land outside the package folder."""
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise PackageError(name, None, f"absolute or Windows-style path in {source}; use paths inside the package")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise PackageError(name, None, f"'..' in a path in {source} would escape the package folder; remove it")
    return str(PurePosixPath(*parts))


def check_counts(files: PackageFiles, limits: PackageLimits) -> None:
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
def zip_files(source: Path, *, max_read_bytes: int = PackageLimits().max_total_bytes) -> Iterator[PackageFiles]:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(source.name, None, f"not a readable zip file ({exc}); zip the package again") from exc
    with archive:
        yield _zip_listing(archive, source, max_read_bytes)


def _zip_listing(archive: zipfile.ZipFile, source: Path, max_read_bytes: int) -> PackageFiles:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise PackageError(info.filename, None, f"symlink in {source.name}; zip the real file instead")
        if info.is_dir() or info.filename.startswith("__MACOSX/"):
            continue  # macOS adds resource forks under __MACOSX/; they are never content
        _check_ratio(info, source)
        infos[check_entry_name(info.filename, source=source.name)] = info
    # Zipping a folder often puts everything under one top-level folder: accept that as the package root.
    prefix = ""
    if not any(name in infos for name in MANIFEST_NAMES):
        tops = {PurePosixPath(name).parts[0] for name in infos}
        if len(tops) == 1 and any(f"{next(iter(tops))}/{name}" in infos for name in MANIFEST_NAMES):
            prefix = f"{next(iter(tops))}/"
    infos = {name.removeprefix(prefix): info for name, info in infos.items()}
    read_so_far = [0]

    def read(path: str, limit: int) -> bytes:
        # The declared size can lie (zip bombs): never read more than limit + 1 bytes.
        try:
            with archive.open(infos[path]) as stream:
                data = stream.read(limit + 1)
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as exc:
            raise PackageError(path, None, f"damaged inside {source.name} ({exc}); zip the package again") from exc
        if len(data) > limit:
            raise PackageError(path, None, f"larger than the limit of {limit} bytes; make the file smaller")
        # Headers can lie about every size at once: what is really unpacked is counted too.
        read_so_far[0] += len(data)
        if read_so_far[0] > max_read_bytes:
            raise PackageError(path, None, f"unpacks past {max_read_bytes} bytes in all (a zip bomb?); refused")
        return data

    return PackageFiles(sizes={name: info.file_size for name, info in infos.items()}, read=read)


def _check_ratio(info: zipfile.ZipInfo, source: Path) -> None:
    """A large entry compressed far beyond what real content allows is a zip bomb; refused before it is read.
    (A header that lies about the size is caught when reading: no read takes more than its limit.)"""
    if info.file_size > BOMB_MIN_BYTES and info.file_size > BOMB_RATIO * max(info.compress_size, 1):
        raise PackageError(
            info.filename,
            None,
            f"in {source.name} expands {info.file_size // max(info.compress_size, 1)} times "
            f"(a zip bomb?); at most {BOMB_RATIO} times is allowed",
        )


@contextmanager
def folder_files(source: Path) -> Iterator[PackageFiles]:
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

    yield PackageFiles(sizes=sizes, read=read)
