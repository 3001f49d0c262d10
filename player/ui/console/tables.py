"""The console's tables: read-only, one whole row picked with the arrow keys, refreshed cell by cell."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem


def choice_table(columns: Sequence[str], *, accessible: str) -> QTableWidget:
    """A read-only table to pick one whole row from (arrow keys); Tab leaves it for the buttons."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setAccessibleName(accessible)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setTabKeyNavigation(False)
    return table


def update_row(table: QTableWidget, row: int, texts: Sequence[str], *, tooltips: bool = False) -> None:
    """Show `texts` in `row`, setting only the cells whose text changed (the tables refresh every few seconds).

    `tooltips` repeats each new text in its cell's tooltip: the whole text, when the column is too narrow."""
    for column, text in enumerate(texts):
        item = table.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            table.setItem(row, column, item)
        if item.text() != text:
            item.setText(text)
            if tooltips:
                item.setToolTip(text)


def row_texts(table: QTableWidget, row: int) -> tuple[str, ...]:
    """The cells of one row as a person reads them ("" where a cell is empty)."""
    return tuple((item.text() if (item := table.item(row, c)) is not None else "") for c in range(table.columnCount()))


def table_texts(table: QTableWidget) -> list[tuple[str, ...]]:
    """Every row as shown, for tests and screen readers' sake."""
    return [row_texts(table, r) for r in range(table.rowCount())]
