"""Hand marking: the scores people give to extended-text answers (with marker and time), and results with them in.

The automatic marks stored on a result stay as marking made them (`remark` may rebuild them); hand marks live in
their own table, every mark kept, and are merged in whenever a result is read (`with_hand_marks`), so section
scores and totals include them. Two markers on one answer: the second is refused unless they saw the first's
mark (`HandMarkIn.replaces`), so no mark is overwritten unseen; every mark given is in the sitting's log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import marking_protocol as mp
from sync.server import audit, domain, sittings
from sync.server.audit import Actor
from sync.server.content import ExtendedTextItem, Manifest
from sync.server.errors import ServiceError, not_found
from sync.server.manifest_cache import ManifestCache
from sync.server.models import Allocation, Attempt, HandMark, Result
from sync.server.results import answer_deadline

MARKER_ROLES = ("admin", "teacher")
"""Who may give marks: they change a student's scores (invigilators supervise, they do not mark)."""

_ITEM_WORDS = {
    "single_choice": "a single-choice item",
    "multiple_choice": "a multiple-choice item",
    "short_text": "a short-answer item",
    "dictation": "a dictation item",
    "extended_text": "an extended-text item with QTI scoring rules",
}


@dataclass(frozen=True)
class Layout:
    """What reading a result needs of its test: section titles and each section's items, in the package's order."""

    titles: dict[str, str]
    items: dict[str, list[str]]

    @classmethod
    def of(cls, manifest: Manifest) -> Layout:
        return cls(
            titles={s.id: s.title for s in manifest.sections},
            items={s.id: [i.id for i in s.items] for s in manifest.sections},
        )


def hundredths(score: float) -> int:
    return round(score * 100)


def mark_out(row: HandMark) -> mp.HandMarkOut:
    return mp.HandMarkOut(
        id=row.seq,
        result_id=row.result_id,
        item_id=row.item_id,
        score=row.score_hundredths / 100,
        max_score=row.max_hundredths / 100,
        marker=row.marker,
        marked_at=row.marked_at,
    )


def newest_marks(session: Session, result_ids: Iterable[str]) -> dict[str, dict[str, HandMark]]:
    """The mark that counts for each hand-marked item, by result id, then item id."""
    ids = list(result_ids)
    newest: dict[str, dict[str, HandMark]] = {}
    if not ids:
        return newest
    for row in session.scalars(select(HandMark).where(HandMark.result_id.in_(ids)).order_by(HandMark.seq)):
        newest.setdefault(row.result_id, {})[row.item_id] = row  # in order, so the newest stays
    return newest


def with_hand_marks(
    marks: dict[str, Any] | None, hand: Mapping[str, HandMark], layout: Layout
) -> dict[str, Any] | None:
    """The stored marks with each hand mark's score in place of the automatic 0, sections and total summed again.

    A marked item keeps `needs_manual: false` and gains `hand_mark` (score, marker, time), so a report shows who
    marked it."""
    if marks is None or not hand:
        return marks
    items: dict[str, dict[str, Any]] = {k: dict(v) for k, v in marks.get("items", {}).items()}
    for item_id, row in hand.items():
        item = items.get(item_id)
        if item is None:
            continue
        item["score"] = row.score_hundredths / 100
        item["needs_manual"] = False
        item["hand_mark"] = {
            "score": row.score_hundredths / 100,
            "marker": row.marker,
            "marked_at": row.marked_at.isoformat(),
        }
    sections: dict[str, dict[str, Any]] = {}
    for section_id, section in marks.get("sections", {}).items():
        ids = [i for i in layout.items.get(section_id, []) if i in items]
        sections[section_id] = {
            **section,
            "score": round(sum(items[i]["score"] for i in ids), 2),
            "needs_manual": any(items[i].get("needs_manual", False) for i in ids),
        }
    total = round(sum(s["score"] for s in sections.values()), 2)
    return {**marks, "items": items, "sections": sections, "total": total}


def hand_counts(marks: dict[str, Any] | None, hand: Mapping[str, HandMark], item_ids: list[str]) -> tuple[int, int]:
    """(needed, done): answers among `item_ids` that need a person's mark, and how many have one."""
    stored = (marks or {}).get("items", {})
    needing = [i for i in item_ids if stored.get(i, {}).get("needs_manual", False)]
    return len(needing), sum(1 for i in needing if i in hand)


def still_sitting(attempt: Attempt, *, now: datetime) -> bool:
    """The student may still change answers: not finished, and their deadline (or extension) not passed."""
    return attempt.finished_at is None and now < answer_deadline(attempt)


def _answers(result: Result) -> dict[str, Any]:
    return {str(a.get("item_id")): a.get("value") for a in result.body.get("answers", []) if isinstance(a, dict)}


def sheet(
    session: Session, actor: Actor, sitting_id: str, *, now: datetime, manifests: ManifestCache
) -> mp.HandMarkingSheet:
    """Every answer of the sitting that needs a person's mark, item by item in the package's order, students by
    name within each item, with the mark each has now."""
    sitting = sittings.get_sitting(session, actor, sitting_id)
    sittings.close_due_sittings(session, now=now, school_id=actor.school_id)
    manifest = manifests.get(sitting.assessment).manifest
    results = list(
        session.scalars(
            select(Result)
            .join(Result.attempt)
            .join(Allocation)
            .where(Allocation.sitting_id == sitting.id, Result.status == "marked")
            .order_by(Result.received_at)
        )
    )
    # The latest result holding an answer to an item is the one a student's answer is read (and marked) from.
    latest: dict[tuple[str, str], Result] = {}
    for result in results:
        for item_id in _answers(result):
            latest[(result.attempt.allocation_id, item_id)] = result
    hand = newest_marks(session, {r.id for r in latest.values()})
    items: list[mp.HandMarkItem] = []
    for section in manifest.sections:
        for item in section.items:
            if not isinstance(item, ExtendedTextItem) or item.qti is not None:
                continue  # an extended-text item with QTI scoring rules is marked by them
            answers = []
            for (_, item_id), result in latest.items():
                stored = (result.marks or {}).get("items", {}).get(item_id, {})
                if item_id != item.id or not stored.get("needs_manual", False):
                    continue
                allocation = result.attempt.allocation
                row = hand.get(result.id, {}).get(item_id)
                answers.append(
                    mp.HandMarkAnswer(
                        result_id=result.id,
                        allocation_id=allocation.id,
                        student_name=allocation.student.display_name,
                        unique_id=allocation.student.unique_id,
                        answer=str(_answers(result)[item_id]),
                        still_sitting=still_sitting(result.attempt, now=now),
                        mark=mark_out(row) if row is not None else None,
                    )
                )
            answers.sort(key=lambda a: (a.student_name.casefold(), a.unique_id))
            items.append(
                mp.HandMarkItem(
                    item_id=item.id,
                    section_id=section.id,
                    section_title=section.title,
                    prompt=item.prompt,
                    guidance=item.guidance or None,
                    max_score=float(item.points),
                    answers=answers,
                )
            )
    return mp.HandMarkingSheet(sitting_id=sitting.id, items=items)


def give_mark(
    session: Session,
    actor: Actor,
    result_id: str,
    item_id: str,
    given: mp.HandMarkIn,
    *,
    now: datetime,
    manifests: ManifestCache,
) -> mp.HandMarkOut:
    """Record `given` as the mark of one answer and note it in the sitting's log; refuses (nothing changed) a
    score out of the item's range, an item not marked by hand, a student still sitting, or a mark given meanwhile
    by someone else that the marker has not seen."""
    if actor.role not in MARKER_ROLES:
        raise ServiceError(
            403, "forbidden", f"Marking needs the role admin or teacher; you are signed in as {actor.role}."
        )
    result = session.get(Result, result_id)
    if result is None or result.attempt.allocation.sitting.school_id != actor.school_id:
        raise not_found("result")
    allocation = result.attempt.allocation
    sittings.close_due_sittings(session, now=now, school_id=actor.school_id)
    manifest = manifests.get(allocation.sitting.assessment).manifest
    student = allocation.student.display_name
    item = manifest.items().get(item_id)
    if item is None:
        raise ServiceError(
            404, "unknown_item", f"The test '{manifest.title}' has no item '{item_id}'; nothing was changed."
        )
    if not isinstance(item, ExtendedTextItem) or item.qti is not None:
        raise ServiceError(
            422,
            "not_hand_marked",
            f"Item '{item_id}' is {_ITEM_WORDS.get(item.type, item.type)}, marked automatically from the test's "
            "keys; only extended-text items are marked by hand. Nothing was changed.",
        )
    if result.status != "marked" or result.marks is None:
        raise ServiceError(
            409,
            "not_marked",
            f"{student}'s result could not be marked automatically ({result.error or result.status}); run "
            "`invigil-server remark` (or remark it in the API) first, then mark by hand. Nothing was changed.",
        )
    if item_id not in _answers(result) or not result.marks.get("items", {}).get(item_id, {}).get("needs_manual"):
        raise ServiceError(
            409,
            "nothing_to_mark",
            f"{student} left item '{item_id}' blank in this result: it scores 0 and needs no mark. "
            "Nothing was changed.",
        )
    if still_sitting(result.attempt, now=now):
        raise ServiceError(
            409,
            "still_sitting",
            f"{student} is still sitting the test: their answers are marked by hand once they have finished. "
            "Nothing was changed.",
        )
    top = hundredths(float(item.points))
    score = hundredths(given.score)
    if abs(score - given.score * 100) > 1e-6:
        raise ServiceError(
            422, "score_too_precise", f"Scores have at most two decimals (such as 2.5); {given.score} has more."
        )
    if score > top:
        raise ServiceError(
            422,
            "score_out_of_range",
            f"{given.score:g} is more than item '{item_id}' is worth: give a score from 0 to {top / 100:g}. "
            "Nothing was changed.",
        )
    current = newest_marks(session, [result.id]).get(result.id, {}).get(item_id)
    if (current.seq if current is not None else None) != given.replaces:
        raise _marked_meanwhile(current, student=student, item_id=item_id, score=given.score)
    row = HandMark(
        result_id=result.id,
        item_id=item_id,
        score_hundredths=score,
        max_hundredths=top,
        marker=actor.name,
        staff_id=actor.staff_id,
        marked_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "hand_mark",
        target=result.id,
        sitting_id=allocation.sitting_id,
        allocation_id=allocation.id,
        item_id=item_id,
        score=score / 100,
        max_score=top / 100,
        previous_score=current.score_hundredths / 100 if current is not None else None,
        previous_marker=current.marker if current is not None else None,
    )
    return mark_out(row)


def _marked_meanwhile(current: HandMark | None, *, student: str, item_id: str, score: float) -> ServiceError:
    if current is None:
        what = f"the mark you were changing on {student}'s answer to item '{item_id}' is no longer there"
    else:
        what = (
            f"{current.marker} marked {student}'s answer to item '{item_id}' "
            f"{current.score_hundredths / 100:g} of {current.max_hundredths / 100:g} at "
            f"{domain.format_time(current.marked_at)}, after you opened it"
        )
    return ServiceError(
        409,
        "marked_meanwhile",
        f"Your mark ({score:g}) was not saved: {what}. Load the answer again to see their mark, and mark it again "
        "if you disagree.",
    )
