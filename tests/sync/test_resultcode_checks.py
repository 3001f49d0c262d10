"""Result code checks: the length bound, Unicode reading, swapped groups named as typos, and format 1 still read."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import resultcode, resultcode_text
from sync.protocol import AnswerRecord, ResultEnvelope
from sync.resultcode import (
    ALPHABET,
    GROUP_LENGTH,
    MAX_SITTING_BODY_BYTES,
    MAX_SYMBOLS,
    MAX_TEXT_LENGTH,
    ResultCodeError,
    check_symbol,
    decode,
    encode,
    normalize,
    peek_attempt_id,
)
from sync.resultcode_checks import FIELD_ORDER, field_pow, order_sums
from sync.server.crypto import new_result_secret
from tests.sync.test_resultcode import MC_SYMBOLS, SECRET, _demo_sitting

untimed = settings(deadline=None)


def _to_symbols(value: int, width: int) -> str:
    return "".join(ALPHABET[value >> (5 * power) & 31] for power in reversed(range(width)))


def _values(symbols: str) -> list[int]:
    return [int(_from_symbols(symbols[start : start + 5])) for start in range(0, len(symbols), 5)]


def _from_symbols(symbols: str) -> int:
    value = 0
    for ch in symbols:
        value = value * 32 + ALPHABET.index(ch)
    return value


def _grouped(data: str, *, version: int = 2) -> str:
    """Data symbols with every group's check symbol, as the format lays them out (symbols only)."""
    return "".join(
        data[start : start + 5] + check_symbol(data[start : start + 5], group_index=index, version=version)
        for index, start in enumerate(range(0, len(data), 5))
    )


def _data_of(symbols: str) -> str:
    return "".join(symbols[start : min(start + 5, len(symbols) - 1)] for start in range(0, len(symbols), GROUP_LENGTH))


def reseal(symbols: str) -> str:
    """A format 2 code with every check recomputed (order check and check symbols), as a forger could."""
    data = _data_of(symbols)
    first, second = order_sums(_values(data[15:]))
    return _grouped(data[:5] + _to_symbols(first, 5) + _to_symbols(second, 5) + data[15:])


def crafted(body_length: int, *, version: int = 2, seed: int = 1) -> str:
    """Junk behind a header and checks that are all valid: what an attacker who read the format can send."""
    rng = random.Random(seed)
    count = -(-body_length * 8 // 5)
    body = "".join(rng.choice(ALPHABET) for _ in range(count - 1)) + "0"
    header = ALPHABET[version] + _to_symbols(body_length, 4)
    if version == 1:
        return _grouped(header + body, version=1)
    first, second = order_sums(_values(body))
    return _grouped(header + _to_symbols(first, 5) + _to_symbols(second, 5) + body)


def swapped(symbols: str, first: int, second: int) -> str:
    groups = [symbols[start : start + GROUP_LENGTH] for start in range(0, len(symbols), GROUP_LENGTH)]
    groups[first], groups[second] = groups[second], groups[first]
    return "".join(groups)


def refusal(code: str, *, secret: str | None = None) -> ResultCodeError:
    """Why `code` is refused: by the checks anyone can run (peek), or also by decryption with `secret`."""

    def read() -> object:
        return peek_attempt_id(code) if secret is None else decode(code, result_secret=secret)

    with pytest.raises(ResultCodeError) as caught:
        read()
    return caught.value


DEMO_SYMBOLS = normalize(encode(_demo_sitting(), result_secret=SECRET))

# ---- the length bound ------------------------------------------------------------------------------


def test_the_bound_holds_a_code_of_the_largest_body_a_sitting_may_make() -> None:
    assert len(crafted(MAX_SITTING_BODY_BYTES)) == MAX_SYMBOLS
    assert MAX_TEXT_LENGTH == 2 * MAX_SYMBOLS


@pytest.mark.parametrize("version", [1, 2])
def test_a_crafted_code_of_the_maximum_length_is_read_to_the_end_and_refused(version: int) -> None:
    """Valid check symbols and a junk body of the largest size allowed: every check runs (in linear time; the
    figure is in bench/) and the junk is refused as not genuine."""
    code = crafted(MAX_SITTING_BODY_BYTES, version=version)

    error = refusal(code)

    assert error.reason == "not_authentic"
    assert "not genuine" in error.message


def test_a_crafted_maximum_length_code_with_two_far_groups_swapped_names_them() -> None:
    code = crafted(MAX_SITTING_BODY_BYTES)
    first, second = 40, 40 + 31 * 3000  # the same check-symbol place: only the order check sees it

    error = refusal(swapped(code, first, second))

    assert error.reason == "check_failed"
    assert error.message.startswith(f"Groups {first + 1} (")
    assert f"and {second + 1} (" in error.message


@pytest.mark.parametrize(
    "code",
    [
        "A" * (MAX_TEXT_LENGTH + 1),
        "-" * (MAX_TEXT_LENGTH + 1),  # refused on its length alone, before any character is looked at
        "ß" * (MAX_TEXT_LENGTH + 1),
    ],
    ids=["symbols", "separators", "bad-characters"],
)
def test_text_longer_than_any_code_is_refused_at_once_as_too_long(code: str) -> None:
    error = refusal(code)

    assert error.reason == "too_long"
    assert f"no genuine code has more than {MAX_SYMBOLS:,} characters" in error.message
    assert "Submit one code at a time" in error.message


def test_more_symbols_than_any_code_is_too_long_even_when_spaced_within_the_text_bound() -> None:
    error = refusal("0" * (MAX_SYMBOLS + 1))

    assert error.reason == "too_long"


def test_a_body_too_large_for_the_bound_cannot_be_encoded() -> None:
    rng = random.Random(5)
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    # 150 essays of 5,000 random characters: random text hardly compresses, unlike anything a student types.
    essays = [
        AnswerRecord(
            item_id=f"essay-{n}",
            value="".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(5000)),
            answered_at=moment,
        )
        for n in range(150)
    ]
    big = ResultEnvelope(
        idempotency_key="5f0c6a8e-3b1d-4c2e-9a7f-1d2e3f4a5b6c",
        attempt_id="a",
        section_ids=["s"],
        answers=essays,
        finished_at=moment,
    )
    with pytest.raises(ValueError, match="too large for a result code") as caught:
        encode(big, result_secret=SECRET)
    assert not isinstance(caught.value, ResultCodeError)


# ---- Unicode -------------------------------------------------------------------------------------


# Every code point, lone surrogates too (a JSON body or a clipboard can carry them), mixed with real symbols.
_any_text = st.text(
    st.one_of(st.characters(exclude_categories=()), st.sampled_from("0123456789ABCDEFGHJKMNPQRSTVWXYZoilß -\n")),
    max_size=80,
)


@given(text=_any_text)
@settings(max_examples=400, deadline=None)
def test_normalize_returns_symbols_or_raises_a_result_code_error_for_any_text(text: str) -> None:
    outcome: str | ResultCodeError
    try:
        outcome = normalize(text)
    except ResultCodeError as exc:
        outcome = exc
    if isinstance(outcome, ResultCodeError):
        assert outcome.message
        assert outcome.reason in {"empty", "bad_character", "too_long"}
    else:
        assert outcome
        assert set(outcome) <= set(ALPHABET)


@pytest.mark.parametrize("typed", ["ß", "ﬀ", "ﬁ", "ﬃ", "ﬅ", "ŉ", "İ", "\ud800", "\u200b", "U"])
def test_a_character_not_in_codes_is_named_as_typed_with_its_group_and_place(typed: str) -> None:
    position = 2 * GROUP_LENGTH + 3  # group 3, fourth character
    code = MC_SYMBOLS[:position] + typed + MC_SYMBOLS[position + 1 :]

    error = refusal(code)

    assert error.reason == "bad_character"
    assert error.message.startswith(f"Group 3 contains {typed!r} (character 4 of the group)")
    assert "compare group 3 with the code on the student's screen or results slip" in error.message


def test_full_width_and_other_compatibility_forms_read_as_the_symbols_they_show() -> None:
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in MC_SYMBOLS[:12])  # what a Japanese keyboard types

    assert normalize(full_width + MC_SYMBOLS[12:]) == MC_SYMBOLS
    assert normalize("①Ｏｌ") == "101"


# ---- typos and swaps are named, never "not authentic" ---------------------------------------------

_codes = st.sampled_from([MC_SYMBOLS, DEMO_SYMBOLS])


def _full_groups(symbols: str) -> int:
    return len(symbols) // GROUP_LENGTH


@given(symbols=_codes, data=st.data())
@untimed
def test_any_swap_of_two_different_groups_is_a_typo_naming_both(symbols: str, data: st.DataObject) -> None:
    count = _full_groups(symbols)
    first = data.draw(st.integers(min_value=0, max_value=count - 2))
    second = data.draw(st.integers(min_value=first + 1, max_value=count - 1))
    if symbols[first * GROUP_LENGTH : (first + 1) * GROUP_LENGTH] == symbols[second * 6 : (second + 1) * 6]:
        return  # the same group twice: swapping changes nothing

    error = refusal(swapped(symbols, first, second))

    assert error.reason == "check_failed"
    assert error.message.startswith(f"Groups {first + 1} ("), error.message
    assert f"and {second + 1} (" in error.message
    assert "look swapped" in error.message


@pytest.mark.parametrize(
    ("first", "second"),
    [(0, 31), (1, 32), (2, 33), (3, 34), (4, 66), (10, 103), (1, 2), (0, 1), (5, 129)],
    ids=lambda value: str(value),
)
def test_groups_a_multiple_of_31_apart_or_in_the_checks_places_are_named_when_swapped(first: int, second: int) -> None:
    error = refusal(swapped(DEMO_SYMBOLS, first, second))

    assert error.reason == "check_failed"
    assert error.message.startswith(f"Groups {first + 1} ("), error.message
    assert f"and {second + 1} (" in error.message


@given(symbols=_codes, data=st.data())
@untimed
def test_any_substitution_is_a_typo_naming_its_group(symbols: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(symbols) - 1))
    replacement = data.draw(st.sampled_from(ALPHABET.replace(symbols[position], "")))

    error = refusal(symbols[:position] + replacement + symbols[position + 1 :])

    assert error.reason == "check_failed"
    assert error.message.startswith(f"Group {position // GROUP_LENGTH + 1} ("), error.message


@given(symbols=_codes, data=st.data())
@untimed
def test_any_adjacent_transposition_is_a_typo_naming_its_group(symbols: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(symbols) - 2))
    if symbols[position] == symbols[position + 1]:
        return

    error = refusal(symbols[:position] + symbols[position + 1] + symbols[position] + symbols[position + 2 :])

    assert error.reason == "check_failed"
    group = position // GROUP_LENGTH + 1
    assert error.message.startswith((f"Group {group} (", f"Groups {group} (")), error.message


@given(symbols=_codes, data=st.data())
@untimed
def test_a_body_changed_with_every_check_recomputed_is_not_authentic(symbols: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=3 * GROUP_LENGTH, max_value=len(symbols) - 2))
    if position % GROUP_LENGTH == GROUP_LENGTH - 1:
        position -= 1  # land on a data symbol, not a check symbol
    replacement = data.draw(st.sampled_from(ALPHABET.replace(symbols[position], "")))
    tampered = symbols[:position] + replacement + symbols[position + 1 :]

    assert refusal(reseal(tampered), secret=SECRET).reason == "not_authentic"
    assert refusal(_grouped(_data_of(tampered))).reason == "check_failed"  # the order check alone catches it


def test_the_order_check_tells_every_place_apart() -> None:
    # γ = x generates the whole multiplicative group of GF(2^25): no two places of any code share γ^g.
    for prime in (31, 601, 1801):  # 2^25 - 1 = 31 · 601 · 1801
        assert field_pow(2, FIELD_ORDER // prime) != 1
    assert field_pow(2, FIELD_ORDER) == 1


# ---- format 1, as schools may still hold it ----------------------------------------------------

V1_SECRET = "DKgZO9sRyDnJsoeaiJdHjGz4qCOTQyNs2913I8rTc_c="
V1_CODE = (
    "1005T4-005QXV-70T5MG-ZMWPMY-BDHYRA\nX7RA36-CP9H1T-PN97ZJ-TC4413-3CNK22\nYS3F3Z-MHCW66-XFAF0S-CAZ8XR-WFHNAN\n"
    "5AZ9G5-TR3PSD-45R2GE-R0VGC4-5VQPVW\n55TW7M-SYP0J9-Y9XS1J-3W6VTJ-Q1B4RY\n8HT49B-WD7JEX-G7ANC6-CE699A-G4GYQZ\n"
    "PMMQA5-QSDQ7F-40TF5Y-584NV1-QAGPJ8\nJ4HEA1-66XGTJ-4WND92-JRSN2H-GQ7SZ6\nJESBDD-KPBX0H-ESNNSC-76GYC3-QGTT30\n"
    "058JDQ-TXW9QB-Y2C07Y-FZNCRE-PFNR3W\nHNHM5N-SW6S8N-Q50DKW-GWZ026-4YQRW3\n3V0YSZ-Z6STNV-6A87GS-ZYHPJ9-55RNRP\n2Y8G"
)
"""Made by format 1 software (commit 5f98e41) and saved: it must keep decoding."""


def _v1_envelope() -> ResultEnvelope:
    start = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)
    answers = [
        AnswerRecord(item_id=f"q{n:02d}", value="abcd"[n % 4], answered_at=start + timedelta(seconds=41 * n))
        for n in range(1, 41)
    ]
    answers += [
        AnswerRecord(item_id="short-1", value="Grüße aus Köln", answered_at=start + timedelta(minutes=30)),
        AnswerRecord(item_id="multi", value=["a", "c"], answered_at=start + timedelta(minutes=31)),
    ]
    return ResultEnvelope(
        idempotency_key="5f0c6a8e-3b1d-4c2e-9a7f-1d2e3f4a5b6c",
        attempt_id="0b7e9c1a-2d3f-4e5a-8b6c-7d8e9f0a1b2c",
        section_ids=["mc", "short"],
        answers=answers,
        finished_at=start + timedelta(minutes=40),
        final=True,
    )


def test_a_saved_format_1_code_still_decodes_and_verifies() -> None:
    assert decode(V1_CODE, result_secret=V1_SECRET) == _v1_envelope()
    assert decode(V1_CODE, result_secret=V1_SECRET, attempt_id=_v1_envelope().attempt_id) == _v1_envelope()
    with pytest.raises(ResultCodeError) as caught:
        decode(V1_CODE, result_secret=new_result_secret())
    assert caught.value.reason == "not_authentic"


def test_a_typo_in_a_format_1_code_names_its_group() -> None:
    symbols = normalize(V1_CODE)
    position = 7 * GROUP_LENGTH + 1
    typo = symbols[:position] + ("7" if symbols[position] != "7" else "8") + symbols[position + 1 :]

    error = refusal(typo)

    assert error.reason == "check_failed"
    assert error.message.startswith("Group 8 ("), error.message
    assert "has a typing mistake: compare it with the code on the student's screen" in error.message


def test_a_typo_in_a_format_1_header_names_the_header_only() -> None:
    symbols = normalize(V1_CODE)
    typo = symbols[:2] + ("7" if symbols[2] != "7" else "8") + symbols[3:]

    error = refusal(typo)

    assert error.reason == "check_failed"
    assert error.message == (
        f"Group 1 ({typo[:6]}) has a typing mistake: compare it with the code on the student's screen or results slip."
    )


def test_a_header_naming_format_0_is_not_called_newer() -> None:
    forged = _grouped("0" + _data_of(DEMO_SYMBOLS)[1:])

    error = refusal(forged)

    assert error.reason == "unknown_version"
    assert error.message.startswith("The first group names code format 0, which Invigil never made")


def test_codes_made_without_a_delivery_form_are_format_2() -> None:
    assert DEMO_SYMBOLS[0] == ALPHABET[2]
    assert resultcode.CODE_VERSION == 3


# ---- the symbol conversion, against the plain big-number definition ----------------------------


@given(data=st.binary(max_size=64))
def test_bytes_to_symbols_matches_the_big_number_definition(data: bytes) -> None:
    padding = -len(data) * 8 % 5
    width = (len(data) * 8 + padding) // 5
    value = int.from_bytes(data, "big") << padding
    expected = _to_symbols(value, width) if width else ""

    encoded = resultcode_text.bytes_to_symbols(data)

    assert encoded == expected
    assert resultcode_text.symbols_to_bytes(encoded, len(data)) == data
