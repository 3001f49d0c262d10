"""An IMS Content Package (imsmanifest.xml) holding QTI items and a test, converted to a raw manifest.json dict.

The result goes through the same checks as a JSON package (see loading.py), so a QTI package is refused or
stored exactly as the equivalent manifest.json would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync.server.content.errors import PackageError, PackageLimits
from sync.server.content.files import PackageFiles
from sync.server.content.qti.body import resolve_href
from sync.server.content.qti.items import check_id, read_item
from sync.server.content.qti.structure import ItemRef, SectionPlan, plan_sections
from sync.server.content.qti.tree import QTI_NAMESPACES, Node, parse_xml

IMS_MANIFEST = "imsmanifest.xml"
_TEST_TYPES = ("imsqti_test_xmlv2p1", "imsqti_test_xmlv2p2", "imsqti_test_xmlv3p0")
_ITEM_TYPES = ("imsqti_item_xmlv2p1", "imsqti_item_xmlv2p2", "imsqti_item_xmlv3p0")
PENDING_VERSION = "qti"
"""Replaced by a version derived from the content once the package is resolved (see loading.py)."""


@dataclass(frozen=True)
class Converted:
    raw: dict[str, Any]
    """manifest.json as a dict, media as package paths."""
    item_files: dict[tuple[int, int], str]
    """(section index, item index) -> the item's file, so a later check can name the file."""
    structure_file: str
    """The test's file (imsmanifest.xml for a package of items only), named by a later check on a section."""


def read_bytes(files: PackageFiles, path: str, limits: PackageLimits, *, named_by: str, at: Node | None) -> bytes:
    """A file the package names, refused when missing or larger than an XML file may be."""
    if path not in files.sizes:
        where = f"line {at.line}" if at is not None else None
        raise PackageError(named_by, where, f"names '{path}', which is not in the package; add the file")
    if files.sizes[path] > limits.max_manifest_bytes:
        raise PackageError(
            path, None, f"{files.sizes[path]} bytes; XML files may be at most {limits.max_manifest_bytes} bytes"
        )
    return files.read(path, limits.max_manifest_bytes)


def read_xml(files: PackageFiles, path: str, limits: PackageLimits, *, named_by: str, at: Node | None) -> Node:
    return parse_xml(read_bytes(files, path, limits, named_by=named_by, at=at), path)


def convert_package(files: PackageFiles, *, limits: PackageLimits, untimed_section_minutes: int | None) -> Converted:
    manifest = read_xml(files, IMS_MANIFEST, limits, named_by=IMS_MANIFEST, at=None)
    if manifest.name != "manifest":
        raise PackageError(
            IMS_MANIFEST,
            f"line {manifest.line}",
            "the root element must be <manifest> (IMS CP); export the package again as an IMS content package",
        )
    tests: list[tuple[str, Node]] = []
    item_paths: list[tuple[str, Node]] = []
    for resources in manifest.all("resources"):
        for resource in resources.all("resource"):
            kind = resource.get("type", "")
            if kind not in _TEST_TYPES + _ITEM_TYPES:
                continue  # web content, stylesheets, media: reached through the items that use them
            href = resource.get("href")
            if not href:
                raise PackageError(
                    IMS_MANIFEST, f"line {resource.line}", f"resource of type {kind} has no href; name its file there"
                )
            path = resolve_href(IMS_MANIFEST, href, file=IMS_MANIFEST, node=resource)
            if path not in files.sizes:
                raise PackageError(
                    IMS_MANIFEST, f"line {resource.line}", f"names '{href}', which is not in the package; add it"
                )
            (tests if kind in _TEST_TYPES else item_paths).append((path, resource))
    if len(tests) > 1:
        raise PackageError(IMS_MANIFEST, f"line {tests[1][1].line}", "a second assessmentTest; one test per package")
    if tests:
        test_path, resource = tests[0]
        test = read_xml(files, test_path, limits, named_by=IMS_MANIFEST, at=resource)
        if test.name != "assessmentTest" or test.namespace not in QTI_NAMESPACES:
            raise PackageError(
                test_path,
                f"line {test.line}",
                f"not a QTI assessmentTest (root {test.written!r}); check the resource's type and file in imsmanifest.xml",
            )
        identifier = check_id(test_path, test, test.get("identifier"), "test identifier")
        title = test.get("title") or identifier
        plans = plan_sections(test_path, test)
        named_by = test_path
    elif item_paths:
        # A package of items only: one section holding them in manifest order.
        identifier = check_id(IMS_MANIFEST, manifest, manifest.get("identifier"), "manifest identifier")
        title = _organization_title(manifest) or identifier
        plans = [SectionPlan(id="items", title=title, instructions="")]
        plans[0].refs = [ItemRef(path=path, fixed=False, node=node) for path, node in item_paths]
        named_by = IMS_MANIFEST
    else:
        raise PackageError(
            IMS_MANIFEST,
            None,
            "lists no QTI test or item resource (type imsqti_test_xmlv2p1 etc.); export the assessment as QTI 2.1, 2.2 or 3.0",
        )
    _apply_untimed(plans, named_by, untimed_section_minutes)
    sections: list[dict[str, Any]] = []
    item_files: dict[tuple[int, int], str] = {}
    seen: set[str] = set()
    refused: list[PackageError] = []
    for s, plan in enumerate(plans):
        items = []
        fixed = []
        for i, ref in enumerate(plan.refs):
            if ref.path in seen:
                raise PackageError(
                    named_by, f"line {ref.node.line}", f"'{ref.path}' is named a second time; an item can appear once"
                )
            seen.add(ref.path)
            data = read_bytes(files, ref.path, limits, named_by=named_by, at=ref.node)
            try:
                item = read_item(ref.path, data, package_files=files.sizes.keys())
            except PackageError as exc:
                refused.append(exc)  # every item is read, so the author sees each refused one at once
                continue
            items.append(item)
            item_files[(s, i)] = ref.path
            if ref.fixed:
                fixed.append(item["id"])
        section: dict[str, Any] = {"id": plan.id, "title": plan.title, "items": items}
        if plan.instructions:
            section["instructions"] = plan.instructions
        if plan.time_limit_seconds is not None:
            section["time_limit_seconds"] = plan.time_limit_seconds
        else:
            section["time_limit_minutes"] = untimed_section_minutes
        if plan.shuffle:
            section["shuffle"] = True
            section["fixed_items"] = fixed
        sections.append(section)
    if refused:
        raise _all_refused(refused)
    raw = {"format_version": 1, "id": identifier, "version": PENDING_VERSION, "title": title, "sections": sections}
    return Converted(raw=raw, item_files=item_files, structure_file=named_by)


def _all_refused(refused: list[PackageError]) -> PackageError:
    """The first refused item's error, listing the others after it: one per item, nothing stored."""
    first = refused[0]
    if len(refused) == 1:
        return first
    others = "\n".join(f"  {error}" for error in refused[1:])
    count = len(refused) - 1
    return PackageError(
        first.file,
        first.field,
        f"{first.message}\n{count} more item{'s' if count > 1 else ''} cannot be imported either:\n{others}",
    )


def _organization_title(manifest: Node) -> str:
    organizations = manifest.child("organizations")
    for organization in organizations.all("organization") if organizations else []:
        title = organization.child("title")
        if title is not None and title.text_content().strip():
            return title.text_content().strip()
    return ""


def _apply_untimed(plans: list[SectionPlan], file: str, untimed_section_minutes: int | None) -> None:
    untimed = [plan for plan in plans if plan.time_limit_seconds is None]
    if untimed and untimed_section_minutes is None:
        names = ", ".join(f"'{plan.title}' ({plan.id})" for plan in untimed)
        raise PackageError(
            file,
            None,
            f"no time limit (timeLimits maxTime) for section(s) {names}; Invigil times every section: add "
            "timeLimits, or load with --untimed-section-minutes N to give each untimed section N minutes",
        )
