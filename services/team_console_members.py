"""Members as the team console shows them: masked phone and ID number, skills, confirmed hours,
search and filter; removal with a reason; admins within the size-based limit."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, exists, func, literal, select
from sqlalchemy.orm import Session

from domain.contact import mask_mobile
from domain.errors import ValidationError
from models.service import RECORD_CONFIRMED, ServiceRecord
from models.team import MEMBERSHIP_JOINED, Membership, Team
from models.volunteer import ACTIVE, Volunteer, VolunteerSkill
from services import teams

PAGE_SIZE = 20
MAX_REASON = 100


def admin_limit(member_count: int) -> int:
    """How many 管理员 (besides the 队长) a team of this size may have: teams.admin_quota."""
    return teams.admin_quota(member_count)


@dataclass(frozen=True)
class MemberRow:
    volunteer_id: int
    volunteer_no: str
    name: str
    phone_masked: str
    id_masked: str
    skills: tuple[str, ...]
    hours: Decimal
    is_admin: bool
    is_captain: bool = False


@dataclass(frozen=True)
class MemberList:
    rows: list[MemberRow]
    total: int
    page: int
    pages: int


def _joined(team_id: int) -> Select[Volunteer]:
    return (
        select(Volunteer)
        .join(Membership, Membership.volunteer_id == Volunteer.id)
        .where(Membership.team_id == team_id, Membership.status == MEMBERSHIP_JOINED)
    )


# A volunteer number as typed (KJ0123456789, or its beginning); names have no digits.
NUMBER_LIKE = re.compile(r"[A-Za-z]{2}[0-9]+")
NO_ID_ORDER = "IGNORE INDEX FOR ORDER BY (PRIMARY, ix_volunteers_status)"


def _member_ids(team_id: int, query: str, skill: str) -> Select[Any]:
    """The ids of the team's joined members matching the search, from the memberships: a
    volunteer number's or a name's beginning (a surname, a whole name: a range of the unique
    volunteer_no or the (status, name) index, whichever MariaDB finds narrower than the team's
    members), and a skill from the skill rows (VolunteerSkill, primary key (volunteer_id,
    skill)), not from every member's JSON."""
    stmt = select(Membership.volunteer_id).where(
        Membership.team_id == team_id, Membership.status == MEMBERSHIP_JOINED
    )
    query = query.strip()
    if query:
        if NUMBER_LIKE.fullmatch(query):
            found = Volunteer.volunteer_no.startswith(query.upper(), autoescape=True)
        else:  # only an active volunteer has a name (de-registration clears it)
            found = Volunteer.name.startswith(query, autoescape=True) & (Volunteer.status == ACTIVE)
        stmt = (
            stmt.join(Volunteer, Volunteer.id == Membership.volunteer_id)
            .where(found)
            # Left to itself, MariaDB pages a big team's search by walking the volunteers'
            # primary key (or (status)) in id order, through every volunteer.
            .with_hint(Volunteer, NO_ID_ORDER, dialect_name="mysql")
            .with_hint(Volunteer, NO_ID_ORDER, dialect_name="mariadb")
        )
    if skill:
        stmt = stmt.where(
            exists(
                select(literal(1)).where(
                    VolunteerSkill.volunteer_id == Membership.volunteer_id,
                    VolunteerSkill.skill == skill,
                )
            )
        )
    return stmt


def hours_of(session: Session, volunteer_ids: Sequence[int]) -> dict[int, Decimal]:
    if not volunteer_ids:
        return {}
    rows = session.execute(
        select(ServiceRecord.volunteer_id, func.sum(ServiceRecord.hours))
        .where(
            ServiceRecord.volunteer_id.in_(list(volunteer_ids)),
            ServiceRecord.status == RECORD_CONFIRMED,
        )
        .group_by(ServiceRecord.volunteer_id)
    ).all()
    return {vid: Decimal(total or 0) for vid, total in rows}


def _rows(session: Session, team_id: int, found: Sequence[Volunteer]) -> list[MemberRow]:
    hours = hours_of(session, [v.id for v in found])
    admins = {a.volunteer_id for a in teams.admins(session, team_id)}
    team = session.get(Team, team_id)
    captain = teams.captain_openid(session, team) if team is not None else None
    return [
        MemberRow(
            volunteer_id=v.id,
            volunteer_no=v.volunteer_no,
            name=v.name or "（已注销）",
            phone_masked=mask_mobile(v.phone) if v.phone else "—",
            id_masked=v.id_number_masked or "—",
            skills=tuple(v.skills or ()),
            hours=hours.get(v.id, Decimal(0)),
            is_admin=v.id in admins,
            is_captain=captain is not None and v.openid == captain,
        )
        for v in found
    ]


def member_list(
    session: Session, team_id: int, *, query: str = "", skill: str = "", page: int = 1
) -> MemberList:
    """A page of the team's members, by volunteer id. The memberships are counted and paged
    alone (an index walk of (team_id, status, volunteer_id)); only the page's volunteers are
    read: a team may have 20,000 members."""
    matching = _member_ids(team_id, query, skill)
    total = int(session.scalar(select(func.count()).select_from(matching.subquery())) or 0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    ids = list(
        session.scalars(
            matching.order_by(Membership.volunteer_id)
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    found = session.scalars(
        select(Volunteer).where(Volunteer.id.in_(ids)).order_by(Volunteer.id)
    ).all()
    return MemberList(_rows(session, team_id, found), total, page, pages)


def all_members(session: Session, team_id: int) -> list[MemberRow]:
    """Every joined member, for the export."""
    return _rows(session, team_id, session.scalars(_joined(team_id).order_by(Volunteer.id)).all())


def member(session: Session, team: Team, volunteer_id: int) -> Volunteer:
    found = session.scalar(_joined(team.id).where(Volunteer.id == volunteer_id))
    if found is None:
        raise teams.NotMember("该志愿者不是本队成员。")
    return found


def remove_member(session: Session, team: Team, volunteer_id: int, reason: str) -> Volunteer:
    """The member leaves the team; an admin must first stop being one."""
    text = " ".join(reason.split())
    if not text:
        raise ValidationError("请填写移除的原因，将告知该志愿者。")
    if len(text) > MAX_REASON:
        raise ValidationError(f"原因请不超过 {MAX_REASON} 字。")
    volunteer = member(session, team, volunteer_id)
    if any(a.volunteer_id == volunteer.id for a in teams.admins(session, team.id)):
        raise ValidationError("该成员是本队管理员，请先取消其管理员身份。")
    teams.leave(session, team.id, volunteer.id)
    return volunteer


def removal_text(team: Team, reason: str) -> str:
    return f"您已被「{team.name}」的管理员移出队伍。原因：{' '.join(reason.split())}"


def appoint_admin(session: Session, team: Team, volunteer_id: int) -> Volunteer:
    """Make a member an admin, within the limit for the team's size (teams.add_admin, the one
    rule for chat and console)."""
    volunteer = member(session, team, volunteer_id)
    teams.add_admin(session, team.id, volunteer)
    return volunteer


def dismiss_admin(session: Session, team: Team, volunteer_id: int) -> Volunteer:
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None or not volunteer.openid:
        raise teams.AdminError("该志愿者不是本队管理员。")
    teams.remove_admin(session, team.id, volunteer.openid)
    return volunteer
