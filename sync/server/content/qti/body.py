"""An itemBody read for Invigil: its text flattened to a plain prompt, its interactions and its media."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from sync.server.content.errors import PackageError
from sync.server.content.qti.tree import Node

SCORED_INTERACTIONS = ("choiceInteraction", "textEntryInteraction", "extendedTextInteraction")
BLANK = "____"
"""Where a textEntryInteraction sits in the prompt."""

_BLOCKS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre",
    "table", "tr", "caption", "figure", "figcaption", "section", "article", "aside", "header", "footer", "hr",
    "address", "prompt", "simpleChoice",
}  # fmt: skip
_SKIPPED = {"feedbackBlock", "feedbackInline", "modalFeedback", "rubricBlock", "templateBlock", "templateInline"}
"""Feedback and rubrics are not shown by Invigil (no feedback during a test; rubrics are for scorers)."""
_AUDIO_EXTENSIONS = (".ogg", ".oga", ".wav", ".mp3")


@dataclass
class MediaUse:
    role: str
    """image or audio"""
    path: str
    """Inside the package, resolved against the file that names it."""
    node: Node
    max_plays: int | None = None
    autoplay: bool = False
    """Audio: plays by itself on the first visit (see `_Flattener.media` for where this comes from)."""


@dataclass
class Body:
    prompt: str
    interactions: list[Node] = field(default_factory=list)
    media: list[MediaUse] = field(default_factory=list)


def resolve_href(base_file: str, href: str, *, file: str, node: Node) -> str:
    """A reference inside the package resolved against the file holding it; URLs, absolute paths and '..' past
    the package's top are refused (they would read outside the package)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("/", "\\")) or "\\" in href or ":" in href:
        raise PackageError(file, f"line {node.line}", f"'{href}' is not a path inside the package; include the file")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), unquote(parts.path)))
    if joined == ".." or joined.startswith("../"):
        raise PackageError(file, f"line {node.line}", f"'{href}' escapes the package folder; keep files inside it")
    return joined


class _Flattener:
    """XHTML to plain text: blocks become paragraphs separated by a blank line, inline whitespace collapses."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.body = Body(prompt="")
        self.max_plays: int | None = None
        self.autostart: bool | None = None
        """Inside a mediaInteraction: its autostart; None outside one."""

    def flush(self) -> None:
        lines = [" ".join(line.split()) for line in "".join(self.current).split("\n")]
        text = "\n".join(line for line in lines if line)
        if text:
            self.blocks.append(text)
        self.current = []

    def visit(self, node: Node) -> None:
        name = node.name
        if name in _SKIPPED:
            return
        if name.endswith("Interaction"):
            self.interaction(node)
            return
        if name in ("img", "object", "audio", "video"):
            self.media(node)
            return
        if name == "br":
            self.current.append("\n")
            return
        block = name in _BLOCKS
        if block:
            self.flush()
        elif name in ("td", "th"):
            self.current.append(" ")  # table cells side by side stay apart
        self.current.append(node.text)
        for child in node.children:
            self.visit(child)
            self.current.append(child.tail)
        if block:
            self.flush()
        elif name in ("td", "th"):
            self.current.append(" ")  # table cells side by side stay apart

    def interaction(self, node: Node) -> None:
        name = node.name
        if name == "mediaInteraction":
            plays = node.get("maxPlays", "0")
            if not plays.isdigit():
                raise PackageError(
                    self.file,
                    f"line {node.line}",
                    f"{node.written} maxPlays={plays!r} is not a number; write e.g. 2 (0 means no limit)",
                )
            self.max_plays = int(plays) or None  # QTI: 0 means no limit
            self.autostart = self.read_autostart(node)
            for child in node.children:
                self.visit(child)
            self.max_plays, self.autostart = None, None
            return
        if name not in SCORED_INTERACTIONS:
            raise PackageError(
                self.file,
                f"line {node.line}",
                f"{node.written} is not supported; Invigil supports choiceInteraction, textEntryInteraction, "
                "extendedTextInteraction and mediaInteraction (audio)",
            )
        self.body.interactions.append(node)
        if name == "textEntryInteraction":
            self.current.append(BLANK)
            return
        prompt = node.child("prompt")
        if prompt is not None:
            self.visit(prompt)

    def read_autostart(self, node: Node) -> bool:
        """mediaInteraction's autostart (QTI 2.1 info model, mediaInteraction: "autostart [1]: boolean", required;
        QTI 3.0 XSD imsqti_itemv3p0p1, MediaInteractionDType: autostart boolean, use="required"): whether the
        media starts as soon as it is shown. xsd:boolean spells true/1 and false/0. A package that leaves it out
        has not asked for a start by itself, so there is none: no play is used without the student choosing."""
        written = node.get("autostart")
        if written is None:
            return False
        value = written.strip()
        if value not in ("true", "1", "false", "0"):
            raise PackageError(
                self.file, f"line {node.line}", f"{node.written} autostart={written!r} is not true or false"
            )
        return value in ("true", "1")

    def media(self, node: Node) -> None:
        where = f"line {node.line}"
        if node.name == "video":
            raise PackageError(self.file, where, f"{node.written}: video is not supported; use audio or an image")
        if node.name == "img":
            source = node.get("src")
        elif node.name == "object":
            source = node.get("data")
        else:
            source = node.get("src")
            inner = node.child("source")
            if source is None and inner is not None:
                source = inner.get("src")
        if not source:
            raise PackageError(self.file, where, f"{node.written} names no file (src/data); add one")
        path = resolve_href(self.file, source, file=self.file, node=node)
        kind = node.get("type", "")
        if node.name == "audio" or kind.startswith("audio/") or path.lower().endswith(_AUDIO_EXTENSIONS):
            role = "audio"
        elif node.name == "img" or kind.startswith("image/"):
            role = "image"
        else:
            raise PackageError(
                self.file,
                where,
                f"{node.written} of type '{kind}' is neither audio nor an image; use PNG, JPEG, GIF or WebP pictures and Ogg, WAV or MP3 audio",
            )
        if role == "image" and self.autostart is not None:  # set only inside a mediaInteraction
            raise PackageError(
                self.file,
                where,
                "a mediaInteraction must hold audio, not an image; put the picture in an img outside it",
            )
        if self.autostart is not None:
            autoplay = self.autostart
        else:
            # Outside a mediaInteraction the HTML rules hold: <audio> starts by itself only with its boolean
            # `autoplay` attribute (HTML, "the audio element" / "autoplay"); <object> has no such attribute, so
            # it waits for the student.
            autoplay = node.name == "audio" and node.get("autoplay") is not None
        self.body.media.append(MediaUse(role=role, path=path, node=node, max_plays=self.max_plays, autoplay=autoplay))


def read_body(file: str, item_body: Node) -> Body:
    flattener = _Flattener(file)
    flattener.visit(item_body)
    flattener.flush()
    flattener.body.prompt = "\n\n".join(flattener.blocks)
    return flattener.body


def flat_text(file: str, node: Node) -> str:
    """A choice's or a rubric's text; media inside are refused by the caller when it cannot show them."""
    flattener = _Flattener(file)
    flattener.current.append(node.text)  # its contents: a rubricBlock itself is skipped inside an item body
    for child in node.children:
        flattener.visit(child)
        flattener.current.append(child.tail)
    flattener.flush()
    if flattener.body.interactions:
        raise PackageError(
            file,
            f"line {node.line}",
            f"{node.written} holds an interaction, which is not supported; move the interaction out of it",
        )
    if flattener.body.media:
        raise PackageError(file, f"line {node.line}", f"{node.written} holds media; Invigil shows text only there")
    return "\n\n".join(flattener.blocks)
