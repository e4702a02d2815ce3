"""Teams: registration, approval, hierarchy, admins and memberships.

Functions take a Session and never commit; the caller owns the transaction
(`with db.Session.begin() as s:`), so a registration and its first admin are saved together or
not at all. Errors are TeamError subclasses whose `hint` is the Chinese sentence to show.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from domain import clock, team_names
from domain.contact import mask_mobile
from domain.errors import ValidationError
from domain.text import clip
from models.base import utcnow
from models.team import (
    LEVEL_BRANCH,
    LEVEL_CORPS,
    LEVEL_TEAM,
    MEMBERSHIP_JOINED,
    MEMBERSHIP_LEFT,
    MEMBERSHIP_PENDING,
    MEMBERSHIP_REJECTED,
    STATUS_APPROVED,
    STATUS_DISABLED,
    STATUS_PENDING,
    STATUS_REJECTED,
    Membership,
    Team,
    TeamAdmin,
)
from models.volunteer import ACTIVE, Volunteer
from wechat.client import WeChatAPI
from wechat.errors import WeChatAPIError

log = logging.getLogger(__name__)

MAX_TEAMS_PER_VOLUNTEER = 5
MAX_ADMINS_PER_TEAM = 5
MEMBER_PAGE_SIZE = 10
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed
INVITE_LENGTH = 6
SCENE_PREFIX = "team:"
ROOT_HOST_ORG = "甘肃省科学技术协会"
_ACTIVE_MEMBERSHIP = (MEMBERSHIP_PENDING, MEMBERSHIP_JOINED)


# -- errors -------------------------------------------------------------------------------


class TeamError(ValidationError):
    """A team operation refused, with the hint to show."""


class TeamNotFound(TeamError):
    def __init__(self, hint: str = "没有找到该队伍。") -> None:
        super().__init__(hint)


class NameTaken(TeamError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"「{name}」已被注册（或正在审核），队名不能重复。"
            "如是本单位已注册的队伍，请联系该队管理员；否则请换一个名称。"
        )
        self.name = name


class ParentNotFound(TeamError):
    pass


class InvalidDecision(TeamError):
    pass


class InviteCodeNotFound(TeamError):
    def __init__(self, code: str) -> None:
        super().__init__(
            f"邀请码「{code}」不存在，请核对后重新输入。邀请码为6位字母和数字，可向队伍管理员索取。"
        )


class TeamNotOpen(TeamError):
    def __init__(self, team: Team) -> None:
        why = "尚未通过审核" if team.status == STATUS_PENDING else "目前不接受加入申请"
        super().__init__(f"「{team.name}」{why}，暂时不能加入。")


class AlreadyMember(TeamError):
    def __init__(self, team: Team) -> None:
        super().__init__(f"您已经是「{team.name}」的成员，无需重复加入。")


class AlreadyRequested(TeamError):
    def __init__(self, team: Team) -> None:
        super().__init__(f"您已申请加入「{team.name}」，请耐心等待队伍管理员审核。")


class TooManyTeams(TeamError):
    def __init__(self) -> None:
        super().__init__(
            f"每位志愿者最多加入{MAX_TEAMS_PER_VOLUNTEER}支队伍（含待审核的申请），您已达到上限。"
            "如需加入新队伍，请先回复「退出队伍」退出其中一支。"
        )


class NotMember(TeamError):
    pass


class AdminError(TeamError):
    pass


# -- lookups ------------------------------------------------------------------------------


def get(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise TeamNotFound
    return team


def find(session: Session, ref: str | int) -> Team | None:
    """A team by id, team number, invite code or exact name (as an operator would type it)."""
    text = str(ref).strip()
    if not text:
        return None
    if text.isdigit():
        team = session.get(Team, int(text))
        if team is not None:
            return team
    upper = text.upper()
    return session.scalar(
        select(Team).where(
            (Team.team_no == upper)
            | (Team.invite_code == upper)
            | (Team.name_key == team_names.name_key(text))
        )
    )


def by_invite_code(session: Session, code: str) -> Team | None:
    return session.scalar(select(Team).where(Team.invite_code == code.strip().upper()))


def by_scene(session: Session, scene: str | None) -> Team | None:
    """The team of a scene QR code («team:<team_no>»), if the scene is one of ours."""
    if not scene or not scene.startswith(SCENE_PREFIX):
        return None
    return session.scalar(select(Team).where(Team.team_no == scene[len(SCENE_PREFIX) :]))


def scene_for(team: Team) -> str:
    return f"{SCENE_PREFIX}{team.team_no}"


def name_taken(session: Session, name: str) -> bool:
    key = team_names.name_key(name)
    return session.scalar(select(Team.id).where(Team.name_key == key)) is not None


def check_name_free(session: Session, name: str, *, except_team: int | None = None) -> None:
    key = team_names.name_key(name)
    found = session.scalar(select(Team.id).where(Team.name_key == key))
    if found is not None and found != except_team:
        raise NameTaken(name)


def root(session: Session) -> Team | None:
    return session.scalar(select(Team).where(Team.level == LEVEL_CORPS).order_by(Team.id))


def search(
    session: Session, text: str, *, level: str, kind: str | None = None, limit: int = 8
) -> list[Team]:
    """Approved teams of `level` whose name contains `text` (compared like names are)."""
    key = team_names.name_key(text)
    if not key:
        return []
    query = select(Team).where(
        Team.status == STATUS_APPROVED,
        Team.level == level,
        Team.name_key.contains(key, autoescape=True),
    )
    if kind is not None:
        query = query.where(Team.kind == kind)
    return list(session.scalars(query.order_by(Team.name).limit(limit)))


def approved_region_team(session: Session, prefecture_code: str) -> Team | None:
    """The approved 市（州）科技志愿服务队 of a prefecture, if registered."""
    return session.scalar(
        select(Team).where(
            Team.kind == team_names.PREFECTURE,
            Team.prefecture_code == prefecture_code,
            Team.status == STATUS_APPROVED,
        )
    )


def children(session: Session, team_id: int) -> list[Team]:
    return list(session.scalars(select(Team).where(Team.parent_id == team_id).order_by(Team.id)))


def hierarchy(session: Session) -> list[tuple[Team, int]]:
    """Every team in tree order (parents before their children) with its depth (root 0)."""
    teams = list(session.scalars(select(Team).order_by(Team.id)))
    by_parent: dict[int | None, list[Team]] = {}
    known = {team.id for team in teams}
    for team in teams:
        parent = team.parent_id if team.parent_id in known else None
        by_parent.setdefault(parent, []).append(team)
    order = {level: i for i, level in enumerate(team_names.LEVELS)}
    result: list[tuple[Team, int]] = []

    def visit(parent: int | None, depth: int) -> None:
        for team in sorted(by_parent.get(parent, []), key=lambda t: (order.get(t.level, 9), t.id)):
            result.append((team, depth))
            visit(team.id, depth + 1)

    visit(None, 0)
    return result


def parent_of(session: Session, team: Team) -> Team | None:
    return session.get(Team, team.parent_id) if team.parent_id else None


# -- registration and approval ------------------------------------------------------------


@dataclass(frozen=True)
class TeamForm:
    """What the registration flow collected; `name` is the composed full name. Every field
    after `parent_id` is a column of the team named like the flow's step that asks for it
    (tests/test_team_form.py checks steps, fields and columns agree)."""

    kind: str
    name: str
    parent_id: int | None = None
    prefecture_code: str | None = None
    county_code: str | None = None
    host_org: str | None = None
    captain_name: str | None = None
    captain_phone: str | None = None
    contact_phone: str | None = None
    description: str | None = None
    service_areas: Sequence[str] = ()


FORM_IDENTITY_FIELDS = ("kind", "name", "parent_id")
DETAIL_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclass_fields(TeamForm) if f.name not in FORM_IDENTITY_FIELDS
)


def _details(form: TeamForm) -> dict[str, Any]:
    values = {field: getattr(form, field) for field in DETAIL_FIELDS}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _random_team_no() -> str:
    # Public and random: KT + 8 digits.
    return "KT" + "".join(secrets.choice("0123456789") for _ in range(8))


def _random_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def _insert(session: Session, team: Team) -> Team:
    """Flush a new team; a taken name raises NameTaken, a clash of the random team number or
    invite code draws new ones."""
    for _attempt in range(5):
        session.add(team)
        try:
            with session.begin_nested():
                session.flush()
            return team
        except IntegrityError as exc:
            if team in session:
                session.expunge(team)
            message = str(exc.orig)
            if "team_no" in message or "invite_code" in message:
                team.team_no = _random_team_no()
                team.invite_code = _random_invite_code()
                continue
            if "name" in message:
                raise NameTaken(team.name) from None
            raise
    raise RuntimeError("could not draw a free team number and invite code")


def _parent_for(session: Session, form: TeamForm) -> Team | None:
    kind = team_names.kind(form.kind)
    if kind.needs_parent:
        parent = session.get(Team, form.parent_id) if form.parent_id else None
        wanted = LEVEL_TEAM if form.kind == team_names.COMMITTEE else LEVEL_BRANCH
        if parent is None or parent.status != STATUS_APPROVED or parent.level != wanted:
            raise ParentNotFound(f"所选的上级{wanted}不存在或未通过审核，请重新选择上级队伍。")
        return parent
    if form.kind == team_names.COUNTY and form.prefecture_code:
        region_team = approved_region_team(session, form.prefecture_code)
        if region_team is not None:
            return region_team
    return root(session)


def register(session: Session, *, openid: str, form: TeamForm) -> Team:
    """A new team waiting for approval, with `openid` as its first admin. Flushes, no commit.

    Raises NameTaken (also when another registration of the name wins a race) or ParentNotFound.
    """
    kind = team_names.kind(form.kind)
    check_name_free(session, form.name)
    parent = _parent_for(session, form)
    team = Team(
        team_no=_random_team_no(),
        name=form.name,
        name_key=team_names.name_key(form.name),
        kind=kind.key,
        level=kind.level,
        parent_id=parent.id if parent else None,
        **_details(form),
        invite_code=_random_invite_code(),
        status=STATUS_PENDING,
        needs_guidance=form.kind == team_names.OTHER,
        auto_approve=False,
        registrant_openid=openid,
    )
    _insert(session, team)
    volunteer = session.scalar(
        select(Volunteer).where(Volunteer.openid == openid, Volunteer.status == ACTIVE)
    )
    session.add(
        TeamAdmin(team_id=team.id, openid=openid, volunteer_id=volunteer.id if volunteer else None)
    )
    if volunteer is not None:
        _make_member(session, team.id, volunteer.id)
    session.flush()
    return team


def _make_member(session: Session, team_id: int, volunteer_id: int) -> None:
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


def seed_root(session: Session) -> Team:
    """甘肃省科技志愿服务总队, approved; created once, found afterwards."""
    existing = root(session) or session.scalar(
        select(Team).where(Team.name_key == team_names.name_key(team_names.ROOT_NAME))
    )
    if existing is not None:
        return existing
    now = utcnow()
    team = Team(
        team_no=_random_team_no(),
        name=team_names.ROOT_NAME,
        name_key=team_names.name_key(team_names.ROOT_NAME),
        kind=team_names.ROOT,
        level=LEVEL_CORPS,
        host_org=ROOT_HOST_ORG,
        description="甘肃省科协成立的科技志愿服务总队。",
        service_areas=[],
        invite_code=_random_invite_code(),
        status=STATUS_APPROVED,
        approved_at=now,
    )
    try:
        return _insert(session, team)
    except NameTaken:  # seeded at the same moment by another process
        found = root(session)
        if found is None:
            raise
        return found


def pending(session: Session) -> list[Team]:
    """Teams waiting for an operator, oldest first."""
    return list(
        session.scalars(
            select(Team).where(Team.status == STATUS_PENDING).order_by(Team.created_at, Team.id)
        )
    )


def approve(session: Session, team_id: int) -> Team:
    team = get(session, team_id)
    if team.status == STATUS_APPROVED:
        raise InvalidDecision(f"「{team.name}」已经通过审核。")
    if team.status not in (STATUS_PENDING, STATUS_REJECTED):
        raise InvalidDecision(f"「{team.name}」当前状态为{team.status_label}，不能审核通过。")
    parent = parent_of(session, team)
    if parent is not None and parent.status != STATUS_APPROVED:
        raise InvalidDecision(f"上级队伍「{parent.name}」尚未通过审核，请先审核上级队伍。")
    if parent is None and team.level != LEVEL_CORPS:
        top = root(session)
        team.parent_id = top.id if top else None
    team.status = STATUS_APPROVED
    team.reject_reason = None
    team.approved_at = utcnow()
    team.updated_at = utcnow()
    session.flush()
    return team


def reject(session: Session, team_id: int, reason: str) -> Team:
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidDecision("驳回需要填写原因，以便申请单位修改后重新提交。")
    team = get(session, team_id)
    if team.status != STATUS_PENDING:
        raise InvalidDecision(
            f"「{team.name}」当前状态为{team.status_label}，只能驳回待审核的队伍。"
        )
    team.status = STATUS_REJECTED
    team.reject_reason = reason[:200]
    team.updated_at = utcnow()
    session.flush()
    return team


def disable(session: Session, team_id: int) -> Team:
    team = get(session, team_id)
    team.status = STATUS_DISABLED
    team.updated_at = utcnow()
    session.flush()
    return team


def rename(session: Session, team_id: int, new_name: str) -> Team:
    """A new name under the same rules; the team goes back to 待审核 for it."""
    team = get(session, team_id)
    if team.level == LEVEL_CORPS:
        raise InvalidDecision("总队名称不能修改。")
    if team_names.name_key(new_name) == team.name_key:
        raise InvalidDecision("新名称与现在的名称相同。")
    check_name_free(session, new_name, except_team=team.id)
    team.name = new_name
    team.name_key = team_names.name_key(new_name)
    team.status = STATUS_PENDING
    team.approved_at = None
    team.reject_reason = None
    team.updated_at = utcnow()
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise NameTaken(new_name) from None
    return team


def set_auto_approve(session: Session, team_id: int, on: bool) -> Team:
    team = get(session, team_id)
    team.auto_approve = on
    team.updated_at = utcnow()
    return team


# -- notifying the registrant -------------------------------------------------------------


def decision_text(team: Team) -> str:
    if team.status == STATUS_APPROVED:
        return (
            f"您注册的「{team.name}」已通过审核！\n"
            f"队伍编号：{team.team_no}\n邀请码：{team.invite_code}\n\n"
            f"志愿者回复「加入 {team.invite_code}」即可申请入队。"
            "点击「组织 → 我的队伍」查看队伍、审核入队申请。"
        )
    return (
        f"很抱歉，您注册的「{team.name}」未通过审核。\n原因：{team.reject_reason or '未说明'}\n\n"
        "请按意见修改后，点击「组织 → 注册」重新提交。"
    )


def deliver_decision(api: WeChatAPI, team: Team, *, template_id: str | None = None) -> str:
    """Tell the registrant about the decision: a customer-service message, else (outside the
    48-hour window, say) a template message when `template_id` is configured.

    Returns how it went: "text", "template", "no-registrant" or "failed". Never raises for
    WeChat errors: the decision is already saved.
    """
    openid = team.registrant_openid
    if not openid:
        return "no-registrant"
    try:
        api.send_text(openid, decision_text(team))
        return "text"
    except WeChatAPIError as error:
        log.info(
            "team decision: customer-service message failed team=%s errcode=%s",
            team.team_no,
            error.errcode,
        )
    if not template_id:
        log.warning(
            "team decision not delivered team=%s: no template fallback configured "
            "(TEAM_NOTICE_TEMPLATE_ID)",
            team.team_no,
        )
        return "failed"
    approved = team.status == STATUS_APPROVED
    data = {
        "thing1": clip(team.name, 20),
        "phrase2": "审核通过" if approved else "未通过",
        "time3": clock.show((team.approved_at if approved else team.updated_at) or utcnow()),
        "thing4": clip(
            "点击我的队伍查看" if approved else (team.reject_reason or "请修改后重新提交"), 20
        ),
    }
    try:
        api.send_template(openid, template_id, data, client_msg_id=f"team-{team.id}-{team.status}")
        return "template"
    except WeChatAPIError as error:
        log.warning(
            "team decision not delivered team=%s: template failed errcode=%s",
            team.team_no,
            error.errcode,
        )
        return "failed"


def notify_decision(api: WeChatAPI, team: Team, *, template_id: str | None = None) -> None:
    deliver_decision(api, team, template_id=template_id)


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
    if len(current) >= MAX_ADMINS_PER_TEAM:
        raise AdminError(f"每支队伍最多设{MAX_ADMINS_PER_TEAM}名管理员，请先移除一名再添加。")
    admin = TeamAdmin(team_id=team.id, openid=volunteer.openid, volunteer_id=volunteer.id)
    session.add(admin)
    try:
        with session.begin_nested():
            _make_member(session, team.id, volunteer.id)
            session.flush()
    except IntegrityError:
        raise AdminError(
            f"{volunteer.name}（{volunteer.volunteer_no}）已经是本队管理员。"
        ) from None
    return admin


def remove_admin(session: Session, team_id: int, openid: str) -> None:
    current = admins(session, team_id)
    target = next((a for a in current if a.openid == openid), None)
    if target is None:
        raise AdminError("该志愿者不是本队管理员。")
    if len(current) <= 1:
        raise AdminError("每支队伍至少需要一名管理员，不能移除最后一名管理员。")
    session.delete(target)
    session.flush()


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


def join_requests(session: Session, team_id: int) -> list[Member]:
    """Pending join requests, oldest first: the numbers admins approve by."""
    rows = session.execute(
        select(Membership, Volunteer)
        .join(Volunteer, Volunteer.id == Membership.volunteer_id)
        .where(Membership.team_id == team_id, Membership.status == MEMBERSHIP_PENDING)
        .order_by(Membership.created_at, Membership.id)
    ).all()
    return [_member(m, v) for m, v in rows]


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
