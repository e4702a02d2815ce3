"""A notice's audience at a million volunteers, kept true in the transaction of every write.

- `Volunteer.receives_notices`: the volunteer has an openid whose follower row is subscribed
  and does not refuse notices (what the audience asked of `followers` by one probe per
  volunteer before; now one indexed column).
- `VolunteerTime`: `Volunteer.service_times` (a JSON list) as rows, so that a service-time
  condition is an index probe instead of a JSON search of every volunteer's row.
- `AudienceCount`: how many active volunteers receiving notices there are per (市州, 县区), per
  (skill, 市州, 县区) and per (service time, 市州, 县区): an audience of a region, or of one
  skill or one service time in a region, is counted exactly by summing at most a few hundred
  rows (services.notices.audience.count_recipients).

All three are rewritten by `resync` for the volunteers a write touched: the volunteer's flag
from the followers table, then its time rows, then the counters by the difference between the
volunteer's counted keys before and after (its rows are locked first, so two writers of one
volunteer cannot both subtract the same state). It runs:
- after every ORM flush that wrote volunteers (registration, claim, edits, import,
  de-registration) or followers (subscribe, unsubscribe, a 43004/43101 answer);
- after ORM-enabled bulk INSERT/UPDATE/DELETE statements on volunteers or followers;
- explicitly after plain SQL that writes them (services.followers.seen's INSERT);
- after a bulk load without the ORM: `FILL_AUDIENCE_MARIADB` (bench/seed_data.py), as the
  migration 0023_audience does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Integer,
    Result,
    String,
    Table,
    and_,
    bindparam,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    UOWTransaction,
    attributes,
    mapped_column,
)

from models import counters
from models.base import Base, BigId
from models.follower import Follower
from models.volunteer import ACTIVE, Volunteer

ALL, SKILL, TIME = "all", "skill", "time"
BATCH = 1000


class VolunteerTime(Base):
    """One of a volunteer's service times (`Volunteer.service_times` as rows)."""

    __tablename__ = "volunteer_service_times"

    volunteer_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("volunteers.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    service_time: Mapped[str] = mapped_column(String(10), primary_key=True)


class AudienceCount(Base):
    """Active volunteers receiving notices, per key: (all, '', 市州, 县区), (skill, skill, 市州,
    县区), (time, service time, 市州, 县区). A missing region is '' (part of the primary key)."""

    __tablename__ = "audience_counts"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    prefecture_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    volunteers: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


Key = tuple[str, str, str, str]

_volunteers = cast(Table, Volunteer.__table__)
_followers = cast(Table, Follower.__table__)
_times = cast(Table, VolunteerTime.__table__)
_counts = cast(Table, AudienceCount.__table__)
_SNAPSHOT = [
    _volunteers.c[name]
    for name in (
        "id",
        "status",
        "receives_notices",
        "prefecture_code",
        "county_code",
        "skills",
        "service_times",
    )
]
# The columns of a volunteer the audience depends on (besides its follower row).
_WATCHED = ("openid", "status", "prefecture_code", "county_code", "skills", "service_times")
_FOLLOWER_WATCHED = ("openid", "subscribed", "refuses_notices")


def receives_notices(openid: Any) -> ColumnElement[bool]:
    """`openid` (a column) belongs to a follower who is subscribed and does not refuse."""
    return and_(
        openid.is_not(None),
        exists(
            select(literal(1)).where(
                _followers.c.openid == openid,
                _followers.c.subscribed == true(),
                _followers.c.refuses_notices == false(),
            )
        ),
    )


def counted_keys(row: Mapping[Any, Any]) -> list[Key]:
    """The counters a volunteer (a snapshot row) adds one to."""
    if row["status"] != ACTIVE or not row["receives_notices"]:
        return []
    region = (row["prefecture_code"] or "", row["county_code"] or "")
    keys: list[Key] = [(ALL, "", *region)]
    keys += [(SKILL, s, *region) for s in dict.fromkeys(row["skills"] or ()) if isinstance(s, str)]
    times = row["service_times"] or ()
    keys += [(TIME, t, *region) for t in dict.fromkeys(times) if isinstance(t, str)]
    return keys


def _snapshot(conn: Connection, ids: Collection[int], *, lock: bool) -> dict[int, Row[Any]]:
    found: dict[int, Row[Any]] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        stmt = select(*_SNAPSHOT).where(_volunteers.c.id.in_(ordered[start : start + BATCH]))
        if lock:
            stmt = stmt.with_for_update()
        for row in conn.execute(stmt):
            found[row.id] = row
    return found


def _times_of(row: Row[Any] | None) -> list[str]:
    return _times_of_values(row.service_times if row is not None else None)


def _times_of_values(values: Any) -> list[str]:
    return [t for t in dict.fromkeys(values or ()) if isinstance(t, str)]


def _write_times(
    conn: Connection,
    before: Mapping[int, Row[Any]],
    after: Mapping[int, Row[Any]],
    new: Collection[int],
) -> None:
    changed = sorted(
        vid
        for vid in set(before) | set(after)
        if vid in new
        or vid not in before
        or _times_of(before.get(vid)) != _times_of(after.get(vid))
    )
    for start in range(0, len(changed), BATCH):
        batch = changed[start : start + BATCH]
        conn.execute(delete(_times).where(_times.c.volunteer_id.in_(batch)))
        rows = [
            {"volunteer_id": vid, "service_time": t}
            for vid in batch
            for t in _times_of(after.get(vid))
        ]
        if rows:
            conn.execute(insert(_times), rows)


def _apply(conn: Connection, delta: Counter[Key]) -> None:
    """Add the non-zero differences to the counters."""
    rows = [
        {"kind": k[0], "value": k[1], "prefecture_code": k[2], "county_code": k[3], "volunteers": n}
        for k, n in delta.items()
        if n
    ]
    counters.add(conn, _counts, rows, ("volunteers",))


def resync(
    session: Session,
    ids: Iterable[int],
    before: Mapping[int, Row[Any]] | None = None,
    *,
    new: Collection[int] = (),
) -> None:
    """Rewrite the flag, the time rows and the counters of the volunteers `ids` (their state
    `before` the write, if it was taken then; otherwise now, which is before the flag; `new`:
    volunteers just inserted, whose time rows are written whatever `before` says)."""
    wanted = sorted(set(ids))
    if not wanted:
        return
    conn = session.connection()
    if before is None:
        before = _snapshot(conn, wanted, lock=True)
    for start in range(0, len(wanted), BATCH):
        conn.execute(
            update(_volunteers)
            .where(_volunteers.c.id.in_(wanted[start : start + BATCH]))
            .values(
                receives_notices=receives_notices(_volunteers.c.openid),
                # Derived, not an edit of the volunteer: the column's onupdate stays off.
                updated_at=_volunteers.c.updated_at,
            )
        )
    after = _snapshot(conn, wanted, lock=False)
    _write_times(conn, before, after, set(new))
    delta: Counter[Key] = Counter()
    for row in before.values():
        delta.subtract(counted_keys(row._mapping))
    for row in after.values():
        delta.update(counted_keys(row._mapping))
    _apply(conn, delta)
    touched = set(wanted)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Volunteer) and obj.id in touched:
            session.expire(obj, ["receives_notices"])


def resync_openids(session: Session, openids: Collection[str]) -> list[int]:
    """The same for the volunteers holding these openids (their follower rows changed); their
    ids (any status)."""
    if not openids:
        return []
    conn = session.connection()
    ids: list[int] = []
    ordered = sorted(openids)
    for start in range(0, len(ordered), BATCH):
        ids += conn.scalars(_IDS_OF_OPENIDS, {"openids": ordered[start : start + BATCH]}).all()
    resync(session, ids)
    return ids


# Built once: a new follower's first message runs it (and usually finds no volunteer).
_IDS_OF_OPENIDS = select(_volunteers.c.id).where(
    _volunteers.c.openid.in_(bindparam("openids", expanding=True))
)


# -- ORM flushes ----------------------------------------------------------------------------

_PENDING = "audience_pending"


@dataclass
class _Pending:
    before: dict[int, Row[Any]] = field(default_factory=dict)
    new: list[Volunteer] = field(default_factory=list)
    # Openids whose follower rows this flush writes too.
    openids: set[str] = field(default_factory=set)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    """Note the volunteers this flush touches and lock their rows with their current state."""
    session.info.pop(_PENDING, None)
    ids: set[int] = set()
    openids: set[str] = set()
    pending = _Pending()
    for obj in session.new:
        if isinstance(obj, Volunteer):
            pending.new.append(obj)
        elif isinstance(obj, Follower) and obj.openid:
            openids.add(obj.openid)
    for obj in session.dirty:
        if isinstance(obj, Volunteer) and obj.id is not None and counters.changed(obj, _WATCHED):
            ids.add(obj.id)
        elif isinstance(obj, Follower) and counters.changed(obj, _FOLLOWER_WATCHED):
            history = attributes.get_history(obj, "openid")
            openids.update(o for o in (*history.sum(), obj.openid) if o)
    for obj in session.deleted:
        if isinstance(obj, Volunteer) and obj.id is not None:
            ids.add(obj.id)
        elif isinstance(obj, Follower) and obj.openid:
            openids.add(obj.openid)
    if not ids and not openids and not pending.new:
        return
    conn = session.connection()
    if openids:
        ids.update(
            conn.scalars(select(_volunteers.c.id).where(_volunteers.c.openid.in_(openids))).all()
        )
    if pending.new:
        _flag_new(conn, pending.new)
    pending.openids = openids
    pending.before = _snapshot(conn, ids, lock=True) if ids else {}
    session.info[_PENDING] = pending


def _flag_new(conn: Connection, new: list[Volunteer]) -> None:
    """Set the flag of volunteers about to be inserted from their follower rows, read with a
    shared lock (as the UPDATE's subquery reads them), so it is inserted true instead of
    corrected after the INSERT."""
    openids = sorted({v.openid for v in new if v.openid})
    receiving: set[str] = set()
    for start in range(0, len(openids), BATCH):
        receiving.update(conn.scalars(_RECEIVING, {"openids": openids[start : start + BATCH]}))
    for volunteer in new:
        volunteer.receives_notices = volunteer.openid in receiving


# Built once (a registration runs both): building and keying a statement costs more than
# sending it.
_RECEIVING = (
    select(_followers.c.openid)
    .where(
        _followers.c.openid.in_(bindparam("openids", expanding=True)),
        _followers.c.subscribed == true(),
        _followers.c.refuses_notices == false(),
    )
    .with_for_update(read=True)
)
_INSERT_TIMES = insert(_times)


@event.listens_for(Session, "after_flush_postexec")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    pending: _Pending | None = session.info.pop(_PENDING, None)
    if pending is None:
        return
    new = {v.id: v for v in pending.new if v.id is not None}
    # A new volunteer whose follower row this flush also writes was flagged from the row as it
    # was before: it is re-synced like any other (flag from the table, counted as added).
    late = {vid for vid, v in new.items() if v.openid in pending.openids}
    resync(session, (set(pending.before) - set(new)) | late, pending.before, new=late)
    if len(new) > len(late):
        _count_new(session.connection(), [v for vid, v in new.items() if vid not in late])


def _count_new(conn: Connection, new: list[Volunteer]) -> None:
    """Inserted volunteers (their flag set by `_flag_new`): their time rows and counters from
    the objects as inserted; nothing to read back, no time rows to delete."""
    rows = [
        {"volunteer_id": v.id, "service_time": t}
        for v in sorted(new, key=lambda v: v.id)
        for t in _times_of_values(v.service_times)
    ]
    for start in range(0, len(rows), BATCH):
        conn.execute(_INSERT_TIMES, rows[start : start + BATCH])
    delta: Counter[Key] = Counter()
    for v in new:
        delta.update(
            counted_keys(
                {
                    "status": v.status,
                    "receives_notices": v.receives_notices,
                    "prefecture_code": v.prefecture_code,
                    "county_code": v.county_code,
                    "skills": v.skills,
                    "service_times": v.service_times,
                }
            )
        )
    _apply(conn, delta)


# -- ORM-enabled bulk statements ------------------------------------------------------------


@event.listens_for(Session, "do_orm_execute")
def _bulk_writes(state: ORMExecuteState) -> Result[Any] | None:
    """INSERT/UPDATE/DELETE statements on volunteers or followers (no objects, so no flush
    hooks) resync the volunteers they wrote."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    mapper = state.bind_mapper
    if mapper is not Volunteer.__mapper__ and mapper is not Follower.__mapper__:
        return None
    session = state.session
    table = _volunteers if mapper is Volunteer.__mapper__ else _followers
    where = None if state.is_insert else state.statement.whereclause  # type: ignore[attr-defined]
    if state.is_insert:
        last = session.scalar(select(func.max(table.c.id))) or 0
        matched: list[Any] = []
    else:
        column = table.c.id if table is _volunteers else table.c.openid
        matched = list(session.scalars(select(column).where(true() if where is None else where)))
    before = None
    if table is _volunteers and matched:
        before = _snapshot(session.connection(), matched, lock=True)
    result = state.invoke_statement()
    if state.is_insert:
        column = table.c.id if table is _volunteers else table.c.openid
        matched = list(session.scalars(select(column).where(table.c.id > last)))
        # before=None: the new rows as inserted (receives_notices false: callers never write
        # it), and any row another transaction added meanwhile as committed (no difference).
        before = None
    if table is _volunteers:
        resync(session, matched, before, new=matched if state.is_insert else ())
    else:
        resync_openids(session, set(matched))
    return result


# -- bulk loads without the ORM (MariaDB) ---------------------------------------------------

# Every volunteer's flag, time rows and the counters from scratch, by the same definitions as
# `receives_notices`, `_write_times` and `counted_keys` (bench/seed_data.py after LOAD DATA).
FILL_AUDIENCE_MARIADB = (
    "UPDATE volunteers v JOIN followers f ON f.openid = v.openid"
    " SET v.receives_notices = true"
    " WHERE f.subscribed = true AND f.refuses_notices = false",
    "INSERT IGNORE INTO volunteer_service_times (volunteer_id, service_time)"
    " SELECT v.id, j.t FROM volunteers v, JSON_TABLE(v.service_times, '$[*]'"
    " COLUMNS (t VARCHAR(10) CHARACTER SET utf8mb4 PATH '$')) j"
    " WHERE v.service_times IS NOT NULL AND j.t IS NOT NULL",
    "DELETE FROM audience_counts",
    "INSERT INTO audience_counts (kind, value, prefecture_code, county_code, volunteers)"
    " SELECT 'all', '', COALESCE(prefecture_code, ''), COALESCE(county_code, ''), COUNT(*)"
    " FROM volunteers WHERE status = 'active' AND receives_notices = true"
    " GROUP BY COALESCE(prefecture_code, ''), COALESCE(county_code, '')",
    "INSERT INTO audience_counts (kind, value, prefecture_code, county_code, volunteers)"
    " SELECT 'skill', s.skill, COALESCE(v.prefecture_code, ''), COALESCE(v.county_code, ''),"
    " COUNT(*) FROM volunteer_skills s JOIN volunteers v ON v.id = s.volunteer_id"
    " WHERE v.status = 'active' AND v.receives_notices = true"
    " GROUP BY s.skill, COALESCE(v.prefecture_code, ''), COALESCE(v.county_code, '')",
    "INSERT INTO audience_counts (kind, value, prefecture_code, county_code, volunteers)"
    " SELECT 'time', t.service_time, COALESCE(v.prefecture_code, ''),"
    " COALESCE(v.county_code, ''), COUNT(*)"
    " FROM volunteer_service_times t JOIN volunteers v ON v.id = t.volunteer_id"
    " WHERE v.status = 'active' AND v.receives_notices = true"
    " GROUP BY t.service_time, COALESCE(v.prefecture_code, ''), COALESCE(v.county_code, '')",
)
