"""The offline result code: round trips, typo and tamper detection, and the size budget."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.protocol import MAX_CHOICES, MAX_SECTIONS, AnswerRecord, ResultEnvelope
from sync.resultcode import (
    ALPHABET,
    CODE_VERSION,
    GROUP_LENGTH,
    GROUPS_PER_LINE,
    ResultCodeError,
    check_symbol,
    decode,
    encode,
    normalize,
    peek_attempt_id,
    seal,
)
from sync.resultcode_pack import Writer, compress
from sync.server.crypto import new_result_secret

MANIFEST = Path(__file__).parents[2] / "resources" / "demo" / "manifest.json"
FINISHED = datetime(2025, 3, 4, 10, 30, 12, 345678, tzinfo=UTC)
untimed = settings(deadline=None)
"""Speed is bench/'s business: a slow CI machine must not fail a property test on time."""


def _mc_sitting(count: int = 40, *, seed: int = 1) -> ResultEnvelope:
    rng = random.Random(seed)
    moment = FINISHED - timedelta(minutes=30)
    answers = []
    for number in range(1, count + 1):
        moment += timedelta(seconds=rng.randint(5, 60), microseconds=rng.randint(0, 999_999))
        answers.append(AnswerRecord(item_id=f"q{number:02d}", value=rng.choice("abcd"), answered_at=moment))
    return ResultEnvelope(
        idempotency_key=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        attempt_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        section_ids=["mc"],
        answers=answers,
        finished_at=FINISHED,
    )


def _demo_sitting() -> ResultEnvelope:
    """Typical answers to every item of the demo assessment, with a 40-word dictation."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    typical: dict[str, str | list[str]] = {
        "mc-circles": "b",
        "mc-opposite": "b",
        "mc-nouns": ["a", "c"],
        "short-plural": "children",
        "short-past": "swimmed",
        "short-capital": "Paris",
        "short-describe": (
            "My favourite place is the beach near my grandmother's house. The sand is soft and warm in summer. "
            "I like to swim and look for shells with my brother. In the evening we eat chips on the wall."
        ),
        "dict-cat": "The cat sat on the worm mat by the door.",
        "dict-library": (
            "We will meet at the library after school on Friday, and then we will walk together to the park "
            "where my little sister plays football with her friends every week until it gets too dark to see "
            "the ball properly."
        ),
    }
    moment = FINISHED - timedelta(minutes=28)
    answers = []
    for section in manifest["sections"]:
        for item in section["items"]:
            moment += timedelta(seconds=95)
            answers.append(AnswerRecord(item_id=item["id"], value=typical[item["id"]], answered_at=moment))
    return ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=str(uuid.uuid4()),
        section_ids=[section["id"] for section in manifest["sections"]],
        answers=answers,
        finished_at=FINISHED,
    )


def _to_second(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def _as_kept(envelope: ResultEnvelope) -> ResultEnvelope:
    """What a result code preserves: everything, with times in UTC to the second."""
    return envelope.model_copy(
        update={
            "finished_at": _to_second(envelope.finished_at),
            "answers": [
                answer.model_copy(update={"answered_at": _to_second(answer.answered_at)}) for answer in envelope.answers
            ],
        }
    )


def _refusal(code: str, *, secret: str, attempt_id: str | None = None) -> ResultCodeError:
    with pytest.raises(ResultCodeError) as caught:
        decode(code, result_secret=secret, attempt_id=attempt_id)
    return caught.value


def _with_group_fixed(symbols: str, group_index: int) -> str:
    """Recompute one group's check symbol, as a forger who knows the format would."""
    start = group_index * GROUP_LENGTH
    group = symbols[start : start + GROUP_LENGTH]
    fixed = group[:-1] + check_symbol(group[:-1], group_index=group_index)
    return symbols[:start] + fixed + symbols[start + len(group) :]


SECRET = new_result_secret()
OTHER_SECRET = new_result_secret()
MC = _mc_sitting()
MC_CODE = encode(MC, result_secret=SECRET)
MC_SYMBOLS = normalize(MC_CODE)
SHORT = ResultEnvelope(
    idempotency_key=str(uuid.uuid4()),
    attempt_id="a-1",
    section_ids=["s"],
    answers=[AnswerRecord(item_id="q1", value="b", answered_at=FINISHED)],
    finished_at=FINISHED,
)
SHORT_SYMBOLS = normalize(encode(SHORT, result_secret=SECRET))

# ---- round trip and size -------------------------------------------------------------------

_times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)).flatmap(
    lambda moment: st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]).map(
        lambda zone: moment.replace(tzinfo=zone)
    )
)
# Ids never hold U+0000 (the wire refuses it: PostgreSQL cannot keep it in text); answers may, and come back whole.
_id_text = st.characters(codec="utf-8", exclude_characters="\x00")
_ids = st.one_of(st.uuids().map(str), st.text(_id_text, max_size=40))
_answers = st.builds(
    AnswerRecord,
    item_id=st.text(_id_text, max_size=20),
    value=st.one_of(st.text(max_size=80), st.lists(st.text(max_size=5), max_size=6)),
    answered_at=_times,
)
_envelopes = st.builds(
    ResultEnvelope,
    idempotency_key=st.one_of(st.uuids().map(str), st.from_regex(r"\A[0-9a-f-]{36}\Z")),
    attempt_id=_ids,
    section_ids=st.lists(st.text(_id_text, max_size=12), max_size=4),
    answers=st.lists(_answers, max_size=30),
    finished_at=_times,
    final=st.booleans(),
)


@given(envelope=_envelopes)
@untimed
def test_every_envelope_comes_back_with_times_to_the_second(envelope: ResultEnvelope) -> None:
    code = encode(envelope, result_secret=SECRET)

    assert decode(code, result_secret=SECRET, attempt_id=envelope.attempt_id) == _as_kept(envelope)
    assert peek_attempt_id(code) == envelope.attempt_id


def test_forty_multiple_choice_answers_fit_in_600_characters() -> None:
    assert len(MC_CODE) <= 600
    assert decode(MC_CODE, result_secret=SECRET) == _as_kept(MC)


def test_the_demo_sitting_round_trips_in_lines_of_five_groups() -> None:
    demo = _demo_sitting()
    code = encode(demo, result_secret=SECRET)

    assert decode(code, result_secret=SECRET, attempt_id=demo.attempt_id) == _as_kept(demo)
    lines = code.split("\n")
    assert all(len(line.split("-")) <= GROUPS_PER_LINE for line in lines)
    assert all(len(group) <= GROUP_LENGTH for line in lines for group in line.split("-"))


def test_the_same_envelope_encodes_differently_each_time_and_both_decode() -> None:
    # A fresh nonce per code: two codes of one envelope reveal nothing about each other.
    again = encode(MC, result_secret=SECRET)

    assert again != MC_CODE
    assert decode(again, result_secret=SECRET) == decode(MC_CODE, result_secret=SECRET)


# ---- reading -------------------------------------------------------------------------------


@given(rng=st.randoms(use_true_random=False))
@settings(max_examples=50, deadline=None)
def test_reading_ignores_case_spaces_line_breaks_hyphens_and_lookalikes(rng: random.Random) -> None:
    lookalikes = {"0": ["0", "O", "o"], "1": ["1", "I", "i", "L", "l"]}
    noise = ["", "", "", " ", "\n", "\r\n", "\t", "-", "\u2013", "  "]
    typed = "".join(rng.choice(lookalikes.get(ch, [ch, ch.lower()])) + rng.choice(noise) for ch in MC_CODE)

    assert decode(typed, result_secret=SECRET) == _as_kept(MC)


def test_swapping_a_symbol_with_the_hyphen_beside_it_changes_nothing() -> None:
    hyphen = MC_CODE.index("-")
    moved = MC_CODE[: hyphen - 1] + "-" + MC_CODE[hyphen - 1] + MC_CODE[hyphen + 1 :]

    assert decode(moved, result_secret=SECRET) == _as_kept(MC)


@pytest.mark.parametrize("code", ["", "   ", "-\n-"])
def test_an_empty_code_is_refused(code: str) -> None:
    error = _refusal(code, secret=SECRET)

    assert error.reason == "empty"
    assert "paste or type the whole code" in error.message


@pytest.mark.parametrize("bad", ["U", "*", "é", "?"])
def test_a_character_outside_the_alphabet_is_named_with_its_group(bad: str) -> None:
    position = 3 * GROUP_LENGTH + 2  # inside group 4
    code = MC_SYMBOLS[:position] + bad + MC_SYMBOLS[position + 1 :]

    error = _refusal(code, secret=SECRET)

    assert error.reason == "bad_character"
    assert f"Group 4 contains {bad!r}" in error.message


# ---- typos ---------------------------------------------------------------------------------


@given(
    data=st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=5).map("".join),
    group_index=st.integers(min_value=0, max_value=500),
)
@untimed
def test_check_symbols_catch_every_substitution_and_adjacent_swap_in_a_group(data: str, group_index: int) -> None:
    group = data + check_symbol(data, group_index=group_index)

    def valid(candidate: str) -> bool:
        return check_symbol(candidate[:-1], group_index=group_index) == candidate[-1]

    for position in range(len(group)):
        for replacement in ALPHABET.replace(group[position], ""):
            assert not valid(group[:position] + replacement + group[position + 1 :])
    for position in range(len(group) - 1):
        if group[position] != group[position + 1]:
            swapped = group[:position] + group[position + 1] + group[position] + group[position + 2 :]
            assert not valid(swapped)


def test_every_single_substitution_is_refused_and_its_group_named() -> None:
    for position, original in enumerate(SHORT_SYMBOLS):
        group = position // GROUP_LENGTH + 1
        for replacement in ALPHABET.replace(original, ""):
            typo = SHORT_SYMBOLS[:position] + replacement + SHORT_SYMBOLS[position + 1 :]
            error = _refusal(typo, secret=SECRET)
            assert error.reason == "check_failed", (position, replacement)
            assert error.message.startswith(f"Group {group} ("), error.message


@given(position=st.integers(min_value=0, max_value=len(MC_SYMBOLS) - 1), data=st.data())
@untimed
def test_a_substitution_anywhere_in_a_long_code_names_its_group(position: int, data: st.DataObject) -> None:
    replacement = data.draw(st.sampled_from(ALPHABET.replace(MC_SYMBOLS[position], "")))
    typo = MC_SYMBOLS[:position] + replacement + MC_SYMBOLS[position + 1 :]

    error = _refusal(typo, secret=SECRET)

    assert error.reason == "check_failed"
    assert error.message.startswith(f"Group {position // GROUP_LENGTH + 1} (")
    assert "has a typing mistake: compare it with the code on the student's screen" in error.message


@pytest.mark.parametrize("symbols", [SHORT_SYMBOLS, MC_SYMBOLS], ids=["short", "forty-mc"])
def test_every_adjacent_transposition_is_refused_and_its_group_named(symbols: str) -> None:
    for position in range(len(symbols) - 1):
        if symbols[position] == symbols[position + 1]:
            continue
        swapped = symbols[:position] + symbols[position + 1] + symbols[position] + symbols[position + 2 :]
        error = _refusal(swapped, secret=SECRET)
        assert error.reason == "check_failed", position
        assert error.message.startswith(f"Group {position // GROUP_LENGTH + 1} (")


@pytest.mark.parametrize("code", [MC_CODE, normalize(MC_CODE)], ids=["as-shown", "symbols-only"])
def test_every_truncation_is_refused_as_incomplete(code: str) -> None:
    for length in range(1, len(code)):
        error = _refusal(code[:length], secret=SECRET)
        assert error.reason == "truncated", length
        assert "incomplete" in error.message


def test_a_skipped_line_is_caught() -> None:
    lines = MC_CODE.split("\n")
    error = _refusal("\n".join(lines[:2] + lines[3:]), secret=SECRET)

    assert error.reason == "check_failed"
    assert error.message.startswith(f"Group {2 * GROUPS_PER_LINE + 1} (")


def test_a_line_typed_twice_is_caught() -> None:
    lines = MC_CODE.split("\n")
    error = _refusal("\n".join([*lines[:3], lines[2], *lines[3:]]), secret=SECRET)

    assert error.reason == "check_failed"
    assert error.message.startswith(f"Group {3 * GROUPS_PER_LINE + 1} (")


def test_two_codes_pasted_together_are_refused_as_too_long() -> None:
    error = _refusal(MC_CODE + "\n" + MC_CODE, secret=SECRET)

    assert error.reason == "too_long"
    assert "one code at a time" in error.message


# ---- authenticity --------------------------------------------------------------------------


def test_a_code_decoded_with_another_attempts_secret_is_not_authentic() -> None:
    error = _refusal(MC_CODE, secret=OTHER_SECRET)

    assert error.reason == "not_authentic"
    assert "another attempt" in error.message


def test_a_code_submitted_for_another_attempt_names_both_attempts() -> None:
    other = str(uuid.uuid4())

    error = _refusal(MC_CODE, secret=SECRET, attempt_id=other)

    assert error.reason == "wrong_attempt"
    assert MC.attempt_id in error.message
    assert other in error.message


def test_peek_names_the_attempt_without_the_secret() -> None:
    assert peek_attempt_id(MC_CODE.lower()) == MC.attempt_id


def test_a_header_claiming_a_longer_body_reports_the_code_incomplete() -> None:
    length = sum(ALPHABET.index(ch) * 32**power for power, ch in enumerate(reversed(MC_SYMBOLS[1:5])))
    longer = "".join(ALPHABET[(length + 10) // 32**power % 32] for power in (3, 2, 1, 0))
    forged = _with_group_fixed(MC_SYMBOLS[0] + longer + MC_SYMBOLS[5:], 0)

    error = _refusal(forged, secret=SECRET)

    assert error.reason == "truncated"
    assert "The end is missing" in error.message


def test_a_code_from_newer_software_asks_for_an_update() -> None:
    newer = ALPHABET[CODE_VERSION + 1] + MC_SYMBOLS[1:]
    forged = _with_group_fixed(newer, 0)

    error = _refusal(forged, secret=SECRET)

    assert error.reason == "unknown_version"
    assert "Update Invigil" in error.message
    with pytest.raises(ResultCodeError, match="newer version"):
        peek_attempt_id(forged)


@pytest.mark.parametrize("secret", ["", "not base64!", "c2hvcnQ="])
def test_a_malformed_secret_is_a_programming_error_not_a_bad_code(secret: str) -> None:
    with pytest.raises(ValueError, match="32 bytes") as caught:
        encode(MC, result_secret=secret)

    assert not isinstance(caught.value, ResultCodeError)


# In a fresh process: this one has loaded `cryptography` (the server's crypto, the tests above).
LOADS_CRYPTOGRAPHY_CHILD = """
import json, sys
from sync import resultcode
print(json.dumps("cryptography" in sys.modules))
"""


def test_importing_the_module_does_not_load_cryptography() -> None:
    """The player needs the ~7 MB of `cryptography` only when it makes a code (its results did not reach the
    server); the functions that use it import it (the round trips above go through them)."""
    done = subprocess.run(
        [sys.executable, "-c", LOADS_CRYPTOGRAPHY_CHILD], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) is False


# ---- codes made by hand with an attempt's key (the student's computer holds it) --------------------------------


def _sealed_by_hand(*, sections: int, answers: int, choices: int = 0) -> str:
    """A code sealed with SECRET whose packed contents claim `sections` empty section ids and `answers` answers
    (each an empty item id, a list of `choices` empty option ids, and a time): what the packer never writes."""
    packed = Writer()
    packed.uint(2)  # flags: the key is a UUID
    packed.out += uuid.uuid4().bytes
    packed.sint(int(FINISHED.timestamp()))
    packed.uint(sections)
    packed.out += bytes(sections)
    packed.uint(answers)
    packed.out += bytes(2 * answers)  # item ids: nothing shared, "" added
    for _ in range(answers):
        packed.uint(choices + 1)
        packed.out += bytes(choices)
    packed.out += bytes(answers)  # times: each 0 seconds before the last
    return seal(compress(bytes(packed.out)), attempt_id=MC.attempt_id, result_secret=SECRET)


@pytest.mark.parametrize(
    ("sections", "answers", "choices"),
    [(0, 800_000, 0), (MAX_SECTIONS + 1, 1, 0), (0, 1, MAX_CHOICES + 1), (400_000, 0, 0)],
    ids=["800,000 answers", "too many sections", "too many choices", "400,000 sections"],
)
def test_a_code_made_by_hand_to_inflate_is_refused_before_it_is_built(
    sections: int, answers: int, choices: int
) -> None:
    code = _sealed_by_hand(sections=sections, answers=answers, choices=choices)
    assert len(code) < 40_000, "a few KB of code, far more once inflated"
    tracemalloc.start()
    try:
        refused = _refusal(code, secret=SECRET)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.reason == "unreadable"
    assert "it was made by hand. Nothing was stored" in refused.message
    # The inflated contents are at most 4 MiB; building 800,000 answers from them took ~600 MB.
    assert peak < 40 * 1024 * 1024, f"refusing the code held {peak / 2**20:.0f} MB"


def test_a_code_made_by_hand_within_the_limits_still_reads() -> None:
    envelope = decode(_sealed_by_hand(sections=1, answers=2, choices=1), result_secret=SECRET)
    assert [a.value for a in envelope.answers] == [[""], [""]]
