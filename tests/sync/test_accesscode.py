"""Access codes: what a student may type, what they are told when it cannot be a code, and generation."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.accesscode import (
    ALPHABET,
    CODE_LENGTH,
    AccessCodeFormatError,
    display,
    generate,
    generate_distinct,
    is_well_formed,
    normalize,
)

codes = st.text(alphabet=ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH)


def _error(raw: str) -> AccessCodeFormatError:
    with pytest.raises(AccessCodeFormatError) as caught:
        normalize(raw)
    return caught.value


# ---- accepted forms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["ABCD1234", "abcd-1234", " AbCd 1234 ", "ab cd-12 34", "ABCD\u20131234", "abcd1234\n", "\tABCD-1234"],
)
def test_case_spaces_and_hyphens_are_ignored(typed: str) -> None:
    assert normalize(typed) == "ABCD1234"


@pytest.mark.parametrize(("typed", "expected"), [("OoIiLl00", "00111100"), ("1O2I-3L4o", "10213140")])
def test_letters_that_look_like_digits_read_as_those_digits(typed: str, expected: str) -> None:
    assert normalize(typed) == expected


def test_display_groups_the_code_in_fours() -> None:
    assert display("ABCD1234") == "ABCD-1234"
    assert display("abcd 1234") == "ABCD-1234"


@given(codes)
def test_display_round_trips(code: str) -> None:
    shown = display(code)
    assert len(shown) == CODE_LENGTH + 1
    assert normalize(shown) == code


@given(code=codes, data=st.data())
def test_any_case_and_separator_variation_normalises_to_the_code(code: str, data: st.DataObject) -> None:
    typed = ""
    for ch in code:
        typed += data.draw(st.sampled_from(["", " ", "-", "  ", " - "]))
        typed += data.draw(st.sampled_from([ch.lower(), ch.upper()]))
    typed += data.draw(st.sampled_from(["", " ", "\n"]))
    assert normalize(typed) == code
    assert is_well_formed(typed)


# ---- refused forms: the message tells the student what to fix ---------------------------------------


def test_too_short_says_how_many_were_typed() -> None:
    error = _error("ABCD-123")
    assert error.message == "An access code has 8 letters and digits; you typed 7."
    assert str(error) == error.message
    assert error.reason == "wrong_length"


def test_too_long_says_how_many_were_typed() -> None:
    assert _error("ABCD-12345").message == "An access code has 8 letters and digits; you typed 9."


def test_separators_do_not_count_towards_the_length() -> None:
    assert _error(" A-B-C ").message.endswith("you typed 3.")


@pytest.mark.parametrize("typed", ["", "   ", "-", " - "])
def test_nothing_typed_explains_what_a_code_looks_like(typed: str) -> None:
    error = _error(typed)
    assert error.reason == "empty"
    assert "ABCD-1234" in error.message
    assert "8 letters and digits" in error.message


def test_u_is_named_as_not_used() -> None:
    error = _error("ABCD-123U")
    assert error.message == "'U' is not used in access codes; check the slip."
    assert error.reason == "bad_character"


def test_a_bad_character_is_named_as_typed() -> None:
    assert _error("abcd-123u").message.startswith("'u' is not used")
    assert _error("ABCD.1234").message.startswith("'.' is not used")


def test_several_bad_characters_are_all_named_once() -> None:
    message = _error("U*U*1234").message
    assert message == "'U' and '*' are not used in access codes; check the slip."


def test_many_bad_characters_are_summarised() -> None:
    message = _error("UV*+&!12").message
    assert message.startswith("'U', '*' and '+' (and others) are not used")


def test_an_invisible_character_is_shown_escaped() -> None:
    assert _error("ABCD\x001234").message.startswith("'\\x00' is not used")


def test_bad_character_is_reported_before_length() -> None:
    # The student's real mistake is the wrong character; the length follows from it.
    assert _error("ABC_").reason == "bad_character"


def _reads_as_nothing(ch: str) -> bool:
    """Not a symbol even after NFKC + casefold (full-width 'Ａ' reads as 'A')."""
    folded = unicodedata.normalize("NFKC", ch).casefold()
    return not (len(folded) == 1 and folded.upper() in ALPHABET + "OIL-")


@given(
    code=codes,
    position=st.integers(min_value=0, max_value=CODE_LENGTH - 1),
    bad=st.characters(
        exclude_characters=ALPHABET + ALPHABET.lower() + "OoIiLl-\u2010\u2011\u2012\u2013\u2014\u2212",
        exclude_categories=("Zs", "Zl", "Zp", "Cc", "Cs"),
    ).filter(lambda ch: _reads_as_nothing(ch) and not ch.isspace() and ch.isprintable()),
)
def test_any_character_outside_the_alphabet_is_refused_by_name(code: str, position: int, bad: str) -> None:
    typed = code[:position] + bad + code[position + 1 :]
    error = _error(typed)
    assert error.reason == "bad_character"
    assert f"'{bad}'" in error.message
    assert not is_well_formed(typed)


@given(st.text(max_size=20))
def test_normalize_either_returns_a_canonical_code_or_explains(raw: str) -> None:
    if is_well_formed(raw):
        code = normalize(raw)
        assert len(code) == CODE_LENGTH
        assert set(code) <= set(ALPHABET)
    else:
        error = _error(raw)
        assert error.message.endswith(".")
        assert error.reason in {"empty", "bad_character", "wrong_length"}


@pytest.mark.parametrize("typed", ["ß", "ﬀ", "ﬁ", "ﬅ", "ﬆ", "ŉ", "ǰ", "\ud800"])
def test_a_character_whose_capital_is_two_letters_is_named_not_read_as_two(typed: str) -> None:
    # 'ﬅ'.upper() is "ST", two letters of the alphabet: once read as nine characters that passed as a code.
    error = _error(f"ABCD{typed}123")

    assert error.reason == "bad_character"
    assert error.message.startswith(f"{typed!r} is not used in access codes")


def test_full_width_characters_read_as_the_letters_they_show() -> None:
    assert normalize("ＡＢＣＤ－１２３４") == "ABCD1234"


def test_display_refuses_what_normalize_refuses() -> None:
    with pytest.raises(AccessCodeFormatError, match="you typed 3"):
        display("ABC")


def test_the_error_is_a_value_error_for_callers_that_only_know_that() -> None:
    with pytest.raises(ValueError, match="not used in access codes"):
        normalize("UUUUUUUU")


# ---- generation ---------------------------------------------------------------------------------------


def test_generated_codes_are_canonical() -> None:
    for _ in range(200):
        code = generate()
        assert len(code) == CODE_LENGTH
        assert set(code) <= set(ALPHABET)
        assert normalize(code) == code


def test_generated_codes_differ() -> None:
    # 500 draws from 2^40: a repeat here means the random source is broken, not bad luck.
    assert len({generate() for _ in range(500)}) == 500


def _scripted_picker(codes: list[str]) -> Callable[[str], str]:
    """Feeds characters of `codes` in order, standing in for secrets.choice."""
    chars = itertools.chain.from_iterable(codes)
    return lambda alphabet: next(chars)


def test_distinct_codes_skip_repeats_within_the_batch() -> None:
    pick = _scripted_picker(["AAAAAAAA", "AAAAAAAA", "BBBBBBBB"])
    assert generate_distinct(2, pick=pick) == ["AAAAAAAA", "BBBBBBBB"]


def test_distinct_codes_skip_codes_already_in_use() -> None:
    pick = _scripted_picker(["AAAAAAAA", "BBBBBBBB", "CCCCCCCC"])
    in_use = {"AAAAAAAA"}
    assert generate_distinct(2, is_taken=in_use.__contains__, pick=pick) == ["BBBBBBBB", "CCCCCCCC"]


def test_distinct_codes_give_up_with_a_reason_when_the_source_repeats() -> None:
    with pytest.raises(RuntimeError, match="Could not generate 2 unused access codes in 10 tries; 1 found"):
        generate_distinct(2, pick=lambda alphabet: "A", max_tries=10)


def test_distinct_codes_from_the_real_source() -> None:
    batch = generate_distinct(300)
    assert len(set(batch)) == 300
    assert generate_distinct(0) == []


def test_distinct_codes_refuse_a_negative_count() -> None:
    with pytest.raises(ValueError, match="count must be 0 or more, not -1"):
        generate_distinct(-1)
