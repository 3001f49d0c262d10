"""The console's CSV writer: no cell can run as a formula, text survives the trip, Excel sees UTF-8."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from player.csv_export import ENCODING, FORMULA_TRIGGERS, CsvShapeError, cell_text, csv_text, neutralise, write_csv

HEADER = ("Student", "Note")

cells = st.text(max_size=40)
tables = st.lists(st.tuples(cells, cells), max_size=8)
# Text a spreadsheet would never take for a formula, so it must come back exactly as written.
ordinary = st.text(max_size=40).filter(lambda s: not s.lstrip().startswith(FORMULA_TRIGGERS) and s[:1] not in "\t\r")


def read_back(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@given(tables)
def test_no_cell_ever_begins_with_a_formula_trigger(rows: list[tuple[str, str]]) -> None:
    for row in read_back(csv_text(HEADER, rows)):
        for cell in row:
            assert not cell.startswith(FORMULA_TRIGGERS), cell
            assert not cell.lstrip().startswith(FORMULA_TRIGGERS), cell


@given(tables)
def test_every_cell_keeps_its_text_after_any_apostrophe(rows: list[tuple[str, str]]) -> None:
    back = read_back(csv_text(HEADER, rows))
    assert back[0] == list(HEADER)
    assert len(back) == len(rows) + 1
    for written, read in zip(rows, back[1:], strict=True):
        for original, cell in zip(written, read, strict=True):
            assert cell in (original, "'" + original)


@given(st.lists(st.tuples(ordinary, ordinary), max_size=8))
def test_ordinary_text_round_trips_unchanged(rows: list[tuple[str, str]]) -> None:
    assert read_back(csv_text(HEADER, rows))[1:] == [list(r) for r in rows]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1+1", "'  =1+1"),
        ("Zoë O'Brien", "Zoë O'Brien"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected


def test_cell_text_of_values() -> None:
    assert cell_text(None) == ""
    assert cell_text(True) == "yes"
    assert cell_text(7.5) == "7.5"
    assert cell_text(3.0) == "3"
    when = datetime(2027, 3, 1, 9, 5, tzinfo=UTC)
    assert cell_text(when) == when.astimezone().strftime("%Y-%m-%d %H:%M")


def test_file_is_utf8_with_bom_so_excel_reads_accents(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    count = write_csv(path, HEADER, [("Zoë Ærø", "=1+1")])
    raw = path.read_bytes()
    assert count == 1
    assert raw.startswith(b"\xef\xbb\xbf")
    with path.open(encoding=ENCODING, newline="") as f:
        assert list(csv.reader(f)) == [list(HEADER), ["Zoë Ærø", "'=1+1"]]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"], "no temporary file is left behind"


def test_a_row_of_the_wrong_length_is_refused_and_the_old_file_kept(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(CsvShapeError, match=r"Row 3 of the export has 1 cells but the header has 2 \(Student, Note\)"):
        write_csv(path, HEADER, [("a", "b"), ("c",)])
    assert path.read_text(encoding="utf-8") == "old"
