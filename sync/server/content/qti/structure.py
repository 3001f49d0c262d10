"""An assessmentTest's testParts and sections planned as Invigil sections: flat, in order, each timed on its own.

Nested sections are flattened in document order: each run of assessmentItemRefs becomes one Invigil section whose
title joins the titles of the sections around it with " / " (e.g. "Reading / Part A"). A timeLimits applies to the
one Invigil section it covers; a limit covering several is refused (Invigil times each section on its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sync.server.content.errors import PackageError
from sync.server.content.qti.body import flat_text, resolve_href
from sync.server.content.qti.items import check_id
from sync.server.content.qti.tree import Node, flag

_REFUSED = {
    "selection": "selection (select=N, a random subset of items) is not supported; list the items to give",
    "preCondition": "preCondition (adaptive tests) is not supported; every student sits every item in Invigil",
    "branchRule": "branchRule (adaptive tests) is not supported; every student sits every item in Invigil",
    "assessmentSectionRef": "assessmentSectionRef is not supported; write the section into the test",
}


@dataclass
class ItemRef:
    path: str
    """The item file inside the package."""
    fixed: bool
    node: Node


@dataclass
class SectionPlan:
    id: str
    title: str
    instructions: str
    refs: list[ItemRef] = field(default_factory=list)
    shuffle: bool = False
    time_limit_seconds: int | None = None


def _at(node: Node) -> str:
    return f"line {node.line}"


def _max_time(file: str, node: Node) -> int | None:
    limits = node.child("timeLimits")
    if limits is None or limits.get("maxTime") is None:
        return None
    raw = limits.get("maxTime", "")
    try:
        seconds = float(raw)
    except ValueError:
        raise PackageError(
            file, _at(limits), f"timeLimits maxTime={raw!r} is not a number of seconds; write e.g. 600 for 10 minutes"
        ) from None
    if not 10 <= seconds <= 36_000:
        raise PackageError(file, _at(limits), f"timeLimits maxTime={raw} seconds; Invigil needs 10 to 36000")
    return math.ceil(seconds)


class _Planner:
    def __init__(self, file: str) -> None:
        self.file = file
        self.plans: list[SectionPlan] = []
        self.pending: list[str] = []

    def container(self, node: Node, titles: list[str]) -> None:
        for child in node.children:
            if child.name in _REFUSED:
                raise PackageError(self.file, _at(child), f"{child.written}: {_REFUSED[child.name]}")
        own_titles = [*titles, node.get("title") or ""] if node.name == "assessmentSection" else titles
        ordering = node.child("ordering")
        shuffle = ordering is not None and flag(self.file, ordering, "shuffle", default=False)
        if shuffle and node.all("assessmentSection"):
            raise PackageError(
                self.file,
                _at(ordering or node),
                "shuffling sections among themselves is not supported; shuffle the items inside each section",
            )
        first = len(self.plans)
        run: SectionPlan | None = None
        # Only rubrics for the candidate are instructions; those for scorers, proctors or authors are not shown.
        rubrics = [r for r in node.all("rubricBlock") if "candidate" in (r.get("view") or "candidate").split()]
        # A section's rubric goes to the first Invigil section made from it (its own items or its first subsection).
        self.pending += [flat_text(self.file, rubric) for rubric in rubrics]
        for child in node.children:
            if child.name == "assessmentItemRef":
                if run is None:
                    run = self.new_run(node, own_titles, shuffle)
                run.refs.append(self.item_ref(child))
            elif child.name in ("assessmentSection", "testPart"):
                run = None
                self.container(child, own_titles)
        self.apply_limit(node, self.plans[first:])

    def new_run(self, node: Node, titles: list[str], shuffle: bool) -> SectionPlan:
        base = check_id(self.file, node, node.get("identifier"), f"{node.written} identifier")
        taken = {plan.id for plan in self.plans}
        identifier, n = base, 1
        while identifier in taken:
            n += 1
            identifier = f"{base}-{n}"
        title = " / ".join(title for title in titles if title) or base
        instructions = "\n\n".join(text for text in self.pending if text)
        self.pending = []
        plan = SectionPlan(id=identifier, title=title, instructions=instructions, shuffle=shuffle)
        self.plans.append(plan)
        return plan

    def item_ref(self, node: Node) -> ItemRef:
        if node.child("timeLimits") is not None:
            raise PackageError(self.file, _at(node), "timeLimits on an item is not supported; time the section")
        href = node.get("href")
        if not href:
            raise PackageError(self.file, _at(node), f"{node.written} has no href; name the item's file")
        path = resolve_href(self.file, href, file=self.file, node=node)
        return ItemRef(path=path, fixed=flag(self.file, node, "fixed", default=False), node=node)

    def apply_limit(self, node: Node, covered: list[SectionPlan]) -> None:
        seconds = _max_time(self.file, node)
        if seconds is None:
            return
        if len(covered) != 1:
            raise PackageError(
                self.file,
                _at(node),
                f"the timeLimits of {node.written} '{node.get('identifier')}' covers {len(covered)} sections; "
                "Invigil times each section on its own: put timeLimits on each section instead",
            )
        plan = covered[0]
        # Both limits hold in QTI; the stricter one is the one a candidate meets first.
        plan.time_limit_seconds = min(seconds, plan.time_limit_seconds or seconds)


def plan_sections(file: str, test: Node) -> list[SectionPlan]:
    """The test's sections in order; refuses what Invigil cannot give the way QTI defines it."""
    planner = _Planner(file)
    parts = test.all("testPart")
    if not parts:
        raise PackageError(file, _at(test), "the assessmentTest has no testPart; add one holding its sections")
    for part in parts:
        planner.container(part, [])
    planner.apply_limit(test, planner.plans)
    if not planner.plans:
        raise PackageError(file, _at(test), "the assessmentTest names no items; add an assessmentItemRef for each item")
    return planner.plans
