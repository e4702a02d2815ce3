"""The dashboard's figures (概览统计), within an operator's scope, a region and a date range.

Each figure is a small table (label, value, and the list filters behind the row), which the
console draws as an ECharts chart, shows as a table and offers as CSV/xlsx. Dates are Beijing
dates (domain.clock); stored times are UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Subquery, func, select, text
from sqlalchemy.orm import Session

from domain import regions
from domain.choices import EDUCATION_LEVELS, OCCUPATIONS, SKILLS
from domain.errors import ValidationError
from domain.team_names import kind_label
from models.team import LEVELS, MEMBERSHIP_JOINED, STATUS_APPROVED, Membership, Team
from models.volunteer import ACTIVE, Volunteer
from services import reports_rollups as rollups
from services.operators import Scope
from services.reports_lists import clock_range

UNKNOWN = "（未填写）"
TOP_TEAMS = 15


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters: a region inside the operator's scope and Beijing dates."""

    scope: Scope
    region: str = ""
    since: str = ""
    until: str = ""
    # A team admin's teams (their own and the sub-teams): only their members, activities and
    # hours count. None for the operators' console (the region scope alone).
    team_ids: frozenset[int] | None = None

    @classmethod
    def for_teams(cls, team_ids: frozenset[int], since: str = "", until: str = "") -> Filters:
        """The figures of these teams, wherever their members live or their activities are
        (ValidationError for a bad date)."""
        return cls.of(Scope(), since=since, until=until).with_teams(team_ids)

    def with_teams(self, team_ids: frozenset[int]) -> Filters:
        return Filters(self.scope, self.region, self.since, self.until, team_ids)

    @classmethod
    def of(cls, scope: Scope, region: str = "", since: str = "", until: str = "") -> Filters:
        """Checked filters; ValidationError for a region outside the scope or a bad date."""
        narrowed = scope.narrow(region or None)
        clock_range(since, until)  # raises for a malformed date
        if since and until and since > until:
            raise ValidationError("开始日期不能晚于结束日期。")
        return cls(narrowed, region if narrowed.code else "", since, until)

    def args(self) -> dict[str, str]:
        """The filters as list query arguments (region, since, until)."""
        found = {"region": self.region, "since": self.since, "until": self.until}
        return {k: v for k, v in found.items() if v}

    def within(self, prefecture: Any, county: Any) -> ColumnElement[bool]:
        return self.scope.where(prefecture, county)

    def dates(self, column: Any) -> list[ColumnElement[bool]]:
        """UTC timestamps within the Beijing days."""
        start, end = clock_range(self.since, self.until)
        found: list[ColumnElement[bool]] = []
        if start is not None:
            found.append(column >= start)
        if end is not None:
            found.append(column < end)
        return found

    def days(self, column: Any) -> list[ColumnElement[bool]]:
        """Dates (already Beijing dates) within the range."""
        found: list[ColumnElement[bool]] = []
        if self.since:
            found.append(column >= date.fromisoformat(self.since))
        if self.until:
            found.append(column <= date.fromisoformat(self.until))
        return found


@dataclass(frozen=True)
class Row:
    label: str
    value: float
    # Query arguments of the list behind this row (added to the dashboard's own filters).
    link: dict[str, str] = field(default_factory=dict)
    # The map's region name (a 市州's full name), for map charts.
    area: str = ""


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    chart: str  # "line", "bar", "pie" or "map"
    unit: str
    rows: list[Row]
    # Which list the rows link to: "volunteers", "teams", "activities" or "hours".
    listing: str

    @property
    def total(self) -> float:
        return sum(row.value for row in self.rows)


# -- dialect helpers -------------------------------------------------------------------------


def beijing_month(session: Session, column: Any) -> Any:
    """YYYY-MM of a UTC timestamp, in Beijing time."""
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", column, "+8 hours")
    return func.date_format(func.date_add(column, text("INTERVAL 8 HOUR")), "%Y-%m")


def month_link(month: str) -> dict[str, str]:
    """since/until of a YYYY-MM month."""
    first = date.fromisoformat(month + "-01")
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return {"since": first.isoformat(), "until": last.isoformat()}


def number(value: Any) -> float:
    if isinstance(value, Decimal):
        return float(value)
    return float(value or 0)


def area_rows(found: Mapping[Any, float], level: str, filters: Filters) -> list[Row]:
    """Rows per 市州 (every one of the scope, zeros included) or per 县区 (those with data)."""
    if level == "prefecture":
        divisions = regions.prefectures()
        rows = [
            Row(d.name, found.get(d.code, 0), {"region": d.code}, area=d.name) for d in divisions
        ]
    else:
        divisions = [d for d in filters.scope.regions() if d.level == "county"]
        rows = [
            Row(regions.label(d.code).removeprefix("甘肃省"), found[d.code], {"region": d.code})
            for d in divisions
            if found.get(d.code)
        ]
    other = sum(v for code, v in found.items() if code not in {d.code for d in divisions})
    if other:
        rows.append(Row(UNKNOWN if level == "county" else "省外/未填写", other))
    return rows


def area_level(filters: Filters) -> str:
    return "prefecture" if filters.scope.is_province else "county"


# -- volunteers ------------------------------------------------------------------------------


def team_joins(team_ids: frozenset[int]) -> Subquery:
    """(volunteer_id, joined_at) of the members of these teams: when each joined the first of
    them (the approval time; the request's time for rows written without one)."""
    joined_at = func.min(func.coalesce(Membership.decided_at, Membership.created_at))
    return (
        select(Membership.volunteer_id, joined_at.label("joined_at"))
        .where(Membership.team_id.in_(team_ids), Membership.status == MEMBERSHIP_JOINED)
        .group_by(Membership.volunteer_id)
        .subquery("joins")
    )


def _volunteers(filters: Filters) -> list[ColumnElement[bool]]:
    """Active volunteers registered in the date range; for a team's figures, its members who
    joined in the date range instead."""
    found = [
        Volunteer.status == ACTIVE,
        filters.within(Volunteer.prefecture_code, Volunteer.county_code),
    ]
    if filters.team_ids is None:
        return [*found, *filters.dates(Volunteer.created_at)]
    joins = team_joins(filters.team_ids)
    members = select(joins.c.volunteer_id).where(*filters.dates(joins.c.joined_at))
    return [*found, Volunteer.id.in_(members)]


def volunteers_by_month(session: Session, filters: Filters) -> Figure:
    if filters.team_ids is None:
        found = sorted(rollups.volunteer_counts(session, filters, "all", "month").items())
    else:
        month = beijing_month(session, Volunteer.created_at)
        query = select(month, func.count()).where(*_volunteers(filters))
        found = session.execute(query.group_by(month).order_by(month)).all()  # type: ignore[assignment]
    rows = [Row(m, n, month_link(m)) for m, n in found if m]
    return Figure("volunteers_month", "志愿者注册（按月）", "line", "人", rows, "volunteers")


def volunteers_by_area(session: Session, filters: Filters, level: str) -> Figure:
    column = Volunteer.prefecture_code if level == "prefecture" else Volunteer.county_code
    if filters.team_ids is None:
        found = rollups.volunteer_counts(session, filters, "all", level)
    else:
        found = dict(
            session.execute(
                select(column, func.count()).where(*_volunteers(filters)).group_by(column)
            ).all()
        )
    if level == "prefecture":
        return Figure(
            "volunteers_prefecture", "志愿者分布（按市州）", "map", "人",
            area_rows(found, level, filters), "volunteers",
        )  # fmt: skip
    return Figure(
        "volunteers_county", "志愿者分布（按县区）", "bar", "人",
        area_rows(found, level, filters), "volunteers",
    )  # fmt: skip


def _by_column(
    session: Session, filters: Filters, column: Any, options: Sequence[str], arg: str
) -> list[Row]:
    found: dict[Any, int]
    if filters.team_ids is None:
        found = rollups.volunteer_counts(session, filters, arg, "value")
    elif arg == "education":
        found = rollups.member_counts(session, filters, arg)
    else:
        found = dict(
            session.execute(
                select(column, func.count()).where(*_volunteers(filters)).group_by(column)
            ).all()
        )
    return column_rows(found, options, arg)


def column_rows(found: Mapping[Any, int], options: Sequence[str], arg: str) -> list[Row]:
    """A row per option (zeros included), then the other values together as 未填写."""
    rows = [Row(o, found.get(o, 0), {arg: o}) for o in options]
    other = sum(n for value, n in found.items() if value not in options)
    return rows + ([Row(UNKNOWN, other)] if other else [])


def volunteers_by_education(session: Session, filters: Filters) -> Figure:
    rows = _by_column(session, filters, Volunteer.education, EDUCATION_LEVELS, "education")
    return Figure("volunteers_education", "志愿者学历", "pie", "人", rows, "volunteers")


def volunteers_by_occupation(session: Session, filters: Filters) -> Figure:
    rows = _by_column(session, filters, Volunteer.occupation, OCCUPATIONS, "occupation")
    return Figure("volunteers_occupation", "志愿者职业/身份", "bar", "人", rows, "volunteers")


def volunteers_by_skill(session: Session, filters: Filters) -> Figure:
    """A volunteer with several skills counts once under each (their skill rows)."""
    if filters.team_ids is None:
        found = rollups.volunteer_counts(session, filters, "skill", "value")
    else:
        found = rollups.member_counts(session, filters, "skill")
    rows = [Row(skill, int(found.get(skill, 0)), {"skill": skill}) for skill in SKILLS]
    return Figure("volunteers_skill", "志愿者专业领域（可多选）", "bar", "人", rows, "volunteers")


# -- teams -----------------------------------------------------------------------------------


def _teams(filters: Filters) -> list[ColumnElement[bool]]:
    return [
        Team.status == STATUS_APPROVED,
        filters.within(Team.prefecture_code, Team.county_code),
        *filters.dates(Team.created_at),
    ]


def teams_by_kind(session: Session, filters: Filters) -> Figure:
    found = session.execute(
        select(Team.kind, func.count()).where(*_teams(filters)).group_by(Team.kind)
    ).all()
    rows = sorted((Row(kind_label(k), n, {"kind": k}) for k, n in found), key=lambda r: -r.value)
    return Figure("teams_kind", "服务队类别", "pie", "支", rows, "teams")


def teams_by_level(session: Session, filters: Filters) -> Figure:
    found = dict(
        session.execute(
            select(Team.level, func.count()).where(*_teams(filters)).group_by(Team.level)
        ).all()
    )
    rows = [Row(level, found.get(level, 0), {"level": level}) for level in LEVELS]
    return Figure("teams_level", "服务队层级", "bar", "支", rows, "teams")


# -- activities and hours --------------------------------------------------------------------


def activities_by_month(session: Session, filters: Filters) -> Figure:
    found = sorted(rollups.service_sums(session, filters, "activities", "month").items())
    rows = [Row(m, n, month_link(m)) for m, n in found if m]
    return Figure("activities_month", "活动（按月）", "bar", "场", rows, "activities")


def activities_by_area(session: Session, filters: Filters) -> Figure:
    level = area_level(filters)
    found = rollups.service_sums(session, filters, "activities", level)
    title = "活动（按市州）" if level == "prefecture" else "活动（按县区）"
    return Figure(
        "activities_area", title, "bar", "场", area_rows(found, level, filters), "activities"
    )


def activities_by_team(session: Session, filters: Filters) -> Figure:
    found = rollups.service_by_team(session, filters, "activities", TOP_TEAMS)
    rows = [Row(name, int(n), {"team_id": str(team_id)}) for team_id, name, n in found]
    return Figure(
        "activities_team", f"活动最多的服务队（前{TOP_TEAMS}）", "bar", "场", rows, "activities"
    )


def hours_by_month(session: Session, filters: Filters) -> Figure:
    found = sorted(rollups.service_sums(session, filters, "hours", "month").items())
    rows = [Row(m, number(h), month_link(m)) for m, h in found if m]
    return Figure("hours_month", "已确认服务时长（按月）", "bar", "小时", rows, "hours")


def hours_by_area(session: Session, filters: Filters) -> Figure:
    level = area_level(filters)
    found = {
        code: number(h)
        for code, h in rollups.service_sums(session, filters, "hours", level).items()
    }
    chart = "map" if level == "prefecture" else "bar"
    title = "已确认服务时长（按市州）" if level == "prefecture" else "已确认服务时长（按县区）"
    return Figure("hours_area", title, chart, "小时", area_rows(found, level, filters), "hours")


def hours_by_team(session: Session, filters: Filters) -> Figure:
    found = rollups.service_by_team(session, filters, "hours", TOP_TEAMS)
    rows = [Row(name, number(h), {"team_id": str(team_id)}) for team_id, name, h in found]
    return Figure(
        "hours_team", f"服务时长最多的服务队（前{TOP_TEAMS}）", "bar", "小时", rows, "hours"
    )


# -- the dashboard ---------------------------------------------------------------------------


def figures(session: Session, filters: Filters) -> list[Figure]:
    """Every figure of the dashboard, in the order shown."""
    found = [volunteers_by_month(session, filters)]
    if filters.scope.is_province:
        found.append(volunteers_by_area(session, filters, "prefecture"))
    found += [
        volunteers_by_area(session, filters, "county"),
        volunteers_by_education(session, filters),
        volunteers_by_occupation(session, filters),
        volunteers_by_skill(session, filters),
        teams_by_kind(session, filters),
        teams_by_level(session, filters),
        activities_by_month(session, filters),
        activities_by_area(session, filters),
        activities_by_team(session, filters),
        hours_by_month(session, filters),
        hours_by_area(session, filters),
        hours_by_team(session, filters),
    ]
    return found


def figure(session: Session, filters: Filters, key: str) -> Figure | None:
    return next((f for f in figures(session, filters) if f.key == key), None)
