"""The order an attempt sees (sync.ordering): a permutation, fixed ones in place, the same for the same attempt on
any machine, sections never moved."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.ordering import presented, shuffled
from sync.protocol import ChoiceOption, DeliveryAssessment, DeliveryItem, DeliverySection


def choice_item(item_id: str, options: list[tuple[str, bool]], *, shuffle: bool = True) -> DeliveryItem:
    return DeliveryItem(
        id=item_id,
        type="single_choice",
        prompt=f"Prompt of {item_id}",
        options=[ChoiceOption(id=o, text=f"Option {o}", fixed=fixed) for o, fixed in options],
        shuffle=shuffle,
    )


def section(section_id: str, items: list[DeliveryItem], *, shuffle: bool, fixed: list[str]) -> DeliverySection:
    return DeliverySection(
        id=section_id, title=section_id, time_limit_seconds=600, items=items, shuffle=shuffle, fixed_items=fixed
    )


def assessment(*sections: DeliverySection) -> DeliveryAssessment:
    return DeliveryAssessment(id="a", version="1", content_hash="0" * 64, title="T", sections=list(sections))


LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
SIX = [(letter, False) for letter in LETTERS[:6]]


def item_ids(form: DeliveryAssessment, index: int = 0) -> list[str]:
    return [item.id for item in form.sections[index].items]


def option_ids(item: DeliveryItem) -> list[str]:
    return [option.id for option in item.options]


def test_a_known_attempt_always_gets_the_same_order() -> None:
    """Pinned: a resumed attempt after a player upgrade must see what it saw before. If this changes, every
    attempt in progress during an upgrade would see its questions move."""
    options = [(letter, letter == "c") for letter in LETTERS[:6]]
    form = assessment(section("s", [choice_item(f"q{n}", options) for n in range(1, 7)], shuffle=True, fixed=["q3"]))
    shown = presented(form, seed="attempt-1")
    assert item_ids(shown) == ["q1", "q2", "q3", "q5", "q4", "q6"]
    assert option_ids(shown.sections[0].items[0]) == ["d", "f", "c", "b", "a", "e"]


def test_another_process_with_another_hash_seed_draws_the_same_order() -> None:
    script = (
        "from sync.ordering import shuffled\n"
        "print(shuffled(list('abcdefgh'), seed='attempt-9', scope='s', id_of=str, fixed={'c'}))"
    )
    here = shuffled(list("abcdefgh"), seed="attempt-9", scope="s", id_of=str, fixed={"c"})
    for hash_seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
            cwd=Path(__file__).resolve().parents[2],  # this checkout's sync package
        )
        assert out.stdout.strip() == str(here)


def test_different_attempts_see_different_orders() -> None:
    orders = {tuple(shuffled(LETTERS[:5], seed=f"attempt-{n}", scope="s", id_of=str, fixed=())) for n in range(40)}
    assert len(orders) > 20  # of 120 possible; the same order for everyone would be no shuffle at all


def test_two_items_with_the_same_option_ids_are_shuffled_independently() -> None:
    form = assessment(
        section("s", [choice_item(f"q{n}", SIX) for n in range(8)], shuffle=False, fixed=[]),
    )
    shown = presented(form, seed="attempt-1")
    assert len({tuple(option_ids(item)) for item in shown.sections[0].items}) > 1


def test_without_shuffle_nothing_moves() -> None:
    form = assessment(
        section("s", [choice_item(f"q{n}", SIX, shuffle=False) for n in range(5)], shuffle=False, fixed=[]),
    )
    assert presented(form, seed="attempt-1") == form


@st.composite
def forms(draw: st.DrawFn) -> DeliveryAssessment:
    sections = []
    for s in range(draw(st.integers(1, 4))):
        items = []
        for i in range(draw(st.integers(1, 8))):
            options = draw(st.lists(st.sampled_from(LETTERS), min_size=0, max_size=8, unique=True))
            items.append(
                choice_item(f"s{s}-q{i}", [(o, draw(st.booleans())) for o in options], shuffle=draw(st.booleans()))
            )
        fixed = draw(st.lists(st.sampled_from([item.id for item in items]), unique=True))
        sections.append(section(f"s{s}", items, shuffle=draw(st.booleans()), fixed=fixed))
    return assessment(*sections)


@settings(max_examples=50)
@given(form=forms(), seed=st.text(max_size=40))
def test_presented_is_a_permutation_that_keeps_fixed_ones_and_sections_in_place(
    form: DeliveryAssessment, seed: str
) -> None:
    shown = presented(form, seed=seed)
    assert [s.id for s in shown.sections] == [s.id for s in form.sections]
    for before, after in zip(form.sections, shown.sections, strict=True):
        assert sorted(i.id for i in after.items) == sorted(i.id for i in before.items)
        for position, item in enumerate(before.items):
            if not before.shuffle or item.id in before.fixed_items:
                assert after.items[position].id == item.id
        by_id = {item.id: item for item in after.items}
        for item in before.items:
            moved = by_id[item.id]
            assert sorted(option_ids(moved)) == sorted(option_ids(item))
            assert {o.id: o for o in moved.options} == {o.id: o for o in item.options}  # texts go with their ids
            for position, option in enumerate(item.options):
                if not item.shuffle or option.fixed:
                    assert moved.options[position].id == option.id
    assert presented(form, seed=seed) == shown
