"""The dashboard's sums read from the rollups (models.report) instead of the base tables: the
same figures, from a few thousand pre-aggregated rows.

A date range is read as whole years, whole months and the days at its edges (`cover`); without
dates the "all time" rows are read. Figures by month read months and days only.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from models.report import ALL_TEAMS, EPOCH, ServiceCount, VolunteerCount
from models.team import Team
from models.team_report import EDUCATION, SKILL, TeamJoinCount
from models.volunteer import ACTIVE, Volunteer, VolunteerSkill

LOW, HIGH = date(1900, 1, 1), date(2199, 12, 31)
DAY = timedelta(days=1)

Piece = tuple[str, date, date]  # (grain, first bucket day, last bucket day)


def cover(since: date | None, until: date | None, top: str = "a") -> list[Piece]:
    """The rollup rows that sum to exactly the days since..until (either may be open): the
    coarsest grains that fit, no coarser than `top` ("a", "y", "m" or "d")."""
    if since is None and until is None and top == "a":
        return [("a", EPOCH, EPOCH)]
    return _cover(since or LOW, until or HIGH, "y" if top == "a" else top)


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - DAY


def _cover(first: date, last: date, top: str) -> list[Piece]:
    if first > last:
        return []
    if top == "y":
        y0 = first.year if (first.month, first.day) == (1, 1) else first.year + 1
        y1 = last.year if (last.month, last.day) == (12, 31) else last.year - 1
        if y0 <= y1:
            return [
                *_cover(first, date(y0, 1, 1) - DAY, "m"),
                ("y", date(y0, 1, 1), date(y1, 1, 1)),
                *_cover(date(y1 + 1, 1, 1), last, "m"),
            ]
        top = "m"
    if top == "m":
        m0 = first if first.day == 1 else _month_end(first) + DAY
        m1 = last if last == _month_end(last) else last.replace(day=1) - DAY
        if m0 <= m1:
            return [
                *_cover(first, m0 - DAY, "d"),
                ("m", m0, m1.replace(day=1)),
                *_cover(m1 + DAY, last, "d"),
            ]
    return [("d", first, last)]


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def within(model: Any, pieces: list[Piece]) -> ColumnElement[bool]:
    return or_(*(and_(model.grain == g, model.day >= a, model.day <= b) for g, a, b in pieces))


# -- volunteers ------------------------------------------------------------------------------


def volunteer_counts(session: Session, filters: Any, facet: str, by: str) -> dict[Any, int]:
    """Active volunteers registered within the filters' dates and region, counted by `by`:
    "value" (of the facet), "prefecture", "county" or "month" (YYYY-MM)."""
    model = VolunteerCount
    pieces = cover(_day(filters.since), _day(filters.until), "m" if by == "month" else "a")
    key: Any = {
        "value": model.value,
        "prefecture": model.prefecture_code,
        "county": model.county_code,
        "month": model.day,
    }[by]
    found = session.execute(
        select(key, func.sum(model.n))
        .where(
            within(model, pieces),
            model.facet == facet,
            filters.within(model.prefecture_code, model.county_code),
        )
        .group_by(key)
    ).all()
    return _fold(found, by == "month")


def _fold(found: Any, by_month: bool) -> dict[Any, Any]:
    result: dict[Any, Any] = defaultdict(int)
    for key, value in found:
        result[key.strftime("%Y-%m") if by_month else key] += int(value or 0)
    return {k: v for k, v in result.items() if v}


def member_counts(session: Session, filters: Any, facet: str) -> dict[Any, int]:
    """The same for a team's figures: its members (who joined within the dates) by education
    or skill (the skill rows), read from the memberships of the teams and their volunteers."""
    from services.reports import team_joins

    joins = team_joins(filters.team_ids)
    key = VolunteerSkill.skill if facet == "skill" else Volunteer.education
    query = (
        select(key, func.count())
        .select_from(joins)
        .join(Volunteer, Volunteer.id == joins.c.volunteer_id)
        .where(Volunteer.status == ACTIVE, *filters.dates(joins.c.joined_at))
        .group_by(key)
    )
    if facet == "skill":
        query = query.join(VolunteerSkill, VolunteerSkill.volunteer_id == Volunteer.id)
    return {k: int(n) for k, n in session.execute(query).all()}


def team_members(
    session: Session, team_id: int, filters: Any
) -> tuple[dict[str, int], dict[str, int]]:
    """A team's members (of it and the teams below it, each once) who first joined within the
    filters' dates: by month joined (YYYY-MM) and by education ('' = not given), from
    report_team_joins (models.team_report)."""
    model = TeamJoinCount
    pieces = cover(_day(filters.since), _day(filters.until), "m")
    found = session.execute(
        select(model.day, model.value, func.sum(model.n))
        .where(model.team_id == team_id, model.facet == EDUCATION, within(model, pieces))
        .group_by(model.day, model.value)
    ).all()
    months: dict[str, int] = defaultdict(int)
    education: dict[str, int] = defaultdict(int)
    for day, value, n in found:
        months[day.strftime("%Y-%m")] += int(n or 0)
        education[value] += int(n or 0)
    return (
        {k: v for k, v in months.items() if v},
        {k: v for k, v in education.items() if v},
    )


def team_member_total(
    session: Session, team_id: int, filters: Any, facet: str, value: str | None
) -> int:
    """How many of the team's members first joined within the dates (facet "education" with
    value None: all of them; else those of one education or one skill)."""
    model = TeamJoinCount
    query = select(func.sum(model.n)).where(
        model.team_id == team_id,
        model.facet == facet,
        within(model, cover(_day(filters.since), _day(filters.until))),
    )
    if value is not None:
        query = query.where(model.value == value)
    return int(session.scalar(query) or 0)


def team_skills(session: Session, team_id: int, filters: Any) -> dict[str, int]:
    """The same members by skill (one count per skill of each member)."""
    model = TeamJoinCount
    pieces = cover(_day(filters.since), _day(filters.until))
    found = session.execute(
        select(model.value, func.sum(model.n))
        .where(model.team_id == team_id, model.facet == SKILL, within(model, pieces))
        .group_by(model.value)
    ).all()
    return _fold(found, False)


# -- activities and confirmed hours ----------------------------------------------------------


def _teams(filters: Any, by_team: bool) -> ColumnElement[bool]:
    if filters.team_ids is not None:
        return ServiceCount.team_id.in_(filters.team_ids)
    return ServiceCount.team_id != ALL_TEAMS if by_team else ServiceCount.team_id == ALL_TEAMS


def service_sums(session: Session, filters: Any, what: str, by: str) -> dict[Any, Any]:
    """Activities held ("activities", by start day) or confirmed hours ("hours", by service
    date) within the filters, by "prefecture", "county" or "month"."""
    model = ServiceCount
    pieces = cover(_day(filters.since), _day(filters.until), "m" if by == "month" else "a")
    key: Any = {
        "prefecture": model.prefecture_code,
        "county": model.county_code,
        "month": model.day,
    }[by]
    value = model.activities if what == "activities" else model.hours
    present = model.activities if what == "activities" else model.records
    found = session.execute(
        select(key, func.sum(value), func.sum(present))
        .where(
            within(model, pieces),
            _teams(filters, by_team=False),
            filters.within(model.prefecture_code, model.county_code),
        )
        .group_by(key)
    ).all()
    result: dict[Any, list[Any]] = defaultdict(lambda: [0, 0])
    for k, v, n in found:
        slot = result[k.strftime("%Y-%m") if by == "month" else k]
        slot[0] += v or 0
        slot[1] += n or 0
    if what == "activities":
        return {k: int(v) for k, (v, n) in result.items() if n}
    return {k: v for k, (v, n) in result.items() if n}


def service_by_team(session: Session, filters: Any, what: str, limit: int) -> list[Any]:
    """(team id, name, sum) of the `limit` teams with the most activities or hours, ties by
    name: summed, ranked and cut in the database (the province has some 15,000 teams with a
    sum; reading them all into Python cost ~70 ms a figure at 1M volunteers)."""
    model = ServiceCount
    pieces = cover(_day(filters.since), _day(filters.until))
    total = func.sum(model.activities if what == "activities" else model.hours)
    present = func.sum(model.activities if what == "activities" else model.records)
    sums = (
        select(model.team_id.label("team_id"), total.label("total"))
        .where(
            within(model, pieces),
            _teams(filters, by_team=True),
            filters.within(model.prefecture_code, model.county_code),
        )
        .group_by(model.team_id)
        .having(present > 0)
        .subquery()
    )
    found = session.execute(
        select(sums.c.team_id, Team.name, sums.c.total)
        .join(Team, Team.id == sums.c.team_id)
        .order_by(sums.c.total.desc(), Team.name)
        .limit(limit)
    ).all()
    return [(team, name, Decimal(str(value or 0))) for team, name, value in found]
