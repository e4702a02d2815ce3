"""Team admins and memberships."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from domain.contact import mask_mobile
from models.base import utcnow
from models.team import (
    MEMBERSHIP_JOINED,
    MEMBERSHIP_LEFT,
    MEMBERSHIP_PENDING,
    MEMBERSHIP_REJECTED,
    STATUS_APPROVED,
    Membership,
    Team,
    TeamAdmin,
)
from models.volunteer import ACTIVE, Volunteer
from services.teams.errors import (
    AdminError,
    AlreadyMember,
    AlreadyRequested,
    InviteCodeNotFound,
    NotMember,
    TeamNotOpen,
    TooManyTeams,
)
from services.teams.limits import MAX_ADMINS_PER_TEAM, MAX_TEAMS_PER_VOLUNTEER, MEMBER_PAGE_SIZE
from services.teams.lookups import by_invite_code, get

_ACTIVE_MEMBERSHIP = (MEMBERSHIP_PENDING, MEMBERSHIP_JOINED)


# -- admins -------------------------------------------------------------------------------


def admin_teams(session: Session, openid: str) -> list[Team]:
    return list(
        session.scalars(
            select(Team)
            .join(TeamAdmin, TeamAdmin.team_id == Team.id)
            .where(TeamAdmin.openid == openid)
            .order_by(Team.id)
        )
    )


def is_admin(session: Session, team_id: int, openid: str) -> bool:
    return (
        session.scalar(
            select(TeamAdmin.id).where(TeamAdmin.team_id == team_id, TeamAdmin.openid == openid)
        )
        is not None
    )


def admins(session: Session, team_id: int) -> list[TeamAdmin]:
    return list(
        session.scalars(
            select(TeamAdmin).where(TeamAdmin.team_id == team_id).order_by(TeamAdmin.id)
        )
    )


def add_admin(session: Session, team_id: int, volunteer: Volunteer) -> TeamAdmin:
    team = get(session, team_id)
    if volunteer.status != ACTIVE or not volunteer.openid:
        raise AdminError("该志愿者已注销，不能设为管理员。")
    current = admins(session, team_id)
    if any(a.openid == volunteer.openid for a in current):
        raise AdminError(f"{volunteer.name}（{volunteer.volunteer_no}）已经是本队管理员。")
    members = member_count(session, team_id)
    quota = admin_quota(members)
    if counted_admins(session, team) >= quota:  # the 队长 is not one of the 管理员
        raise AdminError(
            f"本队现有成员{members}人，除队长外可设管理员{quota}名，已达上限"
            "（成员1–100人1名，101–200人2名，201–300人3名，301–400人4名，401人以上5名）。"
            "请先移除一名管理员。"
        )
    admin = TeamAdmin(team_id=team.id, openid=volunteer.openid, volunteer_id=volunteer.id)
    session.add(admin)
    try:
        with session.begin_nested():
            make_member(session, team.id, volunteer.id)
            session.flush()
    except IntegrityError:
        raise AdminError(
            f"{volunteer.name}（{volunteer.volunteer_no}）已经是本队管理员。"
        ) from None
    return admin


def admin_quota(members: int) -> int:
    """管理员 a team may have besides its 队长, by its size (the national platform's rule:
    1–100 members 1, 101–200 2, 201–300 3, 301–400 4, 401 and more 5)."""
    return min(MAX_ADMINS_PER_TEAM, max(1, math.ceil(members / 100)))


def captain_openid(session: Session, team: Team) -> str | None:
    """The admin who is the team's 队长: the captain recorded on the team (the registrant who
    registered as 「我是队长」, or the named captain once they confirmed, see captains.confirm).
    For a team registered before captains were recorded: the registrant, when the captain the
    team carries is them (their real name and phone). A registrant who registered for another
    captain is one of the 管理员."""
    if team.captain_volunteer_id is not None:
        captain = session.get(Volunteer, team.captain_volunteer_id)
        return captain.openid if captain is not None and captain.status == ACTIVE else None
    openid = team.registrant_openid
    if not openid or not team.captain_phone or team.captain_code is not None:
        return None
    volunteer = session.scalar(
        select(Volunteer).where(Volunteer.openid == openid, Volunteer.status == ACTIVE)
    )
    if volunteer is None or (volunteer.name, volunteer.phone) != (
        team.captain_name,
        team.captain_phone,
    ):
        return None
    return openid


def counted_admins(session: Session, team: Team) -> int:
    """The team's 管理员, counted against admin_quota: every admin but the 队长."""
    captain = captain_openid(session, team)
    return sum(1 for admin in admins(session, team.id) if admin.openid != captain)


def remove_admin(session: Session, team_id: int, openid: str) -> None:
    current = admins(session, team_id)
    target = next((a for a in current if a.openid == openid), None)
    if target is None:
        raise AdminError("该志愿者不是本队管理员。")
    team = get(session, team_id)
    if openid == captain_openid(session, team):
        raise AdminError("队长是本队的当然管理员，不能取消其管理员身份。")
    if len(current) <= 1:
        raise AdminError("每支队伍至少需要一名管理员，不能移除最后一名管理员。")
    session.delete(target)
    session.flush()


def make_member(session: Session, team_id: int, volunteer_id: int) -> None:
    """The captain and admins are members of their team, and counted (no join request)."""
    membership = session.scalar(
        select(Membership).where(
            Membership.team_id == team_id, Membership.volunteer_id == volunteer_id
        )
    )
    if membership is not None and membership.status == MEMBERSHIP_JOINED:
        return
    now = utcnow()
    if membership is None:
        membership = Membership(team_id=team_id, volunteer_id=volunteer_id, created_at=now)
        session.add(membership)
    membership.status, membership.decided_at = MEMBERSHIP_JOINED, now


# -- memberships --------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    membership_id: int
    volunteer_id: int
    volunteer_no: str
    name: str
    phone_masked: str
    skills: tuple[str, ...]
    status: str
    since: datetime


@dataclass(frozen=True)
class MemberPage:
    items: list[Member]
    total: int
    page: int
    pages: int


def _member(membership: Membership, volunteer: Volunteer) -> Member:
    return Member(
        membership_id=membership.id,
        volunteer_id=volunteer.id,
        volunteer_no=volunteer.volunteer_no,
        name=volunteer.name or "（已注销）",
        phone_masked=mask_mobile(volunteer.phone) if volunteer.phone else "—",
        skills=tuple(volunteer.skills or ()),
        status=membership.status,
        since=membership.decided_at or membership.created_at,
    )


def member_count(session: Session, team_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(Membership.id)).where(
                Membership.team_id == team_id, Membership.status == MEMBERSHIP_JOINED
            )
        )
        or 0
    )


def members(
    session: Session, team_id: int, page: int = 1, page_size: int = MEMBER_PAGE_SIZE
) -> MemberPage:
    """Joined members, in joining order, one page at a time (pages count from 1)."""
    total = member_count(session, team_id)
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, page), pages)
    rows = session.execute(
        select(Membership, Volunteer)
        .join(Volunteer, Volunteer.id == Membership.volunteer_id)
        .where(Membership.team_id == team_id, Membership.status == MEMBERSHIP_JOINED)
        .order_by(Membership.decided_at, Membership.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return MemberPage([_member(m, v) for m, v in rows], total, page, pages)


def join_requests(
    session: Session, team_id: int, *, limit: int | None = None, membership_id: int | None = None
) -> list[Member]:
    """Pending join requests, oldest first: the numbers admins approve by. `limit`: only the
    oldest ones (a big team may have hundreds waiting); `membership_id`: only that one."""
    query = (
        select(Membership, Volunteer)
        .join(Volunteer, Volunteer.id == Membership.volunteer_id)
        .where(Membership.team_id == team_id, Membership.status == MEMBERSHIP_PENDING)
        .order_by(Membership.created_at, Membership.id)
        .limit(limit)
    )
    if membership_id is not None:
        query = query.where(Membership.id == membership_id)
    return [_member(m, v) for m, v in session.execute(query).all()]


def volunteer_teams(session: Session, volunteer_id: int) -> list[tuple[Team, Membership]]:
    """The teams a volunteer belongs to or asked to join, in joining order."""
    rows = session.execute(
        select(Team, Membership)
        .join(Membership, Membership.team_id == Team.id)
        .where(Membership.volunteer_id == volunteer_id, Membership.status.in_(_ACTIVE_MEMBERSHIP))
        .order_by(Membership.created_at, Membership.id)
    ).all()
    return [(t, m) for t, m in rows]


def join(session: Session, team: Team, volunteer: Volunteer) -> Membership:
    """Ask to join `team` (joined at once when the team auto-approves). Flushes, no commit."""
    if team.status != STATUS_APPROVED:
        raise TeamNotOpen(team)
    existing = session.scalar(
        select(Membership).where(
            Membership.team_id == team.id, Membership.volunteer_id == volunteer.id
        )
    )
    if existing is not None and existing.status == MEMBERSHIP_JOINED:
        raise AlreadyMember(team)
    if existing is not None and existing.status == MEMBERSHIP_PENDING:
        raise AlreadyRequested(team)
    if len(volunteer_teams(session, volunteer.id)) >= MAX_TEAMS_PER_VOLUNTEER:
        raise TooManyTeams
    now = utcnow()
    membership = existing or Membership(team_id=team.id, volunteer_id=volunteer.id)
    membership.created_at = now
    if team.auto_approve:
        membership.status, membership.decided_at = MEMBERSHIP_JOINED, now
    else:
        membership.status, membership.decided_at = MEMBERSHIP_PENDING, None
    session.add(membership)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same request delivered twice at once
        raise AlreadyRequested(team) from None
    return membership


def join_by_code(session: Session, code: str, volunteer: Volunteer) -> Membership:
    team = by_invite_code(session, code)
    if team is None:
        raise InviteCodeNotFound(code.strip().upper())
    return join(session, team, volunteer)


def leave(session: Session, team_id: int, volunteer_id: int) -> Membership:
    """Leave a team, or withdraw a pending request."""
    membership = session.scalar(
        select(Membership).where(
            Membership.team_id == team_id,
            Membership.volunteer_id == volunteer_id,
            Membership.status.in_(_ACTIVE_MEMBERSHIP),
        )
    )
    if membership is None:
        raise NotMember("您不在该队伍中。")
    membership.status = MEMBERSHIP_LEFT
    membership.decided_at = utcnow()
    session.flush()
    return membership


def end_memberships(session: Session, team_id: int) -> None:
    """Everyone leaves (a rejected registration); requests are turned down."""
    for membership in session.scalars(
        select(Membership).where(
            Membership.team_id == team_id, Membership.status.in_(_ACTIVE_MEMBERSHIP)
        )
    ):
        joined = membership.status == MEMBERSHIP_JOINED
        membership.status = MEMBERSHIP_LEFT if joined else MEMBERSHIP_REJECTED
        membership.decided_at = utcnow()


def leave_all(session: Session, volunteer_id: int) -> int:
    """Leave every team (de-registration). Returns how many memberships ended."""
    ended = 0
    for _team, membership in volunteer_teams(session, volunteer_id):
        membership.status = MEMBERSHIP_LEFT
        membership.decided_at = utcnow()
        ended += 1
    for admin in session.scalars(select(TeamAdmin).where(TeamAdmin.volunteer_id == volunteer_id)):
        admin.volunteer_id = None
    session.flush()
    return ended


def _decide(session: Session, membership_id: int, status: str) -> Membership:
    membership = session.get(Membership, membership_id)
    if membership is None:
        raise NotMember("没有找到该入队申请。")
    if membership.status != MEMBERSHIP_PENDING:
        raise NotMember("该入队申请已处理过了。")
    membership.status = status
    membership.decided_at = utcnow()
    session.flush()
    return membership


def approve_member(session: Session, membership_id: int) -> Membership:
    return _decide(session, membership_id, MEMBERSHIP_JOINED)


def reject_member(session: Session, membership_id: int) -> Membership:
    return _decide(session, membership_id, MEMBERSHIP_REJECTED)


def team_names_line(volunteer: Volunteer) -> str:
    """「A、B（待审核）」 for the volunteer's profile."""
    session = object_session(volunteer)
    if session is None or volunteer.id is None:
        return "（暂无）"
    teams = volunteer_teams(session, volunteer.id)
    if not teams:
        return "（暂无）"
    return "、".join(
        team.name + ("（待审核）" if m.status == MEMBERSHIP_PENDING else "") for team, m in teams
    )


def select_team(session: Session, openid: str, team_id: int) -> None:
    """Remember which of their teams an admin of several is managing."""
    admin = session.scalar(
        select(TeamAdmin).where(TeamAdmin.team_id == team_id, TeamAdmin.openid == openid)
    )
    if admin is None:
        raise AdminError("您不是该队伍的管理员。")
    for other in session.scalars(select(TeamAdmin).where(TeamAdmin.openid == openid)):
        other.selected_at = None
    admin.selected_at = utcnow()


def selected_team(session: Session, openid: str) -> Team | None:
    """The team an admin chose last with select_team, if any."""
    return session.scalar(
        select(Team)
        .join(TeamAdmin, TeamAdmin.team_id == Team.id)
        .where(TeamAdmin.openid == openid, TeamAdmin.selected_at.is_not(None))
        .order_by(TeamAdmin.selected_at.desc(), TeamAdmin.id.desc())
        .limit(1)
    )
