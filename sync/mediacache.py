"""Content-addressed media files on disk: named by sha256, verified before use, written atomically."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from sync.protocol import MediaRef

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 16


class MediaMismatch(Exception):
    """Bytes written to the cache do not match the expected size or hash (nothing was stored)."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class MediaCache:
    """Media files under one folder (the player's data dir/media), one file per content hash."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, sha256: str) -> Path:
        # The hash comes from the server; checking its shape keeps a hostile value from naming a path outside the folder.
        if not _SHA256.match(sha256):
            raise ValueError(f"{sha256!r} is not a sha256 content hash (64 lowercase hex digits).")
        return self.folder / sha256

    def has_valid(self, ref: MediaRef) -> bool:
        """True when the file is present with the right size and hash; a damaged file counts as absent."""
        path = self.path_for(ref.sha256)
        try:
            if path.stat().st_size != ref.size:
                log.warning("cached media %s has the wrong size; it will be downloaded again", ref.sha256)
                return False
            if file_sha256(path) != ref.sha256:
                log.warning("cached media %s does not match its hash; it will be downloaded again", ref.sha256)
                return False
        except FileNotFoundError:
            return False
        return True

    def store(self, ref: MediaRef, chunks: Iterable[bytes]) -> Path:
        """Write `chunks` as the file for `ref`: verified size and hash, fsync, then os.replace.

        Raises MediaMismatch (and leaves the cache untouched) if the bytes are not the ones `ref` names.
        """
        final = self.path_for(ref.sha256)
        self.folder.mkdir(parents=True, exist_ok=True)
        # A unique temporary name in the same folder, so os.replace is atomic and two writers never share a file.
        tmp = self.folder / f".{ref.sha256}.{secrets.token_hex(4)}.part"
        try:
            with tmp.open("wb") as f:
                self._write_verified(ref, chunks, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_folder(self.folder)
        return final

    @staticmethod
    def _write_verified(ref: MediaRef, chunks: Iterable[bytes], f: BinaryIO) -> None:
        digest = hashlib.sha256()
        size = 0
        for chunk in chunks:
            size += len(chunk)
            # Stop early rather than fill the disk with a reply far bigger than promised.
            if size > ref.size:
                raise MediaMismatch(f"more than the expected {ref.size} bytes arrived")
            digest.update(chunk)
            f.write(chunk)
        if size != ref.size:
            raise MediaMismatch(f"{size} bytes arrived, {ref.size} were expected")
        if digest.hexdigest() != ref.sha256:
            raise MediaMismatch(f"the bytes hash to {digest.hexdigest()[:12]}…, not {ref.sha256[:12]}…")


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder entry is flushed; Windows cannot open folders, and does not need it.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
