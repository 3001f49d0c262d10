"""The console's one way of writing a date and time, in text, table cells and the date editor alike."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QDateTime
from pytestqt.qtbot import QtBot

from player.ui.console.dates import cell, date_time_edit, local_time

MOMENT = datetime(2027, 3, 1, 9, 5).astimezone()
"""09:05 on 1 March 2027 on this computer's clock."""


def test_a_time_is_day_month_year_and_minutes_on_this_computers_clock() -> None:
    assert local_time(MOMENT) == "01 Mar 2027 09:05"
    assert local_time(MOMENT.astimezone(UTC)) == "01 Mar 2027 09:05"
    assert local_time(None) == ""


def test_table_cells_write_dates_the_same_way_and_everything_else_as_the_csv_does() -> None:
    assert cell(MOMENT) == "01 Mar 2027 09:05"
    assert cell(None) == ""
    assert cell(18.5) == "18.5"
    assert cell("Fire alarm") == "Fire alarm"


def test_the_date_editor_shows_what_the_text_shows(qtbot: QtBot) -> None:
    edit = date_time_edit("When it happened")
    qtbot.addWidget(edit)
    edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(MOMENT.timestamp())))
    assert edit.text() == local_time(MOMENT)
    assert edit.accessibleName() == "When it happened"
