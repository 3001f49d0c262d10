"""A small package (manifest.json, native keys) that uses the QTI ordering and choice-count fields: a shuffled
section with a fixed item, shuffled options with a fixed one, a multiple choice of at most 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sync.protocol import DeliveryAssessment

FIXED_ITEM = "q-fixed"
FIXED_POSITION = 1
"""Where `FIXED_ITEM` stands in the package, and so in every attempt."""
NONE_OF_THESE = "d"
"""The fixed option of q-capital: last in the package, last for everyone."""
SINGLE_ANSWERS = {"q-capital": "a", "q-fixed": "a", "q-even": "b", "q-colour": "a"}
"""The right option of each single-choice item; q-primes (2 points, partial) is right with b and d."""


def _choice(item_id: str, prompt: str, options: list[str], correct: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "single_choice",
        "prompt": prompt,
        "options": [{"id": chr(ord("a") + n), "text": text} for n, text in enumerate(options)],
        "correct": correct,
        **extra,
    }


def manifest() -> dict[str, Any]:
    capital = _choice("q-capital", "What is the capital of France?", ["Paris", "Lyon", "Nice"], "a", shuffle=True)
    capital["options"].append({"id": NONE_OF_THESE, "text": "None of these", "fixed": True})
    primes = {
        "id": "q-primes",
        "type": "multiple_choice",
        "prompt": "Which two of these numbers are prime?",
        "options": [{"id": chr(ord("a") + n), "text": text} for n, text in enumerate(["4", "7", "9", "11", "15"])],
        "correct": ["b", "d"],
        "scoring": "partial",
        "points": 2,
        "shuffle": True,
        "max_choices": 2,
    }
    return {
        "format_version": 1,
        "id": "ordered-check",
        "version": "1.0.0",
        "title": "Ordered check",
        "sections": [
            {
                "id": "shuffled",
                "title": "Shuffled questions",
                "instructions": "The questions come in an order of your own.",
                "time_limit_minutes": 10,
                "shuffle": True,
                "fixed_items": [FIXED_ITEM],
                "items": [
                    capital,
                    _choice(FIXED_ITEM, "This question is always second. Is it?", ["Yes", "No"], "a"),
                    primes,
                    _choice("q-even", "Which number is even?", ["3", "8", "5"], "b"),
                    _choice("q-colour", "Which word is a colour?", ["Green", "Seven", "Loud"], "a"),
                ],
            },
            {
                "id": "last",
                "title": "Last word",
                "time_limit_minutes": 5,
                "items": [{"id": "q-end", "type": "short_text", "prompt": "Type the word 'end'.", "accepted": ["end"]}],
            },
        ],
    }


def write_package(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest(), indent=2), encoding="utf-8")
    return folder


def delivery(folder: Path) -> DeliveryAssessment:
    """The package's delivery form, as the server sends it (in the package's order)."""
    from sync.server.content import load_package

    return load_package(write_package(folder)).manifest.delivery_form()
