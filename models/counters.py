"""Counter tables kept exact by adding differences in the transaction of the write that causes
them: the pieces shared by the report rollups (models.report) and the audience counters
(models.audience). Each of those decides what a write adds or takes away; this module writes
the differences and tells which watched columns a flush changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, inspect
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def add(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], sums: Iterable[str]
) -> None:
    """Add each row's `sums` columns to the table's row with the same primary key (inserted
    when there is none). Rows are written in primary-key order, so two transactions adding to
    the same counters lock them in the same order and cannot deadlock on each other's rows."""
    if not rows:
        return
    keys = [column.name for column in table.primary_key.columns]
    ordered = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    names = tuple(sums)
    if conn.dialect.name == "sqlite":
        lite = sqlite_insert(table)
        conn.execute(
            lite.on_conflict_do_update(
                index_elements=keys, set_={s: table.c[s] + lite.excluded[s] for s in names}
            ),
            ordered,
        )
        return
    my = mysql_insert(table)
    conn.execute(
        my.on_duplicate_key_update({s: table.c[s] + my.inserted[s] for s in names}), ordered
    )


def changed(obj: object, columns: Iterable[str]) -> bool:
    """Whether the pending flush changes any of these attributes of `obj`."""
    attrs = inspect(obj).attrs
    return any(attrs[c].history.has_changes() for c in columns)
