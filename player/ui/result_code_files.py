"""Saving a result code for a USB stick, from the finished screen and the console alike: the text file as typed,
and beside it a PNG of each of its QR codes, with one sentence saying what was saved."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QImageWriter

from player.ui.qr import qr_image
from sync.error_catalogue import Problem, problem
from sync.resultcode_qr import TooLargeForQr, qr_texts

log = logging.getLogger(__name__)

MODULE_PIXELS = 8
"""Pixels per module in a saved image: a version-10 code is 520 px square, sharp on any screen or print-out."""


@dataclass(frozen=True)
class SavedCode:
    """What `write_code_files` left on disk (the text file is always among it: without it, OSError)."""

    text_file: Path
    images: tuple[Path, ...]
    """The QR code images written, in part order."""
    image_problem: Problem | None = None
    """Why there is no image, or not every image (None when all were written): for the sentence, numbered."""


def image_paths(text_file: Path, count: int) -> list[Path]:
    """Where the QR images of a code saved as `text_file` go: `name.png` beside it for one QR code,
    `name-part-1-of-3.png`... for several."""
    stem = text_file.stem if text_file.suffix.casefold() != ".png" else f"{text_file.stem}-qr"
    if count == 1:
        return [text_file.with_name(f"{stem}.png")]
    return [text_file.with_name(f"{stem}-part-{n}-of-{count}.png") for n in range(1, count + 1)]


def write_code_files(text_file: Path, code: str) -> SavedCode:
    """Write the code as text to `text_file` (OSError when that fails: nothing counts as saved), then its QR code
    image(s) beside it. An image that cannot be written does not undo the text file: the result says why."""
    text_file.write_text(code + "\n", encoding="utf-8")
    try:
        texts = qr_texts(code)
    except TooLargeForQr:
        too_long = problem(
            "result.too_long_for_qr", "It is too long for QR codes, so no QR code image was saved beside it."
        )
        return SavedCode(text_file, (), too_long)
    written: list[Path] = []
    for text, path in zip(texts, image_paths(text_file, len(texts)), strict=True):
        writer = QImageWriter(str(path), b"png")
        if not writer.write(qr_image(text, module_pixels=MODULE_PIXELS)):
            reason = writer.errorString() or "the file could not be written"
            log.warning("QR code image not saved to %s: %s", path, reason)
            return SavedCode(
                text_file,
                tuple(written),
                problem(
                    "result.qr_image_not_saved",
                    # The folder is named just before (the text file's path): the image's name is enough, and a
                    # shorter sentence keeps the finished screen's buttons clear of the QR code, number and all.
                    f"Its QR code image {path.name} could not be saved ({reason}); the text file is enough to hand "
                    "the result in. For the image too, save again elsewhere.",
                ),
            )
        written.append(path)
    return SavedCode(text_file, tuple(written))


def saved_sentence(subject: str, saved: SavedCode) -> Problem | str:
    """ "{subject} is saved in x.txt, and its QR code in x.png." and the like; a Problem, with its number, when an
    image could not be saved.

    `subject` names the code: "The result code for Section 1 of 3: Multiple choice"."""
    where = f"{subject} is saved in {saved.text_file}"
    images = saved.images
    if saved.image_problem is not None:
        done = f", with QR code images {images[0].name} to {images[-1].name} beside it" if images else ""
        return saved.image_problem.framed(f"{where}{done}. ")
    if len(images) == 1:
        return f"{where}, and its QR code in {images[0]}."
    return (
        f"{where}, and its {len(images)} QR codes (one part each, to scan one after the other) in "
        f"{images[0].name} to {images[-1].name} beside it."
    )
