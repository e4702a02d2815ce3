"""The lists behind a team's 统计 figures (services.reports_team: members, activities,
confirmed hours) as .xlsx files, with the list's own filters and the team scope it checks.

Rows come from the database over a server-side cursor (services.reports_lists.stream) and go
straight to the sheet (services.reports_export), so a list of any length holds one batch. A
member's teams come in the same statement (one row per membership, grouped back to one row
per member), because a streaming connection takes no second query. Personal data is masked as
the team console shows it: phones and ID numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import clock
from domain.contact import mask_mobile
from models.activity import STATUS_LABELS
from models.team import MEMBERSHIP_JOINED, Membership, Team
from models.volunteer import Volunteer
from services.reports import number
from services.reports_export import Listing
from services.reports_lists import region_text, stream
from services.reports_team import (
    ListFilters,
    activity_query,
    hours_query,
    member_conditions,
)

__all__ = ["LISTINGS", "activity_listing", "hours_listing", "member_listing"]


def member_listing(session: Session, team_ids: frozenset[int], wanted: ListFilters) -> Listing:
    """reports_team.member_page's rows, every one, with the masked ID number besides."""
    teams, joins, conditions = member_conditions(team_ids, wanted)
    query = (
        select(
            Volunteer.id,
            Volunteer.volunteer_no,
            Volunteer.name,
            Volunteer.phone,
            Volunteer.id_number_masked,
            Volunteer.education,
            Volunteer.skills,
            joins.c.joined_at,
            Team.name,
        )
        .join(joins, joins.c.volunteer_id == Volunteer.id)
        .join(
            Membership,
            (Membership.volunteer_id == Volunteer.id)
            & Membership.team_id.in_(teams)
            & (Membership.status == MEMBERSHIP_JOINED),
        )
        .join(Team, Team.id == Membership.team_id)
        .where(*conditions)
        .order_by(joins.c.joined_at, Volunteer.id, Membership.id)
    )
    return Listing(
        name="team-volunteers",
        title="成员",
        columns=[("志愿者编号", 16), ("姓名", 10), ("手机号", 14), ("身份证号", 20),
                 ("学历", 10), ("专业领域", 24), ("所在队伍", 36), ("入队日期", 12)],
        rows=_members(stream(session, query)),
    )  # fmt: skip


def _members(found: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """One row per member: their rows (one per membership, consecutive) with the teams joined."""
    for _vid, group in groupby(found, key=lambda row: row[0]):
        rows = list(group)
        _id, no, name, phone, id_masked, education, skills, joined, _team = rows[0]
        yield (
            no,
            name or "（已注销）",
            mask_mobile(phone) if phone else "—",
            id_masked or "—",
            education or "",
            "、".join(skills or ()),
            "、".join(row[8] for row in rows),
            clock.show(joined, "%Y-%m-%d") if joined else "",
        )


def activity_listing(session: Session, team_ids: frozenset[int], wanted: ListFilters) -> Listing:
    """reports_team.activity_page's rows, every one."""
    query = activity_query(team_ids, wanted)
    rows = (
        (clock.show(starts), title, team, region_text(pref, county), STATUS_LABELS.get(st, st))
        for _id, starts, title, team, pref, county, st in stream(session, query)
    )
    return Listing(
        name="team-activities",
        title="活动",
        columns=[("开始时间", 18), ("活动名称", 36), ("服务队", 36), ("地区", 16), ("状态", 10)],
        rows=rows,
    )


def hours_listing(session: Session, team_ids: frozenset[int], wanted: ListFilters) -> Listing:
    """reports_team.hours_page's rows, every one."""
    query = hours_query(team_ids, wanted)
    rows = (
        (day.isoformat() if day else "", no, name or "（已注销）", title, team, number(hours))
        for _id, day, no, name, title, team, hours in stream(session, query)
    )
    return Listing(
        name="team-hours",
        title="已确认服务时长",
        columns=[("服务日期", 12), ("志愿者编号", 16), ("姓名", 10), ("活动", 36),
                 ("服务队", 36), ("时长（小时）", 12)],
        rows=rows,
    )  # fmt: skip


LISTINGS: dict[str, Callable[[Session, frozenset[int], ListFilters], Listing]] = {
    "volunteers": member_listing,
    "activities": activity_listing,
    "hours": hours_listing,
}
