"""The one CSV writer behind the console's exports: spreadsheet-safe cells, UTF-8 with a BOM, fixed columns; no Qt."""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet may run a cell that begins with one of these (OWASP "CSV injection")."""

ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark: without it Excel reads the file as the local code page and mangles "Zoë"."""


class CsvShapeError(ValueError):
    """A row with a different number of cells from the header: the columns would no longer line up."""


def neutralise(text: str) -> str:
    """The cell as text a spreadsheet shows but never runs: a leading apostrophe when it could start a formula.

    Leading spaces are looked through too, because some spreadsheets trim them before deciding what a cell is.
    """
    if text.startswith(FORMULA_TRIGGERS) or text.lstrip().startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def cell_text(value: object) -> str:
    """How one value is written: nothing for None, local time to the minute for datetimes, "yes"/"no" for bools."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        # Aware times are shown in this computer's zone, like the console shows them.
        local = value.astimezone() if value.tzinfo is not None else value
        return local.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The whole table as CSV text (no BOM): header first, then the rows, every cell neutralised."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralise(cell_text(h)) for h in header])
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise CsvShapeError(
                f"Row {number} of the export has {len(row)} cells but the header has {len(header)} "
                f"({', '.join(header)}); this is a bug in the export, please report it."
            )
        writer.writerow([neutralise(cell_text(value)) for value in row])
    return buffer.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write the table to `path` (replacing it whole, never half-written); returns the number of data rows."""
    materialised = [tuple(row) for row in rows]
    text = csv_text(header, materialised)
    path = Path(path)
    # A temporary file in the same folder, then a rename: an open spreadsheet or a full disk never leaves half a file.
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=ENCODING, newline="") as out:
            out.write(text)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    log.info("wrote %d rows to %s", len(materialised), path)
    return len(materialised)
