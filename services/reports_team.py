"""统计 of a team and the teams below it, for its admins: the dashboard's figures with a team
scope (services.reports, Filters.for_teams), members counted by the month they JOINED the team,
and the lists behind every number (members, activities, confirmed hours), paged.

Dates are Beijing dates (domain.clock); stored times are UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, exists, func, literal, select
from sqlalchemy.orm import Session

from domain import clock
from domain.choices import EDUCATION_LEVELS, SKILLS
from domain.contact import mask_mobile
from domain.errors import ValidationError
from models.activity import CANCELLED, DRAFT, STATUS_LABELS, Activity
from models.service import RECORD_CONFIRMED, ServiceRecord
from models.team import MEMBERSHIP_JOINED, Membership, Team
from models.volunteer import ACTIVE, Volunteer, VolunteerSkill
from services import reports
from services import reports_rollups as rollups
from services.reports import Figure, Filters, Row, month_link, number
from services.reports_lists import region_text

PAGE_SIZE = 20


# -- figures ---------------------------------------------------------------------------------


def members_by_month(session: Session, filters: Filters, team_id: int) -> Figure:
    """New members by the (Beijing) month they joined the team or one of the teams below it."""
    return member_figures(session, filters, team_id)[0]


def member_figures(session: Session, filters: Filters, team_id: int) -> tuple[Figure, Figure]:
    """members_by_month and the members' education, each member counted once (the first of
    the teams they joined), from the team's rollup rows (models.team_report)."""
    months, education = rollups.team_members(session, team_id, filters)
    rows = [Row(m, n, month_link(m)) for m, n in sorted(months.items())]
    by_month = Figure("members_month", "新入队成员（按入队月份）", "line", "人", rows, "volunteers")
    levels = reports.column_rows(education, EDUCATION_LEVELS, "education")
    return by_month, Figure("volunteers_education", "成员学历", "pie", "人", levels, "volunteers")


def members_by_skill(session: Session, filters: Filters, team_id: int) -> Figure:
    """The same members by skill: one with several skills counts once under each."""
    found = rollups.team_skills(session, team_id, filters)
    rows = [Row(skill, found.get(skill, 0), {"skill": skill}) for skill in SKILLS]
    return Figure("volunteers_skill", "成员专业领域（可多选）", "bar", "人", rows, "volunteers")


def team_figures(
    session: Session, filters: Filters, team: Team, with_sub_teams: bool
) -> list[Figure]:
    """The team page's figures, in the order shown (by team only when there are sub-teams)."""
    found = [
        *member_figures(session, filters, team.id),
        members_by_skill(session, filters, team.id),
        reports.activities_by_month(session, filters),
        reports.hours_by_month(session, filters),
    ]
    if with_sub_teams:
        by_team = [
            replace(reports.activities_by_team(session, filters), title="活动（按队伍）"),
            replace(reports.hours_by_team(session, filters), title="已确认服务时长（按队伍）"),
        ]
        found += [replace(f, rows=short_names(f.rows, team.name)) for f in by_team]
    return found


def short_names(rows: list[Row], name: str) -> list[Row]:
    """Sub-teams are named after their parent (甘肃省农学会科技志愿服务队植物保护专委会支队): the
    team itself shows as 本队, the teams below it by what follows its name."""

    def short(label: str) -> str:
        if label == name:
            return "本队"
        return label.removeprefix(name) or label

    return [replace(row, label=short(row.label)) for row in rows]


# -- the lists behind the figures ------------------------------------------------------------


@dataclass(frozen=True)
class ListFilters:
    """What a figure's row links to: dates, and education, skill or one of the teams."""

    since: str = ""
    until: str = ""
    education: str = ""
    skill: str = ""
    team: str = ""  # one of the teams (its id)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListFilters:
        return cls(**{f.name: (args.get(f.name) or "").strip()[:16] for f in fields(cls)})

    def as_args(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def checked(self, team_ids: frozenset[int]) -> tuple[Filters, frozenset[int]]:
        """The date filters and the teams to count (ValidationError for a bad date or a team
        that is not one of `team_ids`)."""
        dates = Filters.for_teams(team_ids, self.since, self.until)
        if not self.team:
            return dates, team_ids
        if not self.team.isdigit() or int(self.team) not in team_ids:
            raise ValidationError("只能查看本队及下级队伍。")
        one = frozenset({int(self.team)})
        return dates.with_teams(one), one


@dataclass(frozen=True)
class Page:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    total: int
    page: int
    pages: int
    # Rows' activity ids (for links to the activity's page), when the list has them.
    activity_ids: list[int | None]
    # The list's sum (hours), when it has one.
    sum: float | None = None


def _paged(
    session: Session, query: Select[*tuple[Any, ...]], page: int, total: int | None = None
) -> tuple[Sequence[Any], int, int, int]:
    """A page of the query (`total`: its row count when already known)."""
    if total is None:
        total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    found = session.execute(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return found, total, page, pages


def member_conditions(
    team_ids: frozenset[int], wanted: ListFilters
) -> tuple[frozenset[int], Subquery, list[ColumnElement[bool]]]:
    """The member list's teams in scope, their members' first joins (join it on volunteer_id)
    and its conditions on Volunteer; shared by the page and its export."""
    filters, teams = wanted.checked(team_ids)
    joins = reports.team_joins(teams)
    conditions: list[ColumnElement[bool]] = [
        Volunteer.status == ACTIVE,
        *filters.dates(joins.c.joined_at),
    ]
    if wanted.education in EDUCATION_LEVELS:
        conditions.append(Volunteer.education == wanted.education)
    if wanted.skill in SKILLS:
        conditions.append(
            exists(
                select(literal(1)).where(
                    VolunteerSkill.volunteer_id == Volunteer.id,
                    VolunteerSkill.skill == wanted.skill,
                )
            )
        )
    return teams, joins, conditions


def activity_query(team_ids: frozenset[int], wanted: ListFilters) -> Select[*tuple[Any, ...]]:
    """The activity list (id, start, title, team, region, status): activities held (published;
    not drafts or cancelled) starting within the dates; shared by the page and its export."""
    filters, teams = wanted.checked(team_ids)
    return (
        select(
            Activity.id,
            Activity.starts_at,
            Activity.title,
            Team.name,
            Activity.prefecture_code,
            Activity.county_code,
            Activity.status,
        )
        .join(Team, Team.id == Activity.team_id)
        .where(
            Activity.team_id.in_(teams),
            Activity.status.not_in((DRAFT, CANCELLED)),
            *filters.dates(Activity.starts_at),
        )
        .order_by(Activity.starts_at, Activity.id)
    )


def hours_query(team_ids: frozenset[int], wanted: ListFilters) -> Select[*tuple[Any, ...]]:
    """The hours list (activity id, service date, volunteer number, name, activity, team,
    hours); shared by the page and its export."""
    return (
        select(
            Activity.id,
            ServiceRecord.service_date,
            Volunteer.volunteer_no,
            Volunteer.name,
            ServiceRecord.activity_title,
            Team.name,
            ServiceRecord.hours,
        )
        .join(Activity, Activity.id == ServiceRecord.activity_id)
        .join(Team, Team.id == Activity.team_id)
        .join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
        .where(*hours_conditions(team_ids, wanted))
        .order_by(ServiceRecord.service_date, ServiceRecord.id)
    )


def hours_conditions(team_ids: frozenset[int], wanted: ListFilters) -> list[ColumnElement[bool]]:
    """Confirmed service records of the teams' activities (join Activity), by service date."""
    filters, teams = wanted.checked(team_ids)
    return [
        ServiceRecord.status == RECORD_CONFIRMED,
        Activity.team_id.in_(teams),
        *filters.days(ServiceRecord.service_date),
    ]


def member_total(session: Session, root: int, wanted: ListFilters) -> int | None:
    """The member list's count from the rollup of `root` (whose team and teams below it are
    the list's teams): every member, or those of one education or one skill; None when the
    list asks for one team or for education and skill together (counted from the rows)."""
    skill, education = wanted.skill in SKILLS, wanted.education in EDUCATION_LEVELS
    if wanted.team or (skill and education):
        return None
    filters, _teams = wanted.checked(frozenset({root}))
    if skill:
        return rollups.team_member_total(session, root, filters, "skill", wanted.skill)
    value = wanted.education if education else None
    return rollups.team_member_total(session, root, filters, "education", value)


def member_page(
    session: Session,
    team_ids: frozenset[int],
    wanted: ListFilters,
    page: int = 1,
    *,
    root: int | None = None,
) -> Page:
    """Members who joined (first) within the dates, with the education or skill asked for
    (`root`: the team whose team and teams below it are `team_ids`, to count from its rollup)."""
    teams, joins, conditions = member_conditions(team_ids, wanted)
    query = (
        select(
            Volunteer.id,
            Volunteer.volunteer_no,
            Volunteer.name,
            Volunteer.phone,
            Volunteer.education,
            Volunteer.skills,
            joins.c.joined_at,
        )
        .join(joins, joins.c.volunteer_id == Volunteer.id)
        .where(*conditions)
        .order_by(joins.c.joined_at, Volunteer.id)
    )
    total = member_total(session, root, wanted) if root is not None else None
    found, total, page, pages = _paged(session, query, page, total)
    names = _team_names(session, teams, [r[0] for r in found])
    rows = [
        (no, name or "（已注销）", mask_mobile(phone) if phone else "—", education or "",
         "、".join(skills or ()), "、".join(names.get(vid, ())), _day(joined))
        for vid, no, name, phone, education, skills, joined in found
    ]  # fmt: skip
    columns = ("志愿者编号", "姓名", "手机号", "学历", "专业领域", "所在队伍", "入队日期")
    return Page(columns, rows, total, page, pages, [None] * len(rows))


def _team_names(
    session: Session, team_ids: frozenset[int], volunteer_ids: list[int]
) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if not volunteer_ids:
        return found
    for vid, name in session.execute(
        select(Membership.volunteer_id, Team.name)
        .join(Team, Team.id == Membership.team_id)
        .where(
            Membership.volunteer_id.in_(volunteer_ids),
            Membership.team_id.in_(team_ids),
            Membership.status == MEMBERSHIP_JOINED,
        )
        .order_by(Membership.id)
    ).all():
        found.setdefault(vid, []).append(name)
    return found


def team_names(session: Session, team_ids: frozenset[int]) -> dict[int, str]:
    found = session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all()
    return {tid: name for tid, name in found}


def _day(value: datetime | None) -> str:
    return clock.show(value, "%Y-%m-%d") if value else ""


def activity_page(
    session: Session, team_ids: frozenset[int], wanted: ListFilters, page: int = 1
) -> Page:
    """Activities held (published, finished; not drafts or cancelled) starting within the dates."""
    query = activity_query(team_ids, wanted)
    found, total, page, pages = _paged(session, query, page)
    rows = [
        (clock.show(starts), title, team, region_text(pref, county), STATUS_LABELS.get(st, st))
        for _id, starts, title, team, pref, county, st in found
    ]
    columns = ("开始时间", "活动名称", "服务队", "地区", "状态")
    return Page(columns, rows, total, page, pages, [r[0] for r in found])


def hours_page(
    session: Session, team_ids: frozenset[int], wanted: ListFilters, page: int = 1
) -> Page:
    """Confirmed service records of the teams' activities, by service date within the dates.
    Counted, summed and paged on the records and their activities alone (index-only), then
    the page's 20 records read with their volunteer and team."""
    conditions = hours_conditions(team_ids, wanted)
    records = select(ServiceRecord.id).join(Activity, Activity.id == ServiceRecord.activity_id)
    total, total_hours = session.execute(
        select(func.count(), func.sum(ServiceRecord.hours))
        .join(Activity, Activity.id == ServiceRecord.activity_id)
        .where(*conditions)
    ).one()
    ids, total, page, pages = _paged(
        session,
        records.where(*conditions).order_by(ServiceRecord.service_date, ServiceRecord.id),
        page,
        int(total or 0),
    )
    found = session.execute(
        hours_query(team_ids, wanted).where(ServiceRecord.id.in_([r[0] for r in ids]))
    ).all() if ids else []  # fmt: skip
    rows = [
        (_date(day), no, name or "（已注销）", title, team, number(hours))
        for _id, day, no, name, title, team, hours in found
    ]
    columns = ("服务日期", "志愿者编号", "姓名", "活动", "服务队", "时长（小时）")
    return Page(columns, rows, total, page, pages, [r[0] for r in found], number(total_hours))


def _date(value: date | None) -> str:
    return value.isoformat() if value else ""


LISTS = {
    "volunteers": ("成员", member_page),
    "activities": ("活动", activity_page),
    "hours": ("已确认服务时长", hours_page),
}
