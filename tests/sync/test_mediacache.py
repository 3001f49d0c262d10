"""MediaCache: files are stored only when every byte matches the content hash, however the bytes arrive."""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.mediacache import MediaCache, MediaMismatch
from sync.protocol import MediaRef


def ref_for(data: bytes) -> MediaRef:
    return MediaRef(
        role="image", sha256=hashlib.sha256(data).hexdigest(), filename="a.png", mime_type="image/png", size=len(data)
    )


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(min_value=0), max_size=6))
def test_matching_bytes_are_stored_whole_however_they_are_chunked(data: bytes, cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = MediaCache(Path(tmp) / "media")
        ref = ref_for(data)
        path = cache.store(ref, split(data, cuts))
        assert path.read_bytes() == data
        assert cache.has_valid(ref)
        assert [p.name for p in path.parent.iterdir()] == [ref.sha256]


@given(data=st.binary(min_size=1, max_size=500), other=st.binary(max_size=500))
def test_other_bytes_are_never_stored(data: bytes, other: bytes) -> None:
    if other == data:
        return
    with tempfile.TemporaryDirectory() as tmp:
        cache = MediaCache(Path(tmp) / "media")
        ref = ref_for(data)
        with pytest.raises(MediaMismatch):
            cache.store(ref, [other])
        assert list((Path(tmp) / "media").iterdir()) == []
        assert not cache.has_valid(ref)


def test_a_bad_download_leaves_a_good_cached_file_alone(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path)
    ref = ref_for(b"the real picture")
    path = cache.store(ref, [b"the real picture"])
    with pytest.raises(MediaMismatch, match="the bytes hash to"):
        cache.store(ref, [b"the fake picture"])
    with pytest.raises(MediaMismatch, match="4 bytes arrived, 16 were expected"):
        cache.store(ref, [b"the "])
    assert path.read_bytes() == b"the real picture"


@pytest.mark.parametrize("bad", ["../etc/passwd", "A" * 64, "abc", "0" * 63 + "/"])
def test_a_hash_that_could_name_another_path_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="not a sha256 content hash"):
        MediaCache(tmp_path).path_for(bad)
