"""Reading result codes back as a camera would: from a widget's pixels, saved images and a PDF's rendered pages,
joining the parts with the console's PartCollector; and real codes long enough to need several QR codes."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QImage
from PySide6.QtPdf import QPdfDocument

from player.ui.qr import read_qr_texts
from sync import resultcode
from sync.protocol import AnswerRecord, ResultEnvelope
from sync.resultcode_qr import PartCollector
from sync.server.crypto import new_result_secret
from tests.helpers.result_envelopes import FORM

A4_AT_150_DPI = QSize(1240, 1754)
"""A printed page as a phone's camera sees it, give or take: 150 dots an inch."""


def joined_codes(texts: Iterable[str]) -> list[str]:
    """The whole codes that QR texts read in this order give (a part alone gives nothing until its set is
    complete); a refused read fails the test."""
    collector = PartCollector()
    codes = []
    for text in texts:
        read = collector.add(text)
        assert not read.refused, read.message
        if read.code is not None:
            codes.append(read.code)
    assert collector.waiting() == [], "parts read without the rest of their code"
    return codes


def image_texts(paths: Iterable[Path]) -> list[str]:
    """The QR texts found in each image file, in the order given."""
    found: list[str] = []
    for path in paths:
        image = QImage(str(path))
        assert not image.isNull(), f"{path} is not an image"
        found += read_qr_texts(image)
    return found


@dataclass(frozen=True)
class PdfPage:
    text: str
    qr_texts: list[str]


def pdf_pages(path: Path) -> list[PdfPage]:
    """Each page of a PDF: its text, and the QR codes found on it rendered at 150 dpi."""
    document = QPdfDocument()
    assert document.load(str(path)) == QPdfDocument.Error.None_, f"{path} is not a readable PDF"
    try:
        return [
            PdfPage(document.getAllText(n).text(), read_qr_texts(document.render(n, A4_AT_150_DPI)))
            for n in range(document.pageCount())
        ]
    finally:
        document.close()


@dataclass(frozen=True)
class RealCode:
    """A result code made by the real encoder from a real envelope of the every-item-type form."""

    code: str
    envelope: ResultEnvelope
    secret: str

    def decoded(self, read: str) -> ResultEnvelope:
        """`read` decoded as the server does it, with the attempt's key and form."""
        return resultcode.decode(read, result_secret=self.secret, attempt_id=self.envelope.attempt_id, delivery=FORM)


def real_code(essay_characters: int, *, seed: int = 7) -> RealCode:
    """A format-3 code whose essay answer is `essay_characters` of random letters (they do not compress): up to
    60 give one QR code (about 250 characters), 500 four parts, 6,000 more parts than a QR set may have."""
    rnd = random.Random(seed)
    finished = datetime(2027, 3, 1, 10, 42, tzinfo=UTC)
    envelope = ResultEnvelope(
        idempotency_key=str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
        attempt_id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
        section_ids=["choices", "writing"],
        answers=[
            AnswerRecord(item_id="single-5", value="o3", answered_at=finished - timedelta(seconds=90)),
            AnswerRecord(
                item_id="essay",
                value="".join(rnd.choice(string.ascii_letters + " ") for _ in range(essay_characters)),
                answered_at=finished - timedelta(seconds=4),
            ),
        ],
        finished_at=finished,
        final=True,
    )
    secret = new_result_secret()
    return RealCode(resultcode.encode(envelope, result_secret=secret, delivery=FORM), envelope, secret)
