"""Registering, approving, rejecting and renaming teams."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import team_names
from models.base import utcnow
from models.team import (
    LEVEL_BRANCH,
    LEVEL_CORPS,
    LEVEL_SQUAD,
    LEVEL_TEAM,
    STATUS_APPROVED,
    STATUS_DISABLED,
    STATUS_PENDING,
    STATUS_REJECTED,
    STATUS_WITHDRAWN,
    Team,
    TeamAdmin,
)
from models.volunteer import ACTIVE, Volunteer
from services.operators import Scope
from services.teams.approval_levels import check_decider
from services.teams.captains import new_code as new_captain_code
from services.teams.errors import InvalidDecision, NameTaken, ParentNotFound
from services.teams.lookups import approved_region_team, check_name_free, get, parent_of, root
from services.teams.members import end_memberships, is_admin, make_member

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed
INVITE_LENGTH = 6
ROOT_HOST_ORG = "甘肃省科学技术协会"


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
            if "team_no" in message or "invite_code" in message or "captain_code" in message:
                team.team_no = _random_team_no()
                team.invite_code = _random_invite_code()
                team.captain_code = team.captain_code and new_captain_code()
                continue
            if "name" in message:
                raise NameTaken(team.name) from None
            raise
    raise RuntimeError("could not draw a free team number and invite code")


def _parent_for(session: Session, form: TeamForm) -> Team | None:
    kind = team_names.kind(form.kind)
    if kind.needs_parent:
        parent = session.get(Team, form.parent_id) if form.parent_id else None
        wanted = LEVEL_BRANCH if form.kind == team_names.SQUAD else LEVEL_TEAM
        if parent is None or parent.status != STATUS_APPROVED or parent.level != wanted:
            raise ParentNotFound(f"所选的上级{wanted}不存在或未通过审核，请重新选择上级队伍。")
        return parent
    if form.kind == team_names.COUNTY and form.prefecture_code:
        region_team = approved_region_team(session, form.prefecture_code)
        if region_team is not None:
            return region_team
    return root(session)


def register(
    session: Session, *, openid: str, form: TeamForm, registrant_is_captain: bool | None = None
) -> Team:
    """A new team waiting for approval, with `openid` as its first admin. Flushes, no commit.
    The registrant is recorded as the 队长 when they say so (「我是队长」) or, when
    `registrant_is_captain` is None, when their real name and phone are the captain's; for
    another captain the team gets a captain_code the captain confirms with (captains.confirm).

    Raises NameTaken (also when another registration of the name wins a race) or ParentNotFound.
    """
    kind = team_names.kind(form.kind)
    check_name_free(session, form.name)
    parent = _parent_for(session, form)
    volunteer = session.scalar(
        select(Volunteer).where(Volunteer.openid == openid, Volunteer.status == ACTIVE)
    )
    is_captain = volunteer is not None and (
        registrant_is_captain
        if registrant_is_captain is not None
        else (volunteer.name, volunteer.phone) == (form.captain_name, form.captain_phone)
    )
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
        captain_volunteer_id=volunteer.id if volunteer is not None and is_captain else None,
        captain_code=None if is_captain or not form.captain_name else new_captain_code(),
    )
    _insert(session, team)
    session.add(
        TeamAdmin(team_id=team.id, openid=openid, volunteer_id=volunteer.id if volunteer else None)
    )
    if volunteer is not None:
        make_member(session, team.id, volunteer.id)
    session.flush()
    return team


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


def approve(session: Session, team_id: int, *, by: Scope | None = None) -> Team:
    """Approve a team. `by`: the deciding operator's scope, checked against 属地管理、逐级负责
    (None: decided by the team above, already checked by the caller)."""
    team = get(session, team_id)
    if by is not None:
        check_decider(team, by)
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
    if team.name_key is None:  # approved after a rejection: the name must still be free
        take_name(session, team, team.name)
        for admin in session.scalars(select(TeamAdmin).where(TeamAdmin.team_id == team.id)):
            if admin.volunteer_id is not None:
                make_member(session, team.id, admin.volunteer_id)
    team.status = STATUS_APPROVED
    team.reject_reason = None
    team.approved_at = utcnow()
    team.updated_at = utcnow()
    if team.kind == team_names.PREFECTURE:
        _gather_counties(session, team)
    session.flush()
    return team


def _gather_counties(session: Session, region_team: Team) -> list[Team]:
    """属地管理: county teams of the 市州 registered before its team move under it."""
    top = root(session)
    moved = list(
        session.scalars(
            select(Team).where(
                Team.kind == team_names.COUNTY,
                Team.prefecture_code == region_team.prefecture_code,
                Team.status.in_((STATUS_PENDING, STATUS_APPROVED)),
                (Team.parent_id.is_(None) | (Team.parent_id == (top.id if top else -1))),
            )
        )
    )
    for county in moved:
        county.parent_id = region_team.id
        county.updated_at = utcnow()
    return moved


def reject(session: Session, team_id: int, reason: str, *, by: Scope | None = None) -> Team:
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidDecision("驳回需要填写原因，以便申请单位修改后重新提交。")
    team = get(session, team_id)
    if by is not None:
        check_decider(team, by)
    if team.status != STATUS_PENDING:
        raise InvalidDecision(
            f"「{team.name}」当前状态为{team.status_label}，只能驳回待审核的队伍。"
        )
    team.status = STATUS_REJECTED
    team.reject_reason = reason[:200]
    team.updated_at = utcnow()
    team.name_key = (
        None  # the name is free again: for a corrected registration, or the rightful one
    )
    end_memberships(session, team.id)
    session.flush()
    return team


def pending_registrations(session: Session, openid: str) -> list[Team]:
    """The registrations this person submitted that still wait for a decision."""
    return list(
        session.scalars(
            select(Team)
            .where(Team.registrant_openid == openid, Team.status == STATUS_PENDING)
            .order_by(Team.created_at, Team.id)
        )
    )


def withdraw(session: Session, team_id: int, openid: str) -> Team:
    """The registrant withdraws a pending registration (撤回): the name is free again."""
    team = get(session, team_id)
    if team.registrant_openid != openid:
        raise InvalidDecision(f"只有注册人可以撤回「{team.name}」的注册申请。")
    if team.status != STATUS_PENDING:
        raise InvalidDecision(
            f"「{team.name}」当前状态为{team.status_label}，只能撤回待审核的注册申请。"
        )
    team.status = STATUS_WITHDRAWN
    team.updated_at = utcnow()
    team.name_key = None
    end_memberships(session, team.id)
    session.flush()
    return team


def take_name(session: Session, team: Team, name: str) -> None:
    check_name_free(session, name, except_team=team.id)
    team.name = name
    team.name_key = team_names.name_key(name)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise NameTaken(name) from None


def disable(session: Session, team_id: int) -> Team:
    team = get(session, team_id)
    team.status = STATUS_DISABLED
    team.updated_at = utcnow()
    session.flush()
    return team


def set_auto_approve(session: Session, team_id: int, on: bool) -> Team:
    team = get(session, team_id)
    team.auto_approve = on
    team.updated_at = utcnow()
    return team


def decide_sub_team(
    session: Session, team_id: int, openid: str, *, approve_it: bool, reason: str = ""
) -> Team:
    """属地管理、逐级负责: a 支队 or 分队 is decided by the admins of the team above it."""
    team = get(session, team_id)
    parent = parent_of(session, team)
    if team.level not in (LEVEL_BRANCH, LEVEL_SQUAD) or parent is None:
        raise InvalidDecision(f"「{team.name}」由科协工作人员审核。")
    if not is_admin(session, parent.id, openid):
        raise InvalidDecision(f"只有「{parent.name}」的管理员可以审核「{team.name}」。")
    return approve(session, team.id) if approve_it else reject(session, team.id, reason)
