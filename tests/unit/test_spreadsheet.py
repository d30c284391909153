"""CSV cells that a spreadsheet would run as formulas are written as text, in one place."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.spreadsheet import csv_writer, neutralise_cell, restore_cell

SRC = Path(__file__).resolve().parents[2] / "src" / "passerelle"


def test_formula_starts_are_marked_and_numbers_kept() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralise_cell(start + "1+1") == "'" + start + "1+1"
    assert neutralise_cell("note ordinaire") == "note ordinaire"
    assert neutralise_cell("'déjà") == "'déjà"
    assert neutralise_cell(-3) == -3 and neutralise_cell(2.5) == 2.5


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_a_row_reads_back_as_written(row: list[str]) -> None:
    buffer = io.StringIO()
    csv_writer(buffer).writerow(row)
    (read,) = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in read)
    expected = [
        cell
        if not (cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@", "\t", "\r"))
        else cell[1:]
        for cell in row
    ]
    assert [restore_cell(cell) for cell in read] == expected


def test_every_csv_export_goes_through_the_safe_writer() -> None:
    writers = [
        path.relative_to(SRC)
        for path in SRC.rglob("*.py")
        if "csv.writer(" in path.read_text(encoding="utf-8") and path.name != "spreadsheet.py"
    ]
    assert writers == []
