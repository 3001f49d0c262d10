"""How the console writes a date and time, in every view: "01 Mar 2027 09:00", in this computer's time zone."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QDateTimeEdit

from player.csv_export import cell_text

DATE_TIME = "%d %b %Y %H:%M"
QT_DATE_TIME = "dd MMM yyyy HH:mm"
"""DATE_TIME as Qt's date editors write it."""


def local_time(when: datetime | None) -> str:
    """`when` as the console shows it ("" for no time). Seconds are left out: no view needs them, and rows that
    happened in the same minute keep their order."""
    return "" if when is None else when.astimezone().strftime(DATE_TIME)


def cell(value: object) -> str:
    """A table cell as the console shows it: dates as local_time, anything else as its CSV export writes it
    (the CSV keeps sortable 2027-03-01 09:00 for spreadsheets)."""
    return local_time(value) if isinstance(value, datetime) else cell_text(value)


def date_time_edit(accessible: str) -> QDateTimeEdit:
    """An editor for a date and time that shows it as local_time does."""
    edit = QDateTimeEdit()
    edit.setAccessibleName(accessible)
    edit.setDisplayFormat(QT_DATE_TIME)
    # English month names, as strftime writes them (Python keeps the C locale), whatever the system's language.
    edit.setLocale(QLocale.c())
    edit.setCalendarPopup(True)
    return edit
