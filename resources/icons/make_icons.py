"""Renders the app icon (invigil.svg, the source) to the PNGs the Linux desktop uses, Windows' ICO and macOS's ICNS.

Run it after editing the SVG: `.venv/bin/python resources/icons/make_icons.py`. The outputs are committed, so
a build needs neither Qt's SVG module nor this script.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "invigil.svg"
PNG_SIZES = (48, 128, 256)
"""The hicolor sizes the .deb installs (a menu, a dock, a launcher grid); the SVG covers the rest."""
ICO_SIZES = (16, 32, 48, 256)
"""What Windows asks for: small in Explorer lists and the title bar, 256 in large-icon views."""
ICNS_TYPES = {"ic07": 128, "ic08": 256, "ic09": 512}
"""macOS's PNG icon types and their sizes (the Finder scales them down for smaller views)."""


def png_path(size: int) -> Path:
    return HERE / f"invigil-{size}.png"


def render_png(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE}: Qt cannot read this SVG; fix it and run again")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stubs say bytes; PySide6 6.11 takes only str
    return bytes(data.data())


def ico_bytes(images: dict[int, bytes]) -> bytes:
    """An ICO file holding PNG images (Windows Vista and later read PNG entries at every size)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries, blobs = b"", b""
    for size, png in sorted(images.items()):
        # A width or height of 256 is written as 0: the field is one byte.
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    return header + entries + blobs


def icns_bytes(images: dict[str, bytes]) -> bytes:
    """An ICNS file holding PNG images: "icns", the total length, then each type, its length and its PNG."""
    body = b"".join(kind.encode("ascii") + struct.pack(">I", 8 + len(png)) + png for kind, png in images.items())
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0], "-platform", "offscreen"])
    rendered = {size: render_png(size) for size in sorted({*PNG_SIZES, *ICO_SIZES, *ICNS_TYPES.values()})}
    for size in PNG_SIZES:
        png_path(size).write_bytes(rendered[size])
    (HERE / "invigil.ico").write_bytes(ico_bytes({size: rendered[size] for size in ICO_SIZES}))
    (HERE / "invigil.icns").write_bytes(icns_bytes({kind: rendered[size] for kind, size in ICNS_TYPES.items()}))
    del app
    print(f"wrote {', '.join(png_path(size).name for size in PNG_SIZES)}, invigil.ico and invigil.icns in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
