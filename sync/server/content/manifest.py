"""The manifest model with keys and scoring rules, its JSON Schema, and the key-free form a player receives."""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from sync.protocol import (
    ChoiceOption,
    DeliveryAssessment,
    DeliveryItem,
    DeliverySection,
    MediaRef,
    MediaRole,
)
from sync.server.content.scoring_rules import QtiScoring

ITEM_TYPES = ("single_choice", "multiple_choice", "short_text", "extended_text", "dictation")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


# ---- the manifest model ---------------------------------------------------------------------------


def _unset(value: object) -> bool:
    """For `exclude_if` on the fields QTI content brought (ordering, choice counts, scoring rules, seconds): left
    out of the dump while unset, so every package stored before them keeps its content hash."""
    return value is None or value is False or value == 0 or value == []


def _is_true(value: object) -> bool:
    """For `exclude_if` on `autoplay`: left out of the dump while it holds its default (True)."""
    return value is True


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
    fixed: bool = Field(default=False, exclude_if=_unset, description="With shuffle: this option keeps its place.")


class _ItemBase(_Model):
    id: Id
    prompt: str = Field(min_length=1)
    image: MediaPath | None = None
    audio: MediaPath | None = None
    max_plays: int | None = Field(default=None, ge=1, description="Plays allowed for the audio; none: unlimited.")
    autoplay: bool = Field(
        default=True,
        exclude_if=_is_true,
        description="The audio plays by itself on the first visit (false: only when the student presses Play).",
    )
    points: float = Field(default=1, ge=0.01, le=1000, description="The item's maximum score (2 decimals).")
    qti: QtiScoring | None = Field(
        default=None,
        exclude_if=_unset,
        description="KEY: QTI response processing; when set it alone decides the score (not for dictation).",
    )


_SHUFFLE = Field(default=False, exclude_if=_unset, description="Options in an order of each attempt's own.")


class SingleChoiceItem(_ItemBase):
    type: Literal["single_choice"]
    options: list[Option] = Field(min_length=2)
    correct: str | None = Field(
        default=None, exclude_if=_unset, description="KEY: the id of the correct option (required without qti)."
    )
    shuffle: bool = _SHUFFLE


class MultipleChoiceItem(_ItemBase):
    type: Literal["multiple_choice"]
    options: list[Option] = Field(min_length=2)
    correct: list[str] = Field(
        default_factory=list,
        exclude_if=_unset,
        description="KEY: the ids of all correct options (at least one; required without qti).",
    )
    scoring: Literal["all_or_nothing", "partial"] = Field(
        default="all_or_nothing",
        description="partial: points * max(0, right picks - wrong picks) / number of correct options.",
    )
    shuffle: bool = _SHUFFLE
    max_choices: int | None = Field(default=None, ge=1, exclude_if=_unset, description="Most options ticked.")
    min_choices: int = Field(default=0, ge=0, exclude_if=_unset, description="Fewest options ticked (a hint).")


class ShortTextItem(_ItemBase):
    type: Literal["short_text"]
    accepted: list[str] = Field(
        default_factory=list,
        exclude_if=_unset,
        description="KEY: every answer that scores full points (at least one; required without qti).",
    )
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
    time_limit_minutes: int | None = Field(
        default=None, gt=0, le=600, exclude_if=_unset, description="Exactly one of this and time_limit_seconds."
    )
    time_limit_seconds: int | None = Field(default=None, ge=10, le=36_000, exclude_if=_unset)
    items: list[Item] = Field(min_length=1)
    shuffle: bool = Field(default=False, exclude_if=_unset, description="Items in an order of each attempt's own.")
    fixed_items: list[str] = Field(
        default_factory=list, exclude_if=_unset, description="With shuffle: ids of items that keep their place."
    )

    def time_limit(self) -> int:
        """The section's time in seconds (before any extra time)."""
        if self.time_limit_seconds is not None:
            return self.time_limit_seconds
        assert self.time_limit_minutes is not None, "checked when the package was loaded"
        return self.time_limit_minutes * 60


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
                    time_limit_seconds=section.time_limit(),
                    items=[_delivery_item(item) for item in section.items],
                    shuffle=section.shuffle,
                    fixed_items=section.fixed_items,
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
        options=[ChoiceOption(id=option.id, text=option.text, fixed=option.fixed) for option in options],
        media=media,
        max_plays=item.max_plays,
        autoplay=item.autoplay,
        max_length=max_length,
        shuffle=isinstance(item, SingleChoiceItem | MultipleChoiceItem) and item.shuffle,
        max_choices=item.max_choices if isinstance(item, MultipleChoiceItem) else None,
        min_choices=item.min_choices if isinstance(item, MultipleChoiceItem) else 0,
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


def manifest_json_schema() -> str:
    """The JSON Schema of manifest.json as committed in docs/content-package.schema.json."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Manifest.model_json_schema(),
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
