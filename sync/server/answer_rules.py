"""Results and checkpoints checked against their assessment: sections and items that exist, options, lengths.

The wire types bound every field on their own (sync.protocol); what only the assessment knows is checked here,
before anything is stored: an envelope names sections of the test, answers only items of those sections and each
once, a choice names the item's own options, and a text is no longer than its item accepts. A refusal is 422
with a sentence naming the item (or section) and what to send instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sync import protocol
from sync.server.errors import ServiceError
from sync.server.refusals import shown

_LISTED = 10
"""How many ids a message lists before "...": enough to see the mistake, never a wall of text."""


@dataclass(frozen=True)
class _Item:
    id: str
    type: protocol.ItemType
    section_id: str
    options: frozenset[str]
    option_ids: tuple[str, ...]
    max_length: int
    max_choices: int | None


def _listed(ids: Iterable[str]) -> str:
    ids = list(ids)
    return ", ".join(ids[:_LISTED]) + (", ..." if len(ids) > _LISTED else "")


def _refused(error: str, message: str) -> ServiceError:
    return ServiceError(422, error, message)


class AssessmentRules:
    """What an answer may be for each item of one assessment (built once per parsed manifest)."""

    def __init__(self, delivery: protocol.DeliveryAssessment) -> None:
        self._title = delivery.title
        self._sections: dict[str, tuple[str, ...]] = {
            section.id: tuple(item.id for item in section.items) for section in delivery.sections
        }
        self._items: dict[str, _Item] = {
            item.id: _Item(
                id=item.id,
                type=item.type,
                section_id=section.id,
                options=frozenset(option.id for option in item.options),
                option_ids=tuple(option.id for option in item.options),
                # A text item always has its own limit (content.py gives a default); the server-wide cap is for
                # one that somehow has none.
                max_length=item.max_length or protocol.DEFAULT_MAX_ANSWER_CHARS,
                max_choices=item.max_choices,
            )
            for section in delivery.sections
            for item in section.items
        }

    # ---- results -------------------------------------------------------------------------------

    def check_envelope(self, envelope: protocol.ResultEnvelope) -> None:
        """ServiceError (422) unless every section, item and answer of `envelope` fits the assessment."""
        sections = self._check_sections(envelope.section_ids)
        answered: set[str] = set()
        for answer in envelope.answers:
            item = self._items.get(answer.item_id)
            if item is None or item.section_id not in sections:
                raise self._not_in_sections(answer.item_id, item, envelope.section_ids)
            if answer.item_id in answered:
                raise _refused(
                    "answered_twice",
                    f"Item {answer.item_id} is answered twice in these results; nothing was stored. "
                    "Send each item's latest answer once.",
                )
            answered.add(answer.item_id)
            self._check_value(item, answer.value)

    def _check_sections(self, section_ids: list[str]) -> set[str]:
        if not section_ids:
            raise _refused(
                "unknown_section",
                "These results name no section; nothing was stored. List the sections they answer in section_ids.",
            )
        for section_id in section_ids:
            if section_id not in self._sections:
                raise _refused(
                    "unknown_section",
                    f"These results name section {shown(section_id)}, which the test {self._title!r} does not "
                    f"have (its sections: {_listed(self._sections)}); nothing was stored. Send results only for "
                    "this test's sections.",
                )
        if len(set(section_ids)) != len(section_ids):
            twice = next(s for s in section_ids if section_ids.count(s) > 1)
            raise _refused(
                "unknown_section",
                f"These results name section {twice} twice; nothing was stored. Name each section once.",
            )
        return set(section_ids)

    def _not_in_sections(self, item_id: str, item: _Item | None, section_ids: list[str]) -> ServiceError:
        if item is None:
            return _refused(
                "unknown_item",
                f"These results answer item {shown(item_id)}, which the test {self._title!r} does not have; "
                "nothing was stored. Send answers only for the test's own items.",
            )
        return _refused(
            "unknown_item",
            f"These results answer item {item_id} of section {item.section_id}, but name only the sections "
            f"{_listed(section_ids)}; nothing was stored. Send each answer with the results of its own section.",
        )

    def _check_value(self, item: _Item, value: protocol.AnswerValue) -> None:
        if item.type == "single_choice":
            if not isinstance(value, str):
                raise self._wrong_shape(item, "one option id as text, not a list")
            if value not in item.options:
                raise self._not_an_option(item, value)
        elif item.type == "multiple_choice":
            if not isinstance(value, list):
                raise self._wrong_shape(item, "a list of option ids, not text")
            for option in value:
                if option not in item.options:
                    raise self._not_an_option(item, option)
            if len(set(value)) != len(value):
                twice = next(o for o in value if value.count(o) > 1)
                raise _refused(
                    "not_an_option",
                    f"The answer to item {item.id} lists option {twice} twice; nothing was stored. "
                    "List each chosen option once.",
                )
            # QTI maxChoices: the most options the item lets a student tick. Fewer than min_choices is let
            # through: it only guides the player, and refusing would lose the student's answer.
            if item.max_choices is not None and len(value) > item.max_choices:
                raise _refused(
                    "too_many_choices",
                    f"The answer to item {item.id} ticks {len(value)} options; this item allows at most "
                    f"{item.max_choices}. Nothing was stored; untick {len(value) - item.max_choices}.",
                )
        else:
            if not isinstance(value, str):
                raise self._wrong_shape(item, "text, not a list")
            if len(value) > item.max_length:
                raise _refused(
                    "answer_too_long",
                    f"The answer to item {item.id} is {len(value):,} characters long; this item accepts at most "
                    f"{item.max_length:,}. Nothing was stored; shorten the answer.",
                )

    def _wrong_shape(self, item: _Item, expected: str) -> ServiceError:
        kind = item.type.replace("_", " ")
        return _refused(
            "wrong_answer_shape",
            f"The answer to item {item.id} ({kind}) must be {expected}; nothing was stored.",
        )

    def _not_an_option(self, item: _Item, option: str) -> ServiceError:
        return _refused(
            "not_an_option",
            f"The answer to item {item.id} names option {shown(option)}, which is not one of its options "
            f"({_listed(item.option_ids)}); nothing was stored. Send the ids of the options chosen.",
        )

    # ---- heartbeats and checkpoints ------------------------------------------------------------

    def check_heartbeat(self, beat: protocol.Heartbeat) -> None:
        """ServiceError (422) unless the section and item a heartbeat names (when it names them) exist: the room
        view shows them to the invigilator."""
        if beat.section_id is None:
            if beat.item_id is not None:
                raise _refused(
                    "unknown_section",
                    f"This heartbeat names item {shown(beat.item_id)} but no section; send the section too. "
                    "Nothing was saved.",
                )
            return
        items = self._sections.get(beat.section_id)
        if items is None:
            raise _refused(
                "unknown_section",
                f"This heartbeat is in section {shown(beat.section_id)}, which the test {self._title!r} does not "
                f"have (its sections: {_listed(self._sections)}); nothing was saved.",
            )
        if beat.item_id is not None and beat.item_id not in items:
            raise _refused(
                "unknown_item",
                f"This heartbeat is at item {shown(beat.item_id)}, which section {beat.section_id} does not have "
                f"(its items: {_listed(items)}); nothing was saved.",
            )

    def check_checkpoint(self, checkpoint: protocol.Checkpoint) -> None:
        """ServiceError (422) unless the checkpoint's section, item and played items exist in the assessment."""
        items = self._sections.get(checkpoint.section_id)
        if items is None:
            raise _refused(
                "unknown_section",
                f"This checkpoint is in section {shown(checkpoint.section_id)}, which the test {self._title!r} "
                f"does not have (its sections: {_listed(self._sections)}); nothing was saved.",
            )
        if checkpoint.item_id not in items:
            raise _refused(
                "unknown_item",
                f"This checkpoint is at item {shown(checkpoint.item_id)}, which section {checkpoint.section_id} "
                f"does not have (its items: {_listed(items)}); nothing was saved.",
            )
        for item_id in [*checkpoint.plays, *(play.item_id for play in checkpoint.plays_given_back)]:
            if item_id not in self._items:
                raise _refused(
                    "unknown_item",
                    f"This checkpoint counts plays of item {shown(item_id)}, which the test {self._title!r} "
                    "does not have; nothing was saved.",
                )
