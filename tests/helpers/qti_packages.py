"""Small QTI content packages written by tests: items in QTI 2.x spelling, turned into 2.1, 2.2 or 3.0 on demand."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

NAMESPACES = {
    "2.1": "http://www.imsglobal.org/xsd/imsqti_v2p1",
    "2.2": "http://www.imsglobal.org/xsd/imsqti_v2p2",
    "3.0": "http://www.imsglobal.org/xsd/imsqtiasi_v3p0",
}
RESOURCE_SUFFIX = {"2.1": "v2p1", "2.2": "v2p2", "3.0": "v3p0"}
TEMPLATE_BASE = {
    "2.1": "http://www.imsglobal.org/question/qti_v2p1/rptemplates/",
    "2.2": "http://www.imsglobal.org/question/qti_v2p2/rptemplates/",
    "3.0": "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/",
}
_XHTML = {"p", "div", "b", "i", "em", "strong", "span", "br", "img", "object", "audio", "source", "ul", "li", "h2"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
OGG = b"OggS" + b"\x00" * 32


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "-" + m.group(1).lower(), name)


def spelled(xml: str, version: str) -> str:
    """A QTI 2.x document (namespace {NS}, templates {RP}name) in the given version's spelling: for 3.0 every QTI
    element becomes `qti-kebab-case` and every attribute kebab-case, as QTI 3.0 writes them."""
    xml = xml.replace("{NS}", NAMESPACES[version]).replace("{RP}", TEMPLATE_BASE[version])
    if version != "3.0":
        return xml

    def tag(match: re.Match[str]) -> str:
        slash, name, attrs = match.group(1), match.group(2), match.group(3)
        if name not in _XHTML:
            name = "qti-" + _kebab(name)
        attrs = re.sub(r"(\s)([a-z]+[A-Z][A-Za-z]*)=", lambda m: m.group(1) + _kebab(m.group(2)) + "=", attrs)
        return f"<{slash}{name}{attrs}"

    return re.sub(r"<(/?)([A-Za-z][A-Za-z0-9]*)([^<>]*)", tag, xml)


def item_xml(identifier: str, declarations: str, body: str, processing: str = "", version: str = "2.1") -> str:
    return spelled(
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<assessmentItem xmlns="{{NS}}" identifier="{identifier}" title="{identifier}" adaptive="false" '
        f'timeDependent="false">\n{declarations}\n<itemBody>\n{body}\n</itemBody>\n{processing}\n</assessmentItem>\n',
        version,
    )


def assessment_test_xml(body: str, version: str = "2.1", identifier: str = "test-1", title: str = "A test") -> str:
    return spelled(
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<assessmentTest xmlns="{{NS}}" identifier="{identifier}" title="{title}">\n{body}\n</assessmentTest>\n',
        version,
    )


def ims_manifest(items: list[str], test: str | None = "test.xml", version: str = "2.1") -> str:
    suffix = RESOURCE_SUFFIX[version]
    resources = [f'<resource identifier="test" type="imsqti_test_xml{suffix}" href="{test}"/>'] if test else []
    resources += [
        f'<resource identifier="r{n}" type="imsqti_item_xml{suffix}" href="{href}"><file href="{href}"/></resource>'
        for n, href in enumerate(items)
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
        'identifier="pkg-1">\n<organizations><organization><title>Loose items</title></organization></organizations>\n'
        f"<resources>\n{chr(10).join(resources)}\n</resources>\n</manifest>\n"
    )


def write_folder(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def write_zip(path: Path, files: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


SCORE = '<outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>'


def choice_item(
    identifier: str = "q1",
    *,
    version: str = "2.1",
    cardinality: str = "single",
    correct: tuple[str, ...] = ("A",),
    interaction_attrs: str = 'shuffle="false" maxChoices="1"',
    mapping: str = "",
    template: str = "match_correct",
) -> str:
    values = "".join(f"<value>{value}</value>" for value in correct)
    declarations = (
        f'<responseDeclaration identifier="RESPONSE" cardinality="{cardinality}" baseType="identifier">'
        f"<correctResponse>{values}</correctResponse>{mapping}</responseDeclaration>\n{SCORE}"
    )
    body = (
        "<p>Which is right?</p>\n"
        f'<choiceInteraction responseIdentifier="RESPONSE" {interaction_attrs}>\n<prompt>Pick one.</prompt>\n'
        '<simpleChoice identifier="A">Alpha</simpleChoice>\n<simpleChoice identifier="B" fixed="true">Beta</simpleChoice>\n'
        '<simpleChoice identifier="C">Gamma</simpleChoice>\n</choiceInteraction>'
    )
    return item_xml(identifier, declarations, body, f'<responseProcessing template="{{RP}}{template}"/>', version)


def one_section_test(hrefs: list[str], *, version: str = "2.1", max_time: int | None = 600) -> str:
    limits = f'<timeLimits maxTime="{max_time}"/>' if max_time else ""
    refs = "".join(f'<assessmentItemRef identifier="ref{n}" href="{href}"/>' for n, href in enumerate(hrefs))
    return assessment_test_xml(
        f'<testPart identifier="part1" navigationMode="linear" submissionMode="individual">'
        f'<assessmentSection identifier="s1" title="Section one" visible="true">{limits}{refs}</assessmentSection>'
        "</testPart>",
        version,
    )


def package_files(
    items: dict[str, str | bytes], *, version: str = "2.1", max_time: int | None = 600
) -> dict[str, str | bytes]:
    """imsmanifest.xml, test.xml with one timed section, and the items (href -> XML) in that order."""
    files: dict[str, str | bytes] = {
        "imsmanifest.xml": ims_manifest(list(items), version=version),
        "test.xml": one_section_test(list(items), version=version, max_time=max_time),
    }
    files.update(items)
    return files
