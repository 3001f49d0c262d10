"""An item's `autoplay` (false: the recording waits for the student's Play; QTI autostart="false"): refused where
it cannot mean anything or would break a dictation, left out of stored manifests and delivery forms while true
(so content hashes and older players are unchanged), and carried to the player when false."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from sync.protocol import DeliveryItem
from sync.server.content import PackageError
from sync.server.content.checks import validate_manifest

OGG_SHA = hashlib.sha256(b"OggS").hexdigest()
AUDIO = {"path": "media/clip.ogg", "sha256": OGG_SHA, "mime_type": "audio/ogg", "size": 4}


def raw(item: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A one-item manifest: `item`, or a single-choice item with `fields` added."""
    if item is None:
        item = {"id": "q1", "type": "single_choice", "prompt": "Pick", "correct": "a"} | fields
        item["options"] = [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]
    section = {"id": "s1", "title": "Part", "time_limit_minutes": 5, "items": [item]}
    return {"id": "t", "version": "1", "title": "T", "sections": [section]}


def refusal(content: dict[str, Any]) -> PackageError:
    with pytest.raises(PackageError) as info:
        validate_manifest(content)
    return info.value


def test_autoplay_false_without_audio_is_refused_like_max_plays() -> None:
    error = refusal(raw(autoplay=False))
    assert (error.file, error.field) == ("manifest.json", "sections[0].items[0].autoplay")
    assert "set, but the item has no audio; add audio" in str(error)


def test_a_dictation_may_not_wait_for_play() -> None:
    dictation = {"id": "d1", "type": "dictation", "prompt": "Type it", "text": "A sentence.", "audio": AUDIO}
    assert validate_manifest(raw(dictation | {"max_plays": 2})).sections[0].items[0].autoplay is True
    error = refusal(raw(dictation | {"max_plays": 2, "autoplay": False}))
    assert error.field == "sections[0].items[0].autoplay"
    assert "a dictation's recording is the test and always starts by itself" in str(error)


def test_autoplay_is_stored_only_when_false_so_older_content_hashes_stay() -> None:
    plain = validate_manifest(raw(audio=AUDIO, max_plays=2))
    said_true = validate_manifest(raw(audio=AUDIO, max_plays=2, autoplay=True))
    waits = validate_manifest(raw(audio=AUDIO, max_plays=2, autoplay=False))

    assert plain.sections[0].items[0].autoplay is True
    assert "autoplay" not in json.dumps(plain.model_dump(mode="json"))
    assert plain.content_hash() == said_true.content_hash()
    assert waits.content_hash() != plain.content_hash()
    assert waits.sections[0].items[0].model_dump(mode="json")["autoplay"] is False


def test_the_delivery_form_carries_autoplay_only_when_false() -> None:
    starts = DeliveryItem(id="q1", type="short_text", prompt="Say")
    waits = DeliveryItem(id="q1", type="short_text", prompt="Say", autoplay=False)

    assert "autoplay" not in starts.model_dump_json()  # an older player reads the form as before
    assert json.loads(waits.model_dump_json())["autoplay"] is False
    assert DeliveryItem.model_validate_json(waits.model_dump_json()).autoplay is False
