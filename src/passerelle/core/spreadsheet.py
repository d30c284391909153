"""CSV that a spreadsheet opens without running anything (OWASP "CSV injection").

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a
formula by spreadsheet programs; such a cell is written with a leading `'`, which they show
as text. Numbers are written as they are. Every CSV export goes through `csv_writer`; readers
of our own exports take the mark off again with `restore_cell`."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MARK = "'"


def neutralise_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return MARK + value
    return value


def restore_cell(text: str) -> str:
    """The text of a cell that `neutralise_cell` marked (other cells are left alone)."""
    if text.startswith(MARK) and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


class SafeCsvWriter:
    """`csv.writer` whose every text cell is neutralised."""

    def __init__(self, stream: IO[str]) -> None:
        # CRLF (RFC 4180): with it, a cell holding a line break of either kind is quoted.
        self._writer = csv.writer(stream, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: IO[str]) -> SafeCsvWriter:
    return SafeCsvWriter(stream)
