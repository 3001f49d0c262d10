"""Result codes in QR codes: one QR code when it fits, numbered parts joined in any order, bad sets refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import resultcode
from sync.crockford import ALPHABET
from sync.resultcode_qr import MAX_PARTS, PART_LENGTH, SINGLE_LENGTH, PartCollector, TooLargeForQr, qr_texts
from sync.server.crypto import new_result_secret
from tests.helpers.result_envelopes import FORM, envelopes

SECRET = new_result_secret()
# QR's alphanumeric mode: a text with anything else would be stored in byte mode, half again as large.
QR_ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]*")


def _code(symbols: int) -> str:
    """A code-shaped text (groups of six, lines of five groups) with `symbols` symbols."""
    data = (ALPHABET * (symbols // len(ALPHABET) + 1))[:symbols]
    groups = [data[i : i + 6] for i in range(0, len(data), 6)]
    return "\n".join("-".join(groups[i : i + 5]) for i in range(0, len(groups), 5))


def _joined(texts: list[str]) -> str | None:
    collector = PartCollector()
    reads = [collector.add(text) for text in texts]
    assert all(read.code is None for read in reads[:-1])
    return reads[-1].code


@settings(deadline=None)
@given(envelope=envelopes())
def test_a_real_code_comes_back_from_its_qr_texts_and_decodes(envelope: resultcode.ResultEnvelope) -> None:
    code = resultcode.encode(envelope, result_secret=SECRET, delivery=FORM)

    texts = qr_texts(code)

    assert all(QR_ALPHANUMERIC.fullmatch(text) for text in texts)
    joined = _joined(texts)
    assert joined is not None
    assert resultcode.decode(joined, result_secret=SECRET, attempt_id=envelope.attempt_id, delivery=FORM) == (
        resultcode.decode(code, result_secret=SECRET, attempt_id=envelope.attempt_id, delivery=FORM)
    )


def test_a_code_that_fits_is_one_qr_code_holding_the_text_a_person_would_type() -> None:
    code = _code(250)

    (text,) = qr_texts(code)

    assert len(text) <= SINGLE_LENGTH
    assert text == code.replace("\n", " ")
    assert PartCollector().add(text).code == text


@given(symbols=st.integers(300, 3000), order=st.randoms(use_true_random=False))
def test_parts_join_in_any_order_into_the_code(symbols: int, order: object) -> None:
    code = _code(symbols)
    texts = qr_texts(code)
    assert len(texts) > 1
    assert all(len(text) <= SINGLE_LENGTH for text in texts)
    order.shuffle(texts)  # type: ignore[attr-defined]

    joined = _joined(texts)

    assert joined is not None
    assert resultcode.normalize(joined) == resultcode.normalize(code)


def test_progress_says_which_parts_are_still_to_read() -> None:
    first, second, third = qr_texts(_code(600))
    collector = PartCollector()

    read = collector.add(second)

    set_id = second.split("SET ")[1][:4]
    assert read.code is None
    assert not read.refused
    assert read.message == f"Code {set_id}: 1 of 3 parts read. Still to read: parts 1 and 3."
    assert collector.add(second).message.startswith("Part 2 of 3 was already read. ")
    assert collector.waiting() == [f"Code {set_id}: 1 of 3 parts read. Still to read: parts 1 and 3."]
    assert collector.add(third).message.endswith("Still to read: part 1.")
    assert collector.add(first).message == f"All 3 parts of code {set_id} read."
    assert collector.waiting() == []


def test_parts_of_two_codes_read_interleaved_each_come_back_whole() -> None:
    one, two = _code(700), _code(650)[::-1]
    collector = PartCollector()
    reads = [collector.add(text) for pair in zip(qr_texts(one), qr_texts(two), strict=True) for text in pair]

    codes = [read.code for read in reads if read.code is not None]

    assert [resultcode.normalize(c) for c in codes] == [resultcode.normalize(one), resultcode.normalize(two)]


def test_a_changed_part_is_refused_and_its_set_dropped() -> None:
    first, second, third = qr_texts(_code(600))
    header, piece = second.split(":", 1)
    changed = f"{header}:{'1' if piece[0] != '1' else '2'}{piece[1:]}"
    collector = PartCollector()
    collector.add(first)
    collector.add(changed)

    read = collector.add(third)

    assert read.refused
    assert read.code is None
    assert "do not join into the code they were cut from" in read.message
    assert collector.waiting() == []


def test_the_same_part_read_with_other_contents_is_refused() -> None:
    first, second, _ = qr_texts(_code(600))
    header, piece = second.split(":", 1)
    collector = PartCollector()
    collector.add(first)
    collector.add(second)

    read = collector.add(f"{header}:{piece[::-1]}")

    assert read.refused
    assert "read twice with different contents" in read.message
    assert collector.waiting() == []


def test_a_part_that_disagrees_on_the_number_of_parts_is_refused_and_the_set_kept() -> None:
    first, second, _ = qr_texts(_code(600))
    collector = PartCollector()
    collector.add(first)

    read = collector.add(second.replace(" OF 3 ", " OF 4 ", 1))

    assert read.refused
    assert "the parts read before said 3" in read.message
    assert len(collector.waiting()) == 1


@pytest.mark.parametrize(
    "text",
    ["PART 1 OF", "PART ONE OF 3 SET ABCD:123", "PART 4 OF 3 SET ABCD:123", f"PART 1 OF {MAX_PARTS + 1} SET ABCD:1"],
)
def test_a_part_heading_that_makes_no_sense_is_refused(text: str) -> None:
    collector = PartCollector()

    read = collector.add(text)

    assert read.refused
    assert read.code is None
    assert collector.waiting() == []


def test_a_code_too_long_for_the_parts_allowed_says_to_save_it_instead() -> None:
    with pytest.raises(TooLargeForQr, match="save it to a file"):
        qr_texts(_code(MAX_PARTS * PART_LENGTH))
