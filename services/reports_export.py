"""Console lists as .xlsx files, written row by row so memory stays flat for any length.

XlsxWriter's constant-memory mode writes each row to a temporary file as it comes (strings
inline, no shared-string table), and the rows come from the database in batches
(`yield_per`), so a 100,000-row export holds a batch at a time, never the list.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import xlsxwriter

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Listing:
    """A list as it is exported: a sheet name, (header, width) columns, and the rows."""

    name: str
    title: str
    columns: Sequence[tuple[str, int]]
    rows: Iterable[Sequence[Any]]


@dataclass(frozen=True)
class ExportFile:
    path: str
    rows: int

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes in chunks; the file is removed when they are all read (or the
        reader stops)."""
        try:
            with open(self.path, "rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    yield chunk
        finally:
            remove_quietly(self.path)


def remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def cell(value: Any) -> Any:
    """A value as the sheet shows it: times are already Beijing-time text, lists are joined."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    if isinstance(value, datetime | date):
        raise TypeError("format times with domain.clock before exporting")
    return value


def write_xlsx(listing: Listing, path: str) -> int:
    """Write `listing` to `path`; returns the number of data rows."""
    workbook = xlsxwriter.Workbook(
        path,
        {"constant_memory": True, "tmpdir": tempfile.gettempdir(), "strings_to_numbers": False},
    )
    try:
        sheet = workbook.add_worksheet(listing.title[:31])
        header = workbook.add_format({"bold": True, "bg_color": "#E8EEF7"})
        for col, (title, width) in enumerate(listing.columns):
            sheet.set_column(col, col, width)
            sheet.write_string(0, col, title, header)
        sheet.freeze_panes(1, 0)
        count = 0
        for count, row in enumerate(listing.rows, start=1):
            for col, value in enumerate(row):
                shown = cell(value)
                if isinstance(shown, str):
                    # Text stays text (numbers such as ID numbers must not become floats).
                    sheet.write_string(count, col, shown)
                else:
                    sheet.write(count, col, shown)
    finally:
        workbook.close()
    return count


def export_to_temp(listing: Listing) -> ExportFile:
    """The listing written to a new temporary file (the caller streams and removes it)."""
    handle, path = tempfile.mkstemp(prefix=f"kjzy-{listing.name}-", suffix=".xlsx")
    os.close(handle)
    try:
        rows = write_xlsx(listing, path)
    except BaseException:
        remove_quietly(path)
        raise
    return ExportFile(path, rows)


def batched_rows(
    fetch: Iterable[Sequence[Any]], shape: Callable[[Sequence[Any]], Sequence[Any]]
) -> Iterator[Sequence[Any]]:
    """Each fetched row shaped for the sheet (a generator, so nothing piles up)."""
    for row in fetch:
        yield shape(row)
