"""Content packages: the manifest model with keys, loading a checked folder or zip, and the delivery form."""

from __future__ import annotations

from sync.server.content.errors import MANIFEST_NAME, PackageError, PackageLimits
from sync.server.content.loading import LoadedPackage, load_package, load_stored_manifest
from sync.server.content.manifest import (
    AnyItem,
    DictationItem,
    ExtendedTextItem,
    Manifest,
    MediaAsset,
    MultipleChoiceItem,
    Option,
    Section,
    ShortTextItem,
    SingleChoiceItem,
    manifest_json_schema,
)
from sync.server.content.media import MediaFile

__all__ = [
    "MANIFEST_NAME",
    "AnyItem",
    "DictationItem",
    "ExtendedTextItem",
    "LoadedPackage",
    "Manifest",
    "MediaAsset",
    "MediaFile",
    "MultipleChoiceItem",
    "Option",
    "PackageError",
    "PackageLimits",
    "Section",
    "ShortTextItem",
    "SingleChoiceItem",
    "load_package",
    "load_stored_manifest",
    "manifest_json_schema",
]
