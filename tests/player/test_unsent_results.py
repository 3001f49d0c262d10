"""This computer's unsent results as both the finished screen and the console show them: read from a real journal
file, labelled by section, named for a USB stick, and turned into result codes (or told plainly why not)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from player.offline_queue.journal import Journal
from player.unsent_results import NoResultCode, file_name, pending, section_label, send_now_from, unsent_results
from sync import resultcode
from sync.protocol import AnswerRecord, LoginResponse, ResultEnvelope
from tests.helpers.clock import FakeClock
from tests.helpers.player import make_login

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
"""URL-safe base64 of 32 bytes, as the server makes a result secret (a code cannot be made with less)."""
SERVER = "https://invigil.example.org"


def zoe(delivery: object) -> LoginResponse:
    return make_login(delivery).model_copy(update={"student": "Zoë Brontë", "result_secret": SECRET})


def envelope(login: LoginResponse, section_ids: list[str], answers: list[AnswerRecord]) -> ResultEnvelope:
    return ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=login.attempt_id,
        section_ids=section_ids,
        answers=answers,
        finished_at=datetime(2027, 3, 1, 9, 30, tzinfo=UTC),
    )


def finish(journal: Journal, login: LoginResponse, section_id: str, sent: ResultEnvelope) -> None:
    journal.finish_section(login.attempt_id, section_id, envelope=sent.model_dump(mode="json"))


def test_section_labels_name_the_part_of_the_test() -> None:
    titles = [("mc", "Multiple choice"), ("short", "Short answers"), ("dictation", "Dictation")]
    assert section_label(["short"], titles) == "Section 2 of 3: Short answers"
    assert section_label(["short", "dictation"], titles) == "Sections 2, 3 of 3: Short answers, Dictation"
    assert section_label(["mc", "short", "dictation"], titles) == "The whole test (3 sections)"
    assert section_label(["gone"], titles) == "Sections gone"
    assert section_label([], titles) == "The whole test"


def test_file_names_say_whose_code_and_which_part_in_letters_any_stick_takes() -> None:
    assert file_name("Ada Lovelace", "Section 2 of 3: Short answers") == (
        "result-code-ada-lovelace-section-2-of-3-short-answers.txt"
    )
    assert (
        file_name("Zoë Brontë", "The whole test (3 sections)") == "result-code-zoe-bronte-the-whole-test-3-sections.txt"
    )
    assert (
        file_name("李雷", "Section 1 of 3: Multiple choice") == "result-code-student-section-1-of-3-multiple-choice.txt"
    )
    assert file_name("O'Brien / Ní Dhuibhir", "") == "result-code-o-brien-ni-dhuibhir-result.txt"


def test_unsent_results_are_read_labelled_and_coded_until_the_server_confirms_them(
    journal: Journal, demo_delivery: object, clock: FakeClock
) -> None:
    login = zoe(demo_delivery)
    journal.start_attempt(login, server_url=SERVER)
    moment = datetime(2027, 3, 1, 9, 5, tzinfo=UTC)
    first = envelope(login, ["mc"], [AnswerRecord(item_id="mc-circles", value="b", answered_at=moment)])
    finish(journal, login, "mc", first)
    clock.advance(60)
    second = envelope(login, ["short"], [AnswerRecord(item_id="short-plural", value="mice", answered_at=moment)])
    finish(journal, login, "short", second)

    results = unsent_results(journal)
    assert [(r.student_name, r.section, r.file_name(), r.status()) for r in results] == [
        (
            "Zoë Brontë",
            "Section 1 of 3: Multiple choice",
            "result-code-zoe-bronte-section-1-of-3-multiple-choice.txt",
            "Waiting to send",
        ),
        (
            "Zoë Brontë",
            "Section 2 of 3: Short answers",
            "result-code-zoe-bronte-section-2-of-3-short-answers.txt",
            "Waiting to send",
        ),
    ]
    assert results[1].waiting_since - results[0].waiting_since == timedelta(seconds=60)
    assert resultcode.decode(results[0].code(), result_secret=SECRET) == first
    assert SECRET not in repr(results[0]), "the result secret never reaches a log"
    assert pending(journal, attempt_id=login.attempt_id).keys == (first.idempotency_key, second.idempotency_key)
    assert not pending(journal, attempt_id=login.attempt_id).send_failed

    outbox = journal.outbox()
    claimed = outbox.claim_due(10, moment + timedelta(hours=1))
    assert outbox.mark_sent(first.idempotency_key)
    outbox.mark_retry(second.idempotency_key, "connection refused", moment + timedelta(hours=2))
    assert len(claimed) == 2
    (left,) = unsent_results(journal, attempt_id=login.attempt_id)
    assert (left.key, left.status()) == (second.idempotency_key, "Waiting to send (last try: connection refused)")
    assert pending(journal, attempt_id=login.attempt_id).send_failed
    assert unsent_results(journal, attempt_id="another-attempt") == []

    outbox.claim_due(10, moment + timedelta(hours=3))
    outbox.mark_needs_attention(second.idempotency_key, "the sitting was closed")
    assert unsent_results(journal)[0].status() == "Refused by the server: the sitting was closed"
    wakes: list[str] = []
    send_now_from(journal, lambda: wakes.append("wake"))()
    assert (wakes, unsent_results(journal)[0].state) == (["wake"], "pending")


def too_large(login: LoginResponse) -> ResultEnvelope:
    """150 essays of 5,000 random characters: random text hardly compresses, unlike anything a student types."""
    rng = random.Random(5)
    moment = datetime(2027, 3, 1, 9, 5, tzinfo=UTC)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789 "
    essays = [
        AnswerRecord(item_id=f"essay-{n}", value="".join(rng.choice(letters) for _ in range(5000)), answered_at=moment)
        for n in range(150)
    ]
    return envelope(login, ["mc", "short", "dictation"], essays)


def test_an_envelope_too_large_for_a_code_is_refused_in_words_not_a_crash(
    journal: Journal, demo_delivery: object
) -> None:
    login = zoe(demo_delivery)
    journal.start_attempt(login, server_url=SERVER)
    finish(journal, login, "dictation", too_large(login))
    (result,) = unsent_results(journal)
    with pytest.raises(NoResultCode) as refused:
        result.code()
    message = str(refused.value)
    assert message.startswith("No result code can be made for Zoë Brontë, The whole test (3 sections): ")
    assert "too large for a result code" in message
    assert message.endswith(
        "Leave this computer switched on where it reaches the server: the result is sent by itself."
    )
    assert unsent_results(journal)[0].state == "pending", "nothing changed: it is still waiting to be sent"
