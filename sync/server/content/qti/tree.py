"""Parsing a package's XML with defusedxml into small nodes that remember their line, in one naming for QTI 2 and 3."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import overload
from xml.etree.ElementTree import ParseError

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

from sync.server.content.errors import PackageError

QTI3_NAMESPACE = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
QTI_NAMESPACES = {
    "http://www.imsglobal.org/xsd/imsqti_v2p1": "2.1",
    "http://www.imsglobal.org/xsd/imsqti_v2p2": "2.2",
    "http://www.imsglobal.org/xsd/imsqtiasi_v3p0": "3.0",
}


@dataclass
class Node:
    """An XML element: `name` in QTI 2 spelling (3.0's `qti-choice-interaction` becomes `choiceInteraction`, its
    `max-choices` attribute `maxChoices`), `written` as the file has it (for messages), and its start line."""

    name: str
    written: str
    namespace: str
    attrs: dict[str, str]
    line: int
    children: list[Node] = field(default_factory=list)
    text: str = ""
    tail: str = ""

    @overload
    def get(self, attribute: str) -> str | None: ...
    @overload
    def get(self, attribute: str, default: str) -> str: ...
    def get(self, attribute: str, default: str | None = None) -> str | None:
        return self.attrs.get(attribute, default)

    def child(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)

    def all(self, name: str) -> list[Node]:
        return [c for c in self.children if c.name == name]

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            yield from c.walk()

    def text_content(self) -> str:
        return self.text + "".join(c.text_content() + c.tail for c in self.children)


def flag(file: str, node: Node, attribute: str, default: bool) -> bool:
    """An xs:boolean attribute: true, false, 1 or 0 (XML Schema Part 2, 3.2.2); absent gives the default."""
    raw = node.get(attribute)
    if raw is None:
        return default
    if raw.strip() not in ("true", "false", "1", "0"):
        raise PackageError(
            file,
            f"line {node.line}",
            f"{node.written} {attribute}={raw!r} is not true, false, 1 or 0; write one of those",
        )
    return raw.strip() in ("true", "1")


def _camel(kebab: str) -> str:
    head, *rest = kebab.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def qti_name(local: str) -> str:
    """QTI 3.0 writes `qti-response-else-if` where 2.x writes `responseElseIf`; XHTML names stay as they are."""
    return _camel(local[4:]) if local.startswith("qti-") else local


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


MAX_DEPTH = 100
"""Elements nested deeper than this are refused; real items nest a dozen levels at most."""


class _TooDeep(Exception):
    pass


class _Builder:
    """The tree target for expat: builds Nodes and takes each start line from the running parser."""

    def __init__(self) -> None:
        self.parser: DefusedXMLParser | None = None
        self.stack: list[Node] = []
        self.root: Node | None = None

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if len(self.stack) >= MAX_DEPTH:
            # Every reader of the tree recurses: refuse the nesting before it can exhaust Python's stack.
            raise _TooDeep
        namespace, local = _split(tag)
        attrs = {}
        for key, value in attrib.items():
            attr_ns, attr_local = _split(key)
            attrs[_camel(attr_local) if not attr_ns else key] = value
        line = self.parser.parser.CurrentLineNumber if self.parser is not None else 0
        node = Node(name=qti_name(local), written=local, namespace=namespace, attrs=attrs, line=line)
        if self.stack:
            self.stack[-1].children.append(node)
        else:
            self.root = node
        self.stack.append(node)

    def end(self, tag: str) -> None:
        self.stack.pop()

    def data(self, text: str) -> None:
        if not self.stack:
            return
        top = self.stack[-1]
        if top.children:
            top.children[-1].tail += text
        else:
            top.text += text

    def close(self) -> Node | None:
        return self.root


_DECLARATION = re.compile(rb"^<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_ALLOWED_ENCODINGS = {"utf-8", "utf8", "utf-16", "utf16"}


def _check_encoding(data: bytes, file: str) -> None:
    """UTF-8 (with or without BOM) or UTF-16 with its BOM, as XML 1.0 section 4.3.3 lets a parser require; any other
    or undeclared encoding is refused rather than guessed."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # UTF-16 with a BOM; expat checks any declaration against it
    declared = _DECLARATION.match(data.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared.group(1).decode().lower() not in _ALLOWED_ENCODINGS:
        raise PackageError(
            file, None, f"declares encoding {declared.group(1).decode()!r}; save it as UTF-8 (or UTF-16 with a BOM)"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PackageError(
            file, f"line {line}", f"not UTF-8 text (byte {exc.start}); save it as UTF-8 or UTF-16 with a BOM"
        ) from exc


def parse_xml(data: bytes, file: str) -> Node:
    """The file's root node; refuses a DOCTYPE (so every entity, internal or external) and malformed XML."""
    _check_encoding(data, file)
    builder = _Builder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    builder.parser = parser
    try:
        parser.feed(data)
        root = parser.close()
    except DTDForbidden as exc:
        raise PackageError(
            file, _line(parser), "has a DOCTYPE; DTDs and entities are not allowed (XML bombs); remove it"
        ) from exc
    except (EntitiesForbidden, ExternalReferenceForbidden) as exc:
        raise PackageError(file, _line(parser), "declares or uses an entity, which is not allowed; remove it") from exc
    except _TooDeep as exc:
        raise PackageError(file, _line(parser), f"elements nested more than {MAX_DEPTH} deep; flatten the XML") from exc
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        raise PackageError(file, f"line {line}", f"column {column}: malformed XML ({reason}); fix it there") from exc
    if not isinstance(root, Node):
        raise PackageError(file, None, "holds no XML element; export the file again")
    return root


def _line(parser: DefusedXMLParser) -> str:
    return f"line {parser.parser.CurrentLineNumber}"
