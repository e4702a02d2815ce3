"""Rollups for the 统计 and 表彰 pages: exact counts and sums, pre-aggregated by Beijing day,
month, year and "all time", so that a page reads a few thousand rows instead of a million.

Each a sum of the base tables' rows:
- `report_volunteer_counts`: active volunteers by the Beijing day they registered, their
  region, and a facet (all / education / occupation / skill: one row per skill, a volunteer
  with several counting once under each).
- `report_service_counts`: activities held (published, not cancelled; by the Beijing day they
  start) and confirmed service records and hours (by service date), by the activity's region
  and team; team_id ALL_TEAMS (0) holds the sums over every activity (with or without a team).
- `report_volunteer_years`: a volunteer's confirmed records and hours of a year by the
  activity's region, and one TOTAL row per volunteer and year (every region).
- `report_team_members`: each team's joined members.

The first three keep each row at four grains: "d" (day), "m" (month: day is its first), "y"
(year: 1 January) and "a" (all time: day is EPOCH), so a date range reads whole years, whole
months and the days at its edges (services.reports_rollups.cover).

Written by this module only: a flush listener on every Session adds the difference that each
flushed Volunteer, Activity, ServiceRecord and Membership object makes (registration,
de-registration, profile edit, import, activity publish/cancel/edit, records confirmed or
corrected, joining and leaving teams), in the same transaction; a `do_orm_execute` hook does
the same for ORM bulk INSERT/UPDATE/DELETE statements on those tables. Plain SQL bypasses
both: run `rebuild` (`flask reports rebuild`) after it, as bench/seed_data.py does after its
bulk load.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Date,
    Index,
    Integer,
    Numeric,
    Result,
    SmallInteger,
    String,
    Table,
    event,
    func,
    select,
    text,
    true,
)
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, attributes, mapped_column

from domain import clock
from models import counters, team_report
from models.activity import CANCELLED, DRAFT, Activity
from models.base import Base, BigId
from models.service import RECORD_CONFIRMED, ServiceRecord
from models.team import MEMBERSHIP_JOINED, Membership, Team
from models.volunteer import ACTIVE, Volunteer

GRAINS = ("a", "y", "m", "d")
EPOCH = date(2000, 1, 1)  # the day of "a" (all time) rows
ALL_TEAMS = 0
TOTAL = "*"  # region codes of a volunteer's all-regions row in report_volunteer_years
FACETS = ("all", "education", "occupation", "skill")


class VolunteerCount(Base):
    __tablename__ = "report_volunteer_counts"

    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    facet: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    prefecture_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class ServiceCount(Base):
    __tablename__ = "report_service_counts"

    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    team_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    prefecture_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    activities: Mapped[int] = mapped_column(Integer, default=0)
    records: Mapped[int] = mapped_column(Integer, default=0)
    hours: Mapped[Decimal] = mapped_column(Numeric(14, 1), default=Decimal(0))


class VolunteerYear(Base):
    __tablename__ = "report_volunteer_years"
    __table_args__ = (
        Index("ix_report_volunteer_years_total", "year", "prefecture_code", "hours", "records"),
    )

    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    volunteer_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    prefecture_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    records: Mapped[int] = mapped_column(Integer, default=0)
    hours: Mapped[Decimal] = mapped_column(Numeric(12, 1), default=Decimal(0))


class TeamMembers(Base):
    """Members (joined) of each team: 表彰's team figures."""

    __tablename__ = "report_team_members"

    team_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    members: Mapped[int] = mapped_column(Integer, default=0)


def buckets(day: date) -> list[tuple[str, date]]:
    """The (grain, day) rows a day adds to."""
    return [("a", EPOCH), ("y", date(day.year, 1, 1)), ("m", day.replace(day=1)), ("d", day)]


# -- what one object contributes -------------------------------------------------------------

VOLUNTEER_COLUMNS = (
    "status", "created_at", "prefecture_code", "county_code", "education", "occupation", "skills",
)  # fmt: skip
ACTIVITY_COLUMNS = ("status", "starts_at", "prefecture_code", "county_code", "team_id")
PLACE_COLUMNS = ("prefecture_code", "county_code", "team_id")  # what moves an activity's hours
RECORD_COLUMNS = ("status", "hours", "service_date", "activity_id", "volunteer_id")
MEMBERSHIP_COLUMNS = ("status", "team_id")


@dataclass
class Deltas:
    volunteers: dict[tuple[Any, ...], int] = field(default_factory=lambda: defaultdict(int))
    service: dict[tuple[Any, ...], list[Any]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, Decimal(0)])
    )
    years: dict[tuple[Any, ...], list[Any]] = field(
        default_factory=lambda: defaultdict(lambda: [0, Decimal(0)])
    )
    members: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def membership(self, state: Mapping[str, Any] | None, sign: int) -> None:
        if state and state.get("status") == MEMBERSHIP_JOINED and state.get("team_id"):
            self.members[state["team_id"]] += sign

    def volunteer(self, state: Mapping[str, Any] | None, sign: int) -> None:
        if not state or (state.get("status") or ACTIVE) != ACTIVE or not state.get("created_at"):
            return
        day = clock.beijing_date(state["created_at"])
        place = (state.get("prefecture_code") or "", state.get("county_code") or "")
        facets = [
            ("all", ""),
            ("education", state.get("education") or ""),
            ("occupation", state.get("occupation") or ""),
            *(("skill", s) for s in dict.fromkeys(state.get("skills") or ()) if s),
        ]
        for grain, bucket in buckets(day):
            for facet, value in facets:
                self.volunteers[(grain, facet, bucket, *place, str(value)[:20])] += sign

    def activity(self, state: Mapping[str, Any] | None, sign: int) -> None:
        if not state or state.get("status") in (DRAFT, CANCELLED, None) or not state["starts_at"]:
            return
        self._service(state, clock.beijing_date(state["starts_at"]), (sign, 0, Decimal(0)))

    def record(
        self, state: Mapping[str, Any] | None, place: Mapping[str, Any] | None, sign: int
    ) -> None:
        """A service record (`state`) at its activity (`place`: region and team)."""
        if not state or not place or state.get("status") != RECORD_CONFIRMED:
            return
        hours = Decimal(state.get("hours") or 0) * sign
        self._service(place, state["service_date"], (0, sign, hours))
        region = (place.get("prefecture_code") or "", place.get("county_code") or "")
        year = state["service_date"].year
        for key in (
            (year, state["volunteer_id"], *region),
            (year, state["volunteer_id"], TOTAL, TOTAL),
        ):
            found = self.years[key]
            found[0] += sign
            found[1] += hours

    def _service(
        self, place: Mapping[str, Any], day: date, amounts: tuple[int, int, Decimal]
    ) -> None:
        region = (place.get("prefecture_code") or "", place.get("county_code") or "")
        teams = [ALL_TEAMS] + ([place["team_id"]] if place.get("team_id") else [])
        for grain, bucket in buckets(day):
            for team in teams:
                found = self.service[(grain, team, bucket, *region)]
                for i, amount in enumerate(amounts):
                    found[i] += amount

    def apply(self, conn: Connection) -> None:
        vol = [
            dict(zip(("grain", "facet", "day", "prefecture_code", "county_code", "value"), k, strict=True), n=n)
            for k, n in sorted(self.volunteers.items()) if n
        ]  # fmt: skip
        svc = [
            dict(zip(("grain", "team_id", "day", "prefecture_code", "county_code"), k, strict=True),
                 activities=a, records=r, hours=h)
            for k, (a, r, h) in sorted(self.service.items()) if a or r or h
        ]  # fmt: skip
        yrs = [
            dict(zip(("year", "volunteer_id", "prefecture_code", "county_code"), k, strict=True),
                 records=r, hours=h)
            for k, (r, h) in sorted(self.years.items()) if r or h
        ]  # fmt: skip
        teams = [{"team_id": k, "members": n} for k, n in sorted(self.members.items()) if n]
        for model, rows, sums in (
            (TeamMembers, teams, ("members",)),
            (VolunteerCount, vol, ("n",)),
            (ServiceCount, svc, ("activities", "records", "hours")),
            (VolunteerYear, yrs, ("records", "hours")),
        ):
            if rows:
                counters.add(conn, cast(Table, model.__table__), rows, sums)


# -- the flush listener ----------------------------------------------------------------------

PENDING = "report_rollups_pending"


def _state(obj: Any, columns: Iterable[str]) -> dict[str, Any]:
    return {c: getattr(obj, c) for c in columns}


def _place(conn: Connection, activity_id: int | None) -> dict[str, Any] | None:
    if activity_id is None:
        return None
    row = conn.execute(
        select(Activity.prefecture_code, Activity.county_code, Activity.team_id).where(
            Activity.id == activity_id
        )
    ).one_or_none()
    return row._asdict() if row else None


def _old(conn: Connection, model: Any, columns: Iterable[str], id_: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(*(getattr(model, c) for c in columns)).where(model.id == id_)
    ).one_or_none()
    return row._asdict() if row else None


def _records_of(conn: Connection, activity_id: int) -> list[dict[str, Any]]:
    found = conn.execute(
        select(*(getattr(ServiceRecord, c) for c in RECORD_COLUMNS)).where(
            ServiceRecord.activity_id == activity_id, ServiceRecord.status == RECORD_CONFIRMED
        )
    ).all()
    return [row._asdict() for row in found]


KINDS = (Volunteer, Activity, ServiceRecord, Membership)
_joins = cast(Table, team_report.TeamJoinCount.__table__)
TEAMS_PENDING = "report_team_joins_pending"
# What a team's member figures (models.team_report) depend on.
JOIN_COLUMNS = ("status", "team_id", "volunteer_id", "decided_at", "created_at")
MEMBER_COLUMNS = ("status", "education", "skills")


def _touched_members(session: Session) -> set[int]:
    """Volunteers whose count in report_team_joins the pending flush may change (known ids;
    new memberships of volunteers without an id yet are picked up after the flush)."""
    ids: set[int] = set()
    moved: list[int] = []
    for obj in session.new:
        if isinstance(obj, Membership) and obj.volunteer_id is not None:
            ids.add(obj.volunteer_id)
    for obj in [*session.dirty, *session.deleted]:
        gone = obj in session.deleted
        if isinstance(obj, Membership) and (gone or counters.changed(obj, JOIN_COLUMNS)):
            history = attributes.get_history(obj, "volunteer_id")
            ids.update(v for v in (*history.sum(), obj.volunteer_id) if v is not None)
        elif isinstance(obj, Volunteer) and obj.id is not None:
            if gone or counters.changed(obj, MEMBER_COLUMNS):
                ids.add(obj.id)
        elif isinstance(obj, Team) and obj.id is not None and counters.changed(obj, ("parent_id",)):
            moved.append(obj.id)
    if moved:
        ids |= team_report.members_below(session.connection(), moved)
    return ids


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Take out what changed or deleted objects counted (their rows as the database has them
    before this flush); remember the changed ones to add back after the flush."""
    session.info.pop(PENDING, None)
    session.info.pop(TEAMS_PENDING, None)
    deltas = Deltas()
    changed: list[Any] = []
    watched = [o for o in session.dirty if isinstance(o, KINDS)]
    deleted = [o for o in session.deleted if isinstance(o, KINDS)]
    moved = any(isinstance(o, Team) for o in session.dirty)
    new = any(isinstance(o, KINDS) for o in session.new)
    if not watched and not deleted and not moved and not new:
        return
    conn = session.connection()
    members = _touched_members(session)
    if members:
        session.info[TEAMS_PENDING] = (members, team_report.contributions(conn, members))
    for obj in [*watched, *deleted]:
        is_deleted = obj in deleted
        if isinstance(obj, Volunteer):
            if is_deleted or counters.changed(obj, VOLUNTEER_COLUMNS):
                deltas.volunteer(_old(conn, Volunteer, VOLUNTEER_COLUMNS, obj.id), -1)
                changed.append(obj)
        elif isinstance(obj, Activity):
            if is_deleted or counters.changed(obj, ACTIVITY_COLUMNS):
                old = _old(conn, Activity, ACTIVITY_COLUMNS, obj.id)
                deltas.activity(old, -1)
                changed.append(obj)
                if old and (is_deleted or counters.changed(obj, PLACE_COLUMNS)):
                    for record in _records_of(conn, obj.id):
                        deltas.record(record, old, -1)
        elif isinstance(obj, Membership):
            if is_deleted or counters.changed(obj, MEMBERSHIP_COLUMNS):
                deltas.membership(_old(conn, Membership, MEMBERSHIP_COLUMNS, obj.id), -1)
                changed.append(obj)
        elif is_deleted or counters.changed(obj, RECORD_COLUMNS):
            old = _old(conn, ServiceRecord, RECORD_COLUMNS, obj.id)
            deltas.record(old, _place(conn, old["activity_id"]) if old else None, -1)
            changed.append(obj)
    session.info[PENDING] = (deltas, [o for o in changed if o not in deleted])


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    """Add what new and changed objects count now, and write the difference."""
    deltas, changed = session.info.pop(PENDING, (None, []))
    members, before = session.info.pop(TEAMS_PENDING, (set(), None))
    new = [o for o in session.new if isinstance(o, KINDS)]
    if deltas is None and not new and not members:
        return
    deltas = deltas or Deltas()
    conn = session.connection()
    joined = [o for o in new if isinstance(o, Membership)]
    late = {o.volunteer_id for o in joined} - set(members)
    if members or late:
        before = before or Counter()
        if late:  # their state before: without this flush's new memberships
            before.update(team_report.contributions(conn, late, skip=[o.id for o in joined]))
        _apply_members(conn, members | late, before)
    for obj in [*new, *changed]:
        if isinstance(obj, Volunteer):
            deltas.volunteer(_state(obj, VOLUNTEER_COLUMNS), 1)
        elif isinstance(obj, Activity):
            state = _state(obj, ACTIVITY_COLUMNS)
            deltas.activity(state, 1)
            if obj in changed and counters.changed(obj, PLACE_COLUMNS):
                for record in _records_of(conn, obj.id):
                    deltas.record(record, state, 1)
        elif isinstance(obj, Membership):
            deltas.membership(_state(obj, MEMBERSHIP_COLUMNS), 1)
        else:
            deltas.record(_state(obj, RECORD_COLUMNS), _place(conn, obj.activity_id), 1)
    deltas.apply(conn)


WATCHED: dict[Any, tuple[str, ...]] = {
    Volunteer: VOLUNTEER_COLUMNS,
    Activity: ACTIVITY_COLUMNS,
    ServiceRecord: RECORD_COLUMNS,
    Membership: MEMBERSHIP_COLUMNS,
}


def _rows(conn: Connection, model: Any, condition: Any) -> dict[int, dict[str, Any]]:
    columns = WATCHED[model]
    found = conn.execute(select(model.id, *(getattr(model, c) for c in columns)).where(condition))
    return {row.id: {c: getattr(row, c) for c in columns} for row in found}


def _count(
    conn: Connection, model: Any, rows: dict[int, dict[str, Any]], sign: int, deltas: Deltas
) -> None:
    for id_, row in rows.items():
        if model is Volunteer:
            deltas.volunteer(row, sign)
        elif model is Activity:
            deltas.activity(row, sign)
            for record in _records_of(conn, id_):
                deltas.record(record, row, sign)
        elif model is Membership:
            deltas.membership(row, sign)
        else:
            deltas.record(row, _place(conn, row["activity_id"]), sign)


@event.listens_for(Session, "do_orm_execute")
def _bulk_writes(state: ORMExecuteState) -> Result[Any] | None:
    """ORM-enabled bulk INSERT, UPDATE and DELETE statements on the watched tables (no objects,
    so no flush): what the rows they wrote counted before, and what they count after."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    if state.bind_mapper is Team.__mapper__:
        return _bulk_team_writes(state)
    model = next((m for m in WATCHED if m.__mapper__ is state.bind_mapper), None)
    if model is None:
        return None
    session = state.session
    deltas = Deltas()
    conn = session.connection()
    members: set[int] = set()
    before: Counter[team_report.Key] = Counter()
    if state.is_insert:
        last = conn.scalar(select(func.max(model.id))) or 0
        result = state.invoke_statement()
        _count(conn, model, _rows(conn, model, model.id > last), 1, deltas)
        if model is Membership:
            members = set(conn.scalars(select(Membership.volunteer_id).where(Membership.id > last)))
            before = team_report.contributions(conn, members, newer_than=last)
    else:
        where = state.statement.whereclause  # type: ignore[attr-defined]
        condition = true() if where is None else where
        old = _rows(conn, model, condition)
        _count(conn, model, old, -1, deltas)
        if model is Membership:
            members = set(conn.scalars(select(Membership.volunteer_id).where(condition)))
        elif model is Volunteer and (state.is_delete or _sets(state, MEMBER_COLUMNS)):
            members = set(old)
        before = team_report.contributions(conn, members)
        result = state.invoke_statement()
        if state.is_update and old:
            _count(conn, model, _rows(conn, model, model.id.in_(list(old))), 1, deltas)
    deltas.apply(conn)
    _apply_members(conn, members, before)
    return result


def _sets(state: ORMExecuteState, columns: Iterable[str]) -> bool:
    """Whether a bulk UPDATE may set one of these columns (True when it cannot tell)."""
    values = getattr(state.statement, "_values", None) or {}
    names = {str(getattr(k, "key", k)) for k in values}
    params = state.parameters
    for row in params if isinstance(params, list) else [params or {}]:
        names.update(str(k) for k in row)
    return not names or bool(names & set(columns))


def _bulk_team_writes(state: ORMExecuteState) -> Result[Any]:
    """An ORM UPDATE/DELETE of teams may move teams (parent_id): their members' counts."""
    conn = state.session.connection()
    where = None if state.is_insert else state.statement.whereclause  # type: ignore[attr-defined]
    teams: list[int] = []
    if not state.is_insert:
        teams = list(conn.scalars(select(Team.id).where(true() if where is None else where)))
    members = team_report.members_below(conn, teams) if teams else set()
    before = team_report.contributions(conn, members)
    result = state.invoke_statement()
    _apply_members(conn, members, before)
    return result


def _apply_members(conn: Connection, members: set[int], before: Counter[team_report.Key]) -> None:
    """Write what `members` count now less what they counted `before`."""
    if not members:
        return
    delta = team_report.contributions(conn, members)
    delta.subtract(before)
    counters.add(conn, _joins, team_report.rows(delta), ("n",))


# -- rebuilding from the base tables ---------------------------------------------------------


def _sql(dialect: str) -> dict[str, str]:
    if dialect == "sqlite":
        return {
            "bj": "date({}, '+8 hours')",
            "m": "date({}, 'start of month')",
            "y": "date({}, 'start of year')",
            "year": "CAST(strftime('%Y', {}) AS INTEGER)",
        }
    return {
        "bj": "DATE(DATE_ADD({}, INTERVAL 8 HOUR))",
        "m": "DATE_FORMAT({}, '%Y-%m-01')",
        "y": "MAKEDATE(YEAR({}), 1)",
        "year": "YEAR({})",
    }


def rebuild(conn: Connection, *, team_joins: bool = True) -> dict[str, int]:
    """Recompute every rollup from the base tables (after bulk loads or plain SQL, or to
    repair). Returns the rows written per table. `team_joins=False`: not report_team_joins
    (migration 0021_rollups runs before 0025_teamjoins creates it)."""
    f = _sql(conn.dialect.name)
    day = f["bj"].format("v.created_at")
    statements: list[str] = ["DELETE FROM report_volunteer_counts"]
    for facet, value in (
        ("all", "''"),
        ("education", "COALESCE(v.education, '')"),
        ("occupation", "COALESCE(v.occupation, '')"),
    ):
        statements.append(
            "INSERT INTO report_volunteer_counts "
            "(grain, facet, day, prefecture_code, county_code, value, n) "
            f"SELECT 'd', '{facet}', {day}, COALESCE(v.prefecture_code, ''), "
            f"COALESCE(v.county_code, ''), {value}, COUNT(*) FROM volunteers v "
            f"WHERE v.status = '{ACTIVE}' GROUP BY {day}, v.prefecture_code, v.county_code, {value}"
        )
    statements.append(
        "INSERT INTO report_volunteer_counts "
        "(grain, facet, day, prefecture_code, county_code, value, n) "
        f"SELECT 'd', 'skill', {day}, COALESCE(v.prefecture_code, ''), "
        "COALESCE(v.county_code, ''), s.skill, COUNT(*) FROM volunteer_skills s "
        f"JOIN volunteers v ON v.id = s.volunteer_id WHERE v.status = '{ACTIVE}' "
        f"GROUP BY {day}, v.prefecture_code, v.county_code, s.skill"
    )
    statements += _coarser(
        "report_volunteer_counts", "facet, prefecture_code, county_code, value", "n", f
    )

    start = f["bj"].format("a.starts_at")
    held = f"a.status NOT IN ('{DRAFT}', '{CANCELLED}')"
    parts = []
    for team, team_where in ((str(ALL_TEAMS), ""), ("a.team_id", " AND a.team_id IS NOT NULL")):
        parts.append(
            f"SELECT {team} AS team_id, {start} AS day, COALESCE(a.prefecture_code, '') AS p, "
            "COALESCE(a.county_code, '') AS c, 1 AS n, 0 AS r, 0 AS h "
            f"FROM activities a WHERE {held}{team_where}"
        )
        parts.append(
            f"SELECT {team}, sr.service_date, COALESCE(a.prefecture_code, ''), "
            "COALESCE(a.county_code, ''), 0, 1, sr.hours FROM service_records sr "
            f"JOIN activities a ON a.id = sr.activity_id WHERE sr.status = '{RECORD_CONFIRMED}'"
            f"{team_where}"
        )
    statements += [
        "DELETE FROM report_service_counts",
        "INSERT INTO report_service_counts "
        "(grain, team_id, day, prefecture_code, county_code, activities, records, hours) "
        "SELECT 'd', team_id, day, p, c, SUM(n), SUM(r), SUM(h) FROM ("
        + " UNION ALL ".join(parts)
        + ") u GROUP BY team_id, day, p, c",
        *_coarser(
            "report_service_counts",
            "team_id, prefecture_code, county_code",
            "activities, records, hours",
            f,
        ),
    ]
    year = f["year"].format("sr.service_date")
    confirmed = (
        "FROM service_records sr JOIN activities a ON a.id = sr.activity_id "
        f"WHERE sr.status = '{RECORD_CONFIRMED}'"
    )
    statements += [
        "DELETE FROM report_volunteer_years",
        "INSERT INTO report_volunteer_years "
        "(year, volunteer_id, prefecture_code, county_code, records, hours) "
        f"SELECT {year}, sr.volunteer_id, COALESCE(a.prefecture_code, ''), "
        f"COALESCE(a.county_code, ''), COUNT(*), SUM(sr.hours) {confirmed} "
        f"GROUP BY {year}, sr.volunteer_id, a.prefecture_code, a.county_code",
        "INSERT INTO report_volunteer_years "
        "(year, volunteer_id, prefecture_code, county_code, records, hours) "
        f"SELECT {year}, sr.volunteer_id, '{TOTAL}', '{TOTAL}', COUNT(*), SUM(sr.hours) "
        f"{confirmed} GROUP BY {year}, sr.volunteer_id",
    ]
    statements += [
        "DELETE FROM report_team_members",
        "INSERT INTO report_team_members (team_id, members) SELECT team_id, COUNT(*) "
        f"FROM team_memberships WHERE status = '{MEMBERSHIP_JOINED}' GROUP BY team_id",
    ]
    for statement in statements:
        conn.execute(text(statement))
    if team_joins:
        rebuild_team_joins(conn)
    return {
        table: int(conn.scalar(text(f"SELECT COUNT(*) FROM {table}")) or 0)
        for table in (
            "report_volunteer_counts",
            "report_service_counts",
            "report_volunteer_years",
            "report_team_members",
            *(("report_team_joins",) if team_joins else ()),
        )
    }


def rebuild_team_joins(conn: Connection) -> None:
    """Recompute report_team_joins (models.team_report) from the base tables."""
    team_report.rebuild(conn, _sql(conn.dialect.name), EPOCH)


def _coarser(table: str, keys: str, sums: str, f: Mapping[str, str]) -> list[str]:
    """The month, year and all-time rows of a table from its day rows."""
    total = ", ".join(f"SUM({s.strip()})" for s in sums.split(","))
    found = []
    for grain, bucket in (
        ("m", f["m"].format("day")),
        ("y", f["y"].format("day")),
        ("a", f"'{EPOCH}'"),
    ):
        found.append(
            f"INSERT INTO {table} (grain, day, {keys}, {sums}) "
            f"SELECT '{grain}', {bucket}, {keys}, {total} FROM {table} "
            f"WHERE grain = 'd' GROUP BY {bucket}, {keys}"
        )
    return found
