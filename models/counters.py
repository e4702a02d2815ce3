"""Counter tables kept exact by adding differences in the transaction of the write that causes
them: the pieces shared by the report rollups (models.report) and the audience counters
(models.audience). Each of those decides what a write adds or takes away; this module writes
the differences and tells which watched columns a flush changes."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Executable, Table, inspect
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
    if conn.dialect.name == "mysql":
        # The driver's own statement and tuples: the rows go as one multi-row INSERT, without
        # SQLAlchemy's processing of every parameter of every row (a registration adds to ~20).
        columns = tuple(ordered[0])
        sql = _mysql_upsert(table.name, columns, names)
        conn.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in ordered])
        return
    conn.execute(_upsert(table, names, conn.dialect.name), ordered)


@functools.cache
def _mysql_upsert(table: str, columns: tuple[str, ...], sums: tuple[str, ...]) -> str:
    """The upsert as the mysqlclient/PyMySQL paramstyle (`%s`), which their executemany sends
    as one multi-row INSERT; `VALUES(col)` is the row's value (MariaDB, as SQLAlchemy renders
    `inserted`)."""
    names = ", ".join(f"`{c}`" for c in columns)
    marks = ", ".join("%s" for _ in columns)
    adds = ", ".join(f"`{s}` = `{s}` + VALUES(`{s}`)" for s in sums)
    return f"INSERT INTO `{table}` ({names}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {adds}"


# The upsert of each (table, sums, dialect), built once: building one costs more than the
# statement it sends (each registration writes two counter tables).
_UPSERTS: dict[tuple[Table, tuple[str, ...], str], Executable] = {}


def _upsert(table: Table, names: tuple[str, ...], dialect: str) -> Executable:
    found = _UPSERTS.get((table, names, dialect))
    if found is not None:
        return found
    keys = [column.name for column in table.primary_key.columns]
    stmt: Executable
    if dialect == "sqlite":
        lite = sqlite_insert(table)
        stmt = lite.on_conflict_do_update(
            index_elements=keys, set_={s: table.c[s] + lite.excluded[s] for s in names}
        )
    else:
        my = mysql_insert(table)
        stmt = my.on_duplicate_key_update({s: table.c[s] + my.inserted[s] for s in names})
    _UPSERTS[(table, names, dialect)] = stmt
    return stmt


def changed(obj: object, columns: Iterable[str]) -> bool:
    """Whether the pending flush changes any of these attributes of `obj`."""
    attrs = inspect(obj).attrs
    return any(attrs[c].history.has_changes() for c in columns)
