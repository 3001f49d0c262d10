"""The one Crockford base32 table both codes read with: the alphabet, lookalikes, separators and folding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync import accesscode, crockford, resultcode, resultcode_checks


def test_the_alphabet_is_crockfords_32_symbols_without_i_l_o_u() -> None:
    assert len(set(crockford.ALPHABET)) == 32
    assert not set("ILOU") & set(crockford.ALPHABET)
    assert [crockford.VALUES[ch] for ch in crockford.ALPHABET] == list(range(32))


def test_both_codecs_use_the_shared_alphabet() -> None:
    assert accesscode.ALPHABET is resultcode.ALPHABET is resultcode_checks.ALPHABET is crockford.ALPHABET


@pytest.mark.parametrize(
    ("typed", "reads_as"),
    [
        ("a", "A"),
        ("z", "Z"),
        ("O", "0"),
        ("o", "0"),
        ("I", "1"),
        ("i", "1"),
        ("L", "1"),
        ("l", "1"),
        ("-", ""),
        ("\u2013", ""),  # an en dash, as a word processor prints a hyphen
        ("\u2212", ""),  # a minus sign, as some PDFs paste a hyphen
        (" ", ""),
        ("\n", ""),
        ("\u00a0", ""),  # a no-break space: a space, though not in the table
        ("\uff21", "A"),  # full-width A
        ("\u2460", "1"),  # a circled 1
        ("U", None),
        ("u", None),
        ("_", None),
        ("\u00df", None),  # 'ß' folds to "ss": one character not in codes, not two symbols
    ],
)
def test_what_a_typed_character_reads_as(typed: str, reads_as: str | None) -> None:
    assert crockford.read(typed) == reads_as


@given(st.characters())
def test_every_character_reads_the_same_in_both_codes(ch: str) -> None:
    """A character the access code takes as a symbol, the result code takes as the same symbol, and so on."""
    symbol = crockford.read(ch)
    if symbol is None:
        with pytest.raises(accesscode.AccessCodeFormatError) as refused:
            accesscode.normalize("ABCD123" + ch)
        assert refused.value.reason == "bad_character"
        with pytest.raises(resultcode.ResultCodeError) as refused_too:
            resultcode.normalize("ABCDE" + ch)
        assert refused_too.value.reason == "bad_character"
    else:
        padding = "" if symbol else "0"  # a separator adds no symbol; the access code still needs eight
        assert accesscode.normalize("ABCD123" + ch + padding) == "ABCD123" + (symbol or padding)
        assert resultcode.normalize("ABCDE" + ch) == "ABCDE" + symbol
