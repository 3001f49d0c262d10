"""A calm, legible look: large readable type, high contrast, and a focus ring that cannot be missed."""

from __future__ import annotations

from PySide6.QtGui import QFont, QPixmapCache
from PySide6.QtWidgets import QApplication

BASE_POINT_SIZE = 15
PIXMAP_CACHE_KB = 2048
"""Qt's process-wide pixmap cache (10 MB by default) keeps rendered widget parts by state and size; each new item
brings sizes of its own, and over the bench's 240 item transitions it grew by 8 MB, to near its limit. Our flat
look is cheap to draw again: with 1 MB the same transitions were no slower; 2 MB leaves room to spare."""

STYLE_SHEET = """
QWidget { color: #111111; background: #fbfaf7; }
QLabel#title { font-size: 26pt; font-weight: 600; }
QLabel#subtitle { font-size: 18pt; }
QLabel#error { color: #8a1010; font-weight: 600; }
QLabel#banner { background: #fff1b8; border: 2px solid #8a6d00; padding: 8px; font-weight: 600; }
QLabel#timer { font-size: 17pt; font-weight: 600; }
QLabel#saved { color: #1d5e20; }
QLabel#problemNumber, QLabel#version { color: #555555; font-size: 11pt; font-weight: 400; }
QWidget#pausedOverlay { background: #eef2f7; }
QPlainTextEdit#resultCode { font-family: monospace; font-size: 13pt; }
QPushButton { padding: 8px 18px; border: 2px solid #34495e; border-radius: 6px; background: #ffffff; }
QPushButton:disabled { color: #777777; border-color: #aaaaaa; }
QPushButton#primary { background: #1f4e79; color: #ffffff; border-color: #1f4e79; }
QPushButton#link { border: 2px solid transparent; background: transparent; color: #1f4e79; text-decoration: underline; }
QPushButton#primary:disabled { background: #9fb3c8; border-color: #9fb3c8; color: #f4f4f4; }
QLineEdit, QPlainTextEdit { padding: 6px; border: 2px solid #34495e; border-radius: 4px; background: #ffffff; }
QRadioButton, QCheckBox { padding: 6px; spacing: 12px; border: 3px solid transparent; }
QRadioButton:disabled, QCheckBox:disabled { color: #666666; }
QLabel#hint { color: #1f4e79; font-weight: 600; }
*:focus { outline: none; }
QPushButton:focus, QLineEdit:focus, QPlainTextEdit:focus, QRadioButton:focus, QCheckBox:focus,
QSlider:focus, QListWidget:focus { border: 3px solid #e07b00; }
/* The thicker focus border takes its pixel from the padding: a form measures a field once, unfocused, and a
   focused field that grew would be cut off at the bottom. */
QLineEdit:focus, QPlainTextEdit:focus { padding: 5px; }
/* "#primary" outranks ":focus", so the main button of each screen needs its own focus rule. */
QPushButton#primary:focus { border: 3px solid #e07b00; }
QPushButton#link:focus { border: 3px solid #e07b00; }
QRadioButton::indicator, QCheckBox::indicator { width: 22px; height: 22px; }
QListWidget::item { padding: 6px; }
QProgressBar { border: 2px solid #34495e; border-radius: 4px; text-align: center; height: 22px; }
QProgressBar::chunk { background: #1f4e79; }
"""


def apply_style(app: QApplication) -> None:
    QPixmapCache.setCacheLimit(PIXMAP_CACHE_KB)
    font = QFont(app.font())
    font.setPointSize(BASE_POINT_SIZE)
    app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)
