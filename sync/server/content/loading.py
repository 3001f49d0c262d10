"""Loading a package folder or zip completely (nothing kept until all is checked) and re-reading a stored one."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sync.server.content.checks import parse_manifest_json, refuse_nul, validate_manifest
from sync.server.content.errors import MANIFEST_NAME, PackageError, PackageLimits
from sync.server.content.files import PackageFiles, check_counts, folder_files, zip_files
from sync.server.content.manifest import Manifest, MediaAsset
from sync.server.content.media import MediaFile, load_media, media_references
from sync.server.content.qti.package import IMS_MANIFEST, convert_package

log = logging.getLogger(__name__)

DEFAULT_LIMITS = PackageLimits()


@dataclass(frozen=True)
class LoadedPackage:
    manifest: Manifest
    media: list[MediaFile]
    content_hash: str


def load_package(
    source: Path, *, limits: PackageLimits = DEFAULT_LIMITS, untimed_section_minutes: int | None = None
) -> LoadedPackage:
    """Reads and checks a package folder or .zip completely; raises PackageError before anything is kept.

    A package with `imsmanifest.xml` (and no manifest.json) is an IMS Content Package of QTI items, converted
    first; its sections without a time limit get `untimed_section_minutes`, or the package is refused."""
    if source.is_dir():
        opener = folder_files(source)
    elif source.is_file() and source.suffix.lower() == ".zip":
        opener = zip_files(source, max_read_bytes=limits.max_total_bytes)
    else:
        raise PackageError(str(source), None, "not a package folder or .zip file; check the path")
    with opener as files:
        check_counts(files, limits)
        if MANIFEST_NAME not in files.sizes and IMS_MANIFEST in files.sizes:
            return _load_qti(files, limits=limits, untimed_section_minutes=untimed_section_minutes)
        return _load(files, source=source, limits=limits)


def _load_qti(files: PackageFiles, *, limits: PackageLimits, untimed_section_minutes: int | None) -> LoadedPackage:
    if untimed_section_minutes is not None and not 0 < untimed_section_minutes <= 600:
        raise PackageError(
            IMS_MANIFEST, None, f"untimed sections given {untimed_section_minutes} minutes; use 1 to 600"
        )
    converted = convert_package(files, limits=limits, untimed_section_minutes=untimed_section_minutes)
    try:
        loaded = _checked(files, converted.raw, limits=limits)
    except PackageError as exc:
        raise _in_item_file(exc, converted.item_files) from exc
    # The version is derived from the content, so loading the same package twice finds it already loaded and a
    # changed package becomes a new version instead of a refused one.
    version = f"qti-{loaded.content_hash[:12]}"
    manifest = loaded.manifest.model_copy(update={"version": version})
    return LoadedPackage(manifest=manifest, media=loaded.media, content_hash=manifest.content_hash())


def _in_item_file(exc: PackageError, item_files: dict[tuple[int, int], str]) -> PackageError:
    """A check on the converted manifest names a manifest.json path; name the item's file instead."""
    match = re.match(r"sections\[(\d+)\]\.items\[(\d+)\]\.?(.*)", exc.field or "")
    if exc.file != MANIFEST_NAME or match is None:
        return exc
    file = item_files.get((int(match.group(1)), int(match.group(2))))
    if file is None:
        return exc
    field = match.group(3) or None
    return PackageError(file, f"{field} (as converted)" if field else None, exc.message)


def _load(files: PackageFiles, *, source: Path, limits: PackageLimits) -> LoadedPackage:
    if MANIFEST_NAME not in files.sizes:
        raise PackageError(
            MANIFEST_NAME,
            None,
            f"missing from {source.name}; every package needs one at its top (or {IMS_MANIFEST} for QTI)",
        )
    if files.sizes[MANIFEST_NAME] > limits.max_manifest_bytes:
        raise PackageError(
            MANIFEST_NAME,
            None,
            f"{files.sizes[MANIFEST_NAME]} bytes; the limit is {limits.max_manifest_bytes}; shorten it",
        )
    raw = parse_manifest_json(files.read(MANIFEST_NAME, limits.max_manifest_bytes))
    return _checked(files, raw, limits=limits)


def _checked(files: PackageFiles, raw: dict[str, Any], *, limits: PackageLimits) -> LoadedPackage:
    refuse_nul(raw)  # only new packages: one an older server stored keeps loading
    manifest = validate_manifest(raw)
    media: dict[str, MediaFile] = {}
    assets: dict[str, MediaAsset] = {}
    for where, role, ref in media_references(raw):
        if ref in assets:
            continue
        asset, data = load_media(files, ref, role=role, where=where, limits=limits)
        assets[ref] = asset
        media.setdefault(asset.sha256, MediaFile(asset.sha256, PurePosixPath(ref).name, asset.mime_type, data))
    unused = sorted(set(files.sizes) - set(assets) - {MANIFEST_NAME, IMS_MANIFEST})
    if unused:
        log.info("package %s: ignoring %d unreferenced files: %s", manifest.id, len(unused), unused[:10])
    resolved = _resolve(manifest, assets)
    return LoadedPackage(manifest=resolved, media=list(media.values()), content_hash=resolved.content_hash())


def load_stored_manifest(text: str) -> Manifest:
    """Re-reads a manifest the server stored (Manifest.model_dump_json()); all media must be resolved."""
    manifest = validate_manifest(parse_manifest_json(text.encode()))
    for where, _role, ref in media_references(manifest.model_dump(mode="json")):
        if isinstance(ref, str):
            raise PackageError(MANIFEST_NAME, where, "stored manifest has an unresolved media path; reload the package")
    return manifest


def _resolve(manifest: Manifest, assets: dict[str, MediaAsset]) -> Manifest:
    sections = []
    for section in manifest.sections:
        items = []
        for item in section.items:
            changes = {role: assets[ref] for role in ("image", "audio") if isinstance(ref := getattr(item, role), str)}
            items.append(item.model_copy(update=changes))
        sections.append(section.model_copy(update={"items": items}))
    return manifest.model_copy(update={"sections": sections})
