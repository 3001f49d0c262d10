"""Loading a package folder or zip completely (nothing kept until all is checked) and re-reading a stored one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sync.server.content.checks import parse_manifest_json, refuse_nul, validate_manifest
from sync.server.content.errors import MANIFEST_NAME, PackageError, PackageLimits
from sync.server.content.files import PackageFiles, check_counts, folder_files, zip_files
from sync.server.content.manifest import Manifest, MediaAsset
from sync.server.content.media import MediaFile, load_media, media_references

log = logging.getLogger(__name__)

DEFAULT_LIMITS = PackageLimits()


@dataclass(frozen=True)
class LoadedPackage:
    manifest: Manifest
    media: list[MediaFile]
    content_hash: str


def load_package(source: Path, *, limits: PackageLimits = DEFAULT_LIMITS) -> LoadedPackage:
    """Reads and checks a package folder or .zip completely; raises PackageError before anything is kept."""
    if source.is_dir():
        opener = folder_files(source)
    elif source.is_file() and source.suffix.lower() == ".zip":
        opener = zip_files(source)
    else:
        raise PackageError(str(source), None, "not a package folder or .zip file; check the path")
    with opener as files:
        return _load(files, source=source, limits=limits)


def _load(files: PackageFiles, *, source: Path, limits: PackageLimits) -> LoadedPackage:
    check_counts(files, limits)
    if MANIFEST_NAME not in files.sizes:
        raise PackageError(MANIFEST_NAME, None, f"missing from {source.name}; every package needs one at its top")
    if files.sizes[MANIFEST_NAME] > limits.max_manifest_bytes:
        raise PackageError(
            MANIFEST_NAME,
            None,
            f"{files.sizes[MANIFEST_NAME]} bytes; the limit is {limits.max_manifest_bytes}; shorten it",
        )
    raw = parse_manifest_json(files.read(MANIFEST_NAME, limits.max_manifest_bytes))
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
    unused = sorted(set(files.sizes) - set(assets) - {MANIFEST_NAME})
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
