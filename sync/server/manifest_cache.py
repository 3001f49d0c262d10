"""An assessment's stored manifest, parsed once: the delivery form players get, its answer rules and marker."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from sync import protocol
from sync.server import content
from sync.server.answer_rules import AssessmentRules
from sync.server.models import Assessment

if TYPE_CHECKING:
    from sync.server.marking import Marker


@dataclass(frozen=True)
class Parsed:
    """A stored manifest parsed and validated once, with the delivery form players receive."""

    manifest: content.Manifest
    delivery: protocol.DeliveryAssessment

    @cached_property
    def rules(self) -> AssessmentRules:
        """What each item accepts as an answer, for checking results and checkpoints before they are stored."""
        return AssessmentRules(self.delivery)

    @cached_property
    def marker(self) -> Marker:
        """The manifest's marking tables, built on the first result marked against it."""
        from sync.server.marking import Marker  # the scoring rules are loaded only when results arrive

        return Marker(self.manifest)


class ManifestCache:
    """Parsed manifests by assessment and content hash, the most recent few (thread-safe).

    A stored manifest never changes under its content hash, so a parse is good for the life of the process
    (and the same in every worker); without this each login and each result re-parsed and re-validated it.
    """

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._parsed: OrderedDict[tuple[str, str], Parsed] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, assessment: Assessment) -> Parsed:
        key = (assessment.id, assessment.content_hash)
        with self._lock:
            found = self._parsed.get(key)
            if found is not None:
                self._parsed.move_to_end(key)
                return found
        parsed = parse(assessment)
        with self._lock:
            self._parsed[key] = parsed
            while len(self._parsed) > self._size:
                self._parsed.popitem(last=False)
        return parsed


def parse(assessment: Assessment) -> Parsed:
    """The assessment's stored manifest parsed afresh (no cache)."""
    manifest = content.load_stored_manifest(assessment.manifest_json)
    return Parsed(manifest=manifest, delivery=manifest.delivery_form())


def parsed(assessment: Assessment, manifests: ManifestCache | None) -> Parsed:
    """The assessment's parsed manifest, from `manifests` when the caller has the cache, else parsed afresh."""
    return manifests.get(assessment) if manifests is not None else parse(assessment)
