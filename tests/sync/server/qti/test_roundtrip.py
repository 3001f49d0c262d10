"""import(export(x)) marks every answer as x does: a QTI 3.0 export of a generated assessment, loaded back as any
QTI package is, gives each item the same mark (score, maximum, hand marking, answered) for generated answers."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.protocol import AnswerValue
from sync.server import marking
from sync.server.content import Manifest, MultipleChoiceItem, ShortTextItem, SingleChoiceItem, load_package
from sync.server.content.checks import validate_manifest
from sync.server.content.qti.export import export_qti
from tests.helpers.qti_packages import OGG

# Letters whose case or compatibility form differs (ß/SS, Σ/ς, ﬁ, fullwidth Ａ, Kelvin sign), digits and spaces.
TEXT_ALPHABET = "abcAB ßΣσςİıﬁＡｂK\u212a\u00a0é\u0301"
words = st.text(alphabet=TEXT_ALPHABET, min_size=1, max_size=12).filter(lambda t: t.split())
points = st.integers(min_value=1, max_value=100_000).map(lambda cents: cents / 100)
OGG_SHA = hashlib.sha256(OGG).hexdigest()
AUDIO = {"path": "media/clip.ogg", "sha256": OGG_SHA, "mime_type": "audio/ogg", "size": len(OGG)}


@st.composite
def audio(draw: st.DrawFn) -> dict[str, Any]:
    """No recording, or one with a play limit (or none) that starts by itself or waits for the student."""
    if draw(st.booleans()):
        return {}
    plays = draw(st.none() | st.integers(min_value=1, max_value=5))
    return {"audio": AUDIO, "max_plays": plays, "autoplay": draw(st.booleans())}


option_ids = st.lists(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,6}", fullmatch=True), min_size=2, max_size=6, unique=True
)


@st.composite
def choice_item(draw: st.DrawFn, item_id: str) -> dict[str, Any]:
    ids = draw(option_ids)
    options = [{"id": o, "text": f"Option {o}", "fixed": draw(st.booleans())} for o in ids]
    item: dict[str, Any] = {"id": item_id, "prompt": f"Question {item_id}?", "options": options}
    item |= {"points": draw(points), "shuffle": draw(st.booleans())} | draw(audio())
    if draw(st.booleans()):
        return item | {"type": "single_choice", "correct": draw(st.sampled_from(ids))}
    correct = draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
    item |= {
        "type": "multiple_choice",
        "correct": correct,
        "scoring": draw(st.sampled_from(["all_or_nothing", "partial"])),
    }
    most = draw(st.none() | st.integers(min_value=1, max_value=len(ids)))
    fewest = draw(st.integers(min_value=0, max_value=most or len(ids)))
    return item | {"max_choices": most, "min_choices": fewest}


@st.composite
def text_item(draw: st.DrawFn, item_id: str) -> dict[str, Any]:
    item = {"id": item_id, "prompt": f"Write {item_id}.", "points": draw(points)} | draw(audio())
    if draw(st.booleans()):
        return item | {"type": "extended_text", "guidance": draw(st.sampled_from(["", "Two points for a verb."]))}
    accepted = draw(st.lists(words, min_size=1, max_size=3))
    return item | {"type": "short_text", "accepted": accepted, "case_sensitive": draw(st.booleans())}


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    sections = []
    for s in range(draw(st.integers(min_value=1, max_value=3))):
        count = draw(st.integers(min_value=1, max_value=4))
        items = [draw(choice_item(f"i{s}-{n}") | text_item(f"i{s}-{n}")) for n in range(count)]
        section: dict[str, Any] = {"id": f"s{s}", "title": f"Part {s}", "items": items}
        section["shuffle"] = draw(st.booleans())
        section["fixed_items"] = draw(st.lists(st.sampled_from([i["id"] for i in items]), unique=True))
        if draw(st.booleans()):
            section["time_limit_seconds"] = draw(st.integers(min_value=10, max_value=36_000))
        else:
            section["time_limit_minutes"] = draw(st.integers(min_value=1, max_value=600))
        sections.append(section)
    # validate_manifest: the checks a package's manifest.json passes (keys name real options, counts fit, ...).
    return validate_manifest({"id": "roundtrip", "version": "1", "title": "Roundtrip", "sections": sections})


def _variant(draw: st.DrawFn, text: str) -> str:
    """The same answer as a student might type it: case changed, spaces around and inside, fullwidth letters."""
    change = draw(st.sampled_from(["same", "upper", "lower", "swap", "spaces", "fullwidth"]))
    if change == "spaces":
        return "  " + "   ".join(text.split()) + " \t"
    if change == "fullwidth":
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    return {"same": text, "upper": text.upper(), "lower": text.lower(), "swap": text.swapcase()}[change]


@st.composite
def answers_for(draw: st.DrawFn, manifest: Manifest) -> dict[str, AnswerValue]:
    answers: dict[str, AnswerValue] = {}
    for item in manifest.items().values():
        if draw(st.integers(min_value=0, max_value=5)) == 0:
            continue  # not answered at all
        if isinstance(item, SingleChoiceItem):
            answers[item.id] = draw(st.sampled_from([o.id for o in item.options]))
        elif isinstance(item, MultipleChoiceItem):
            # Repeats are allowed on the wire (a list of option ids) and must not change the score.
            limit = item.max_choices or len(item.options) + 2
            answers[item.id] = draw(st.lists(st.sampled_from([o.id for o in item.options]), max_size=limit))
        elif isinstance(item, ShortTextItem) and draw(st.booleans()):
            answers[item.id] = _variant(draw, draw(st.sampled_from(item.accepted)))
        else:
            answers[item.id] = draw(words | st.sampled_from(["", "   ", " \n "]))
    return answers


def _trip(manifest: Manifest) -> Manifest:
    """export, then load the zip as any QTI package is loaded."""
    with tempfile.TemporaryDirectory() as folder:  # not tmp_path: a folder per example
        package = Path(folder) / "roundtrip.zip"
        export_qti(manifest, {OGG_SHA: OGG}, package)
        return load_package(package).manifest


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_an_exported_assessment_imports_back_to_the_same_marks(data: st.DataObject) -> None:
    original = data.draw(manifests())
    imported = _trip(original)
    # Imported items carry QTI rules (templates expanded); exporting those writes the rules and templates back.
    twice = _trip(imported)
    assert list(imported.items()) == list(twice.items()) == list(original.items())
    for _ in range(3):
        answers = data.draw(answers_for(original))
        expected = marking.mark(original, answers)
        for trip, marks in (("once", marking.mark(imported, answers)), ("twice", marking.mark(twice, answers))):
            for item_id, mark in expected.items.items():
                assert marks.items[item_id] == mark, f"{trip}: item {item_id}, answer {answers.get(item_id)!r}"
            assert marks.total == expected.total


@settings(max_examples=25, deadline=None)
@given(original=manifests())
def test_the_export_keeps_order_shuffle_time_and_audio_rules(original: Manifest) -> None:
    imported = _trip(original)
    for before, after in zip(original.sections, imported.sections, strict=True):
        assert (after.id, after.time_limit(), after.shuffle) == (before.id, before.time_limit(), before.shuffle)
        if before.shuffle:  # fixed places mean something only in a shuffled section
            assert sorted(after.fixed_items) == sorted(before.fixed_items)
        for old, new in zip(before.items, after.items, strict=True):
            assert (new.id, new.type, new.points) == (old.id, old.type, old.points)
            # The recording, its plays and whether it starts by itself (mediaInteraction max-plays, autostart).
            assert (new.audio is None, new.max_plays, new.autoplay) == (old.audio is None, old.max_plays, old.autoplay)
            if old.type in ("single_choice", "multiple_choice"):
                assert new.shuffle == old.shuffle  # type: ignore[union-attr]
                assert [(o.id, o.fixed) for o in new.options] == [(o.id, o.fixed) for o in old.options]  # type: ignore[union-attr]
            if old.type == "multiple_choice":
                assert (new.max_choices, new.min_choices) == (old.max_choices, old.min_choices)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("points", "correct", "options", "ticked"),
    [(0.01, 4, 5, ["a", "b", "c", "e"]), (0.02, 4, 6, ["a", "b", "c", "e", "f"])],
)
def test_partial_credit_exactly_on_half_a_cent_marks_the_same(
    points: float, correct: int, options: int, ticked: list[str]
) -> None:
    ids = [chr(ord("a") + n) for n in range(options)]
    item = {"id": "q", "type": "multiple_choice", "prompt": "Tick", "points": points, "scoring": "partial"}
    item |= {"options": [{"id": i, "text": i} for i in ids], "correct": ids[:correct]}
    section = {"id": "s", "title": "S", "time_limit_minutes": 5, "items": [item]}
    original = validate_manifest({"id": "half", "version": "1", "title": "Half", "sections": [section]})
    answers: dict[str, AnswerValue] = {"q": ticked}
    assert marking.mark(_trip(original), answers).items == marking.mark(original, answers).items
