"""The camera that takes the screenshots in docs/screens/, after checking each shows what it should."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QTableWidget,
    QTabWidget,
    QWidget,
)

DOCS_SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"


def visible_text(root: QWidget) -> str:
    """Everything a sighted person could read in `root` now, one piece per line ("&" mnemonics left out)."""
    parts: list[str] = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible():
            continue
        if isinstance(widget, QLabel | QAbstractButton | QLineEdit):
            parts.append(widget.text().replace("&", ""))
        elif isinstance(widget, QPlainTextEdit):
            parts.append(widget.toPlainText())
        elif isinstance(widget, QComboBox):
            parts.append(widget.currentText())
        elif isinstance(widget, QListWidget):
            parts += [widget.item(row).text() for row in range(widget.count())]
        elif isinstance(widget, QTabWidget):
            parts += [widget.tabText(i).replace("&", "") for i in range(widget.count())]
        elif isinstance(widget, QTableWidget):
            for r in range(widget.rowCount()):
                parts += [item.text() for c in range(widget.columnCount()) if (item := widget.item(r, c))]
    return "\n".join(parts)


def is_blank(image: QImage) -> bool:
    """True when every pixel has the same colour (nothing was drawn)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB32)
    bits = bytes(rgb.constBits())
    return bits == bits[:4] * (len(bits) // 4)


@dataclass
class Camera:
    """Saves screenshots as `prefix``name`.png in each of `folders`, after checking each shows what it should."""

    folders: list[Path]
    max_bytes: int
    prefix: str = ""
    width: int | None = None
    """The width every shot must have, when set (a window of a fixed size)."""
    process_events: bool = False
    """Run every pending event before a shot (the console's views finish what their last step queued). The
    player's shots run nothing else early: one of them is taken inside a signal handler, mid-login."""
    taken: list[Path] = field(default_factory=list)

    def shoot(self, widget: QWidget, name: str, *expected: str) -> None:
        """Save `widget` after checking it shows each of `expected`."""
        # Lay out what the last step changed, as the next paint would.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        if self.process_events:
            QApplication.processEvents()
        text = visible_text(widget)
        for wanted in expected:
            assert wanted in text, f"{name}: {wanted!r} is not visible; the window shows:\n{text}"
        image = widget.grab().toImage()
        if self.width is not None:
            assert image.width() == self.width, f"{name}: grabbed {image.width()} px wide"
        assert not is_blank(image), f"{name}: the screenshot is a single colour"
        for folder in self.folders:
            path = folder / f"{self.prefix}{name}.png"
            assert image.save(str(path)), f"{name}: could not write {path}"
            assert path.stat().st_size < self.max_bytes, f"{path} is {path.stat().st_size} bytes"
            self.taken.append(path)
