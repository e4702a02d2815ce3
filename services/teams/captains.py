"""The 队长's own account: a registrant who names another captain gets a code to pass on; the
captain, a registered volunteer, replies 「确认队长 <code>」 and the team records them as its 队长.

The 队长 is an admin of the team (the rights to manage it) but not one of the 管理员 counted
against admin_quota, and cannot be dismissed as an admin. A registrant who registers as
「我是队长」 is recorded as the captain at once (registry.register)."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.text import normalize
from models.team import STATUS_APPROVED, STATUS_PENDING, Team, TeamAdmin
from models.volunteer import ACTIVE, Volunteer
from services.teams.errors import CaptainError
from services.teams.members import captain_openid, make_member

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # as invite codes: no 0/O, 1/I
CODE_LENGTH = 6
_OPEN = (STATUS_PENDING, STATUS_APPROVED)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def captain(session: Session, team: Team) -> Volunteer | None:
    """The confirmed 队长's volunteer record, while it is active (members.captain_openid)."""
    openid = captain_openid(session, team)
    if openid is None:
        return None
    return session.scalar(
        select(Volunteer).where(Volunteer.openid == openid, Volunteer.status == ACTIVE)
    )


def captain_code(session: Session, team: Team) -> str | None:
    """The code the named captain confirms with; drawn now for a team that has none (registered
    before codes existed, say). None when the captain is confirmed or the team is closed."""
    if team.captain_volunteer_id is not None or team.status not in _OPEN:
        return None
    if team.captain_code is None:
        code = new_code()
        while session.scalar(select(Team.id).where(Team.captain_code == code)) is not None:
            code = new_code()
        team.captain_code = code
        session.flush()
    return team.captain_code


def confirm(session: Session, code: str, volunteer: Volunteer) -> Team:
    """`volunteer` confirms they are the 队长 the code's team was registered with: the team
    records them (their registered phone becomes the captain's), they become an admin (not
    counted among the 管理员) and a member. Flushes, no commit."""
    wanted = normalize(code).strip().upper()
    team = session.scalar(select(Team).where(Team.captain_code == wanted).with_for_update())
    if team is None:
        raise CaptainError(
            f"没有找到队长确认码「{wanted}」，请核对注册人转告的确认码（确认码只能使用一次）。"
        )
    if team.status not in _OPEN:
        raise CaptainError(f"「{team.name}」当前状态为{team.status_label}，不能确认队长。")
    if volunteer.status != ACTIVE or not volunteer.openid:
        raise CaptainError("请先在「志愿者 → 注册」完成志愿者注册，再确认队长身份。")
    if (volunteer.name or "") != (team.captain_name or ""):
        raise CaptainError(
            f"「{team.name}」登记的队长姓名与您的实名信息（{volunteer.name}）不一致，不能确认。"
            "请联系注册人核对队长姓名。"
        )
    team.captain_volunteer_id = volunteer.id
    team.captain_phone = volunteer.phone
    team.captain_code = None
    admin = session.scalar(
        select(TeamAdmin).where(TeamAdmin.team_id == team.id, TeamAdmin.openid == volunteer.openid)
    )
    if admin is None:
        session.add(TeamAdmin(team_id=team.id, openid=volunteer.openid, volunteer_id=volunteer.id))
    else:
        admin.volunteer_id = volunteer.id
    make_member(session, team.id, volunteer.id)
    session.flush()
    return team
