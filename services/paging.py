"""Numbered pages of a long list, newest (highest id) first, that stay fast at any depth.

Two things make a deep page cheap:
- only the ids are paged (a "deferred join"): with the list's filters on indexed columns the
  database walks an index, not the rows, and then reads just the page's rows by primary key;
- a page in the second half is counted from the other end (ascending ids, then reversed), so
  the last page skips a few rows instead of the whole table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    """Where a numbered page lies: its page number (clamped) and the page count."""

    page: int
    pages: int
    total: int
    size: int

    @classmethod
    def of(cls, total: int, page: int, size: int) -> Window:
        pages = max(1, (total + size - 1) // size)
        return cls(min(max(1, page), pages), pages, total, size)

    def slice_desc(self) -> tuple[bool, int, int]:
        """(ascending?, offset, limit) of this page in a list sorted by descending id."""
        skip = (self.page - 1) * self.size
        if skip * 2 <= self.total:
            return False, skip, self.size
        # From the end: the page's rows are the total-skip-size .. total-skip oldest ones.
        last = self.total - skip
        first = max(0, last - self.size)
        return True, first, last - first


def count(
    session: Session, id_column: InstrumentedAttribute[int], conditions: Sequence[Any]
) -> int:
    return int(session.scalar(select(func.count(id_column)).where(*conditions)) or 0)


def page_ids(
    session: Session,
    id_column: InstrumentedAttribute[int],
    conditions: Sequence[ColumnElement[bool]],
    window: Window,
    first_by: InstrumentedAttribute[Any] | None = None,
) -> list[int]:
    """The ids on `window`'s page of the rows matching `conditions`, highest id first, or, with
    `first_by`, highest (`first_by`, id) first: for a range on `first_by` (a registration date
    range), an index on (…, first_by) then gives the order and the page stops early, where
    ORDER BY id alone would sort the whole range or walk the primary key through rows outside
    it."""
    ascending, offset, limit = window.slice_desc()
    if limit <= 0:
        return []
    keys = [id_column] if first_by is None else [first_by, id_column]
    order = [k.asc() if ascending else k.desc() for k in keys]
    ids = list(
        session.scalars(
            select(id_column).where(*conditions).order_by(*order).offset(offset).limit(limit)
        )
    )
    return ids[::-1] if ascending else ids


def in_order(ids: Sequence[int], rows: Sequence[T], key: Callable[[T], int]) -> list[T]:
    """`rows` (read by id) in the order of `ids`."""
    by_id = {key(row): row for row in rows}
    return [by_id[i] for i in ids if i in by_id]
