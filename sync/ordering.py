"""The order an attempt sees: a delivery form's shuffled sections and choice items, put in the attempt's own order.

QTI lets a section shuffle its children (the `ordering` class, `shuffle="true"`; a sectionPart with
`fixed="true"` keeps its position) and a choice interaction shuffle its choices (`shuffle="true"`; the `choice`
class, attribute `fixed`: "If fixed is true for a choice then the position of this choice within the interaction
must not be changed by the delivery engine even if the immediately enclosing interaction supports the shuffling of
choices", QTI 2.1/2.2 Information Model; qti-simple-choice `fixed` in QTI 3.0). The
order is drawn from the attempt id alone, through SHA-256, never `random` or `hash()`: a resume after a power cut,
a move to another machine or a newer player shows the same order, and nothing about it has to be stored.

Answers stay keyed by item id and option id, so marking never depends on the order; the order of the sections
never changes (each has its own timer and instructions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    # Types only: the player imports this before its first paint, and pydantic's models cost time to import.
    from sync.protocol import DeliveryAssessment, DeliveryItem, DeliverySection

T = TypeVar("T")


def _rank(seed: str, scope: str, element_id: str) -> bytes:
    """Where an element falls in its shuffle: the same on every machine, process and Python version. `scope`
    (the section or item id) keeps two items with options "a", "b", "c" from sharing one order."""
    key = "\x00".join((seed, scope, element_id))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def shuffled(
    elements: Sequence[T], *, seed: str, scope: str, id_of: Callable[[T], str], fixed: Collection[str]
) -> list[T]:
    """`elements` in the order `seed` draws, those whose id is in `fixed` at their own positions, the others
    sorted by their rank into the positions left."""
    movable = [e for e in elements if id_of(e) not in fixed]
    movable.sort(key=lambda e: _rank(seed, scope, id_of(e)))
    drawn = iter(movable)
    return [e if id_of(e) in fixed else next(drawn) for e in elements]


def _item_as_presented(item: DeliveryItem, *, seed: str) -> DeliveryItem:
    if not item.shuffle or len(item.options) < 2:
        return item
    fixed = {option.id for option in item.options if option.fixed}
    options = shuffled(item.options, seed=seed, scope=f"item:{item.id}", id_of=lambda o: o.id, fixed=fixed)
    return item.model_copy(update={"options": options})


def _section_as_presented(section: DeliverySection, *, seed: str) -> DeliverySection:
    items = [_item_as_presented(item, seed=seed) for item in section.items]
    if section.shuffle:
        items = shuffled(
            items, seed=seed, scope=f"section:{section.id}", id_of=lambda i: i.id, fixed=set(section.fixed_items)
        )
    return section.model_copy(update={"items": items})


def presented(assessment: DeliveryAssessment, *, seed: str) -> DeliveryAssessment:
    """`assessment` as the attempt `seed` (its id) is shown it: shuffled sections and choice items in that
    attempt's order, everything else as it was. An assessment without shuffles comes back equal to itself."""
    sections = [_section_as_presented(section, seed=seed) for section in assessment.sections]
    return assessment.model_copy(update={"sections": sections})
