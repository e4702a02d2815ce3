"""认领: a team admin takes a published need on for their team, in chat or in the team console.

The claim is one function for both (`claim_need`): it makes an activity of the team, in the
need's region, linked to the need, and marks the need 已认领 with the team. Only one team can
claim a need: the need's row is read with its lock first, and the change from 已发布 to 已认领
is a conditional UPDATE, so of two admins claiming at once one wins and the other is told which
team took it. Every claim is audited with the admin's volunteer number and the team.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from domain import clock
from domain.text import clip
from models.activity import RECRUITING, Activity
from models.need import CLAIMED, DONE, PUBLISHED, Need
from models.team import STATUS_APPROVED, Team
from services import activities, needs
from services.needs import NeedError
from services.team_console import TeamAdminUser, actor_for, record
from services.team_console_activities import team_scope

__all__ = [
    "Claimed",
    "activity_defaults",
    "claim_need",
    "claimable",
    "console_values",
    "refusal",
    "taken_text",
]

# The activity type a need's service field suggests (the admin may change it).
TYPE_OF_FIELD: dict[str, str] = {
    "科学普及": "科学普及",
    "农业技术": "农技服务",
    "医疗卫生": "医疗卫生",
    "信息技术": "科技咨询",
    "工程技术": "科技咨询",
    "应急安全": "应急科普",
}
DAY_STARTS = time(9, 0)
DAY_ENDS = time(17, 0)
# A 长期 need has no dates: the console's draft starts this many days ahead.
LONG_TERM_LEAD_DAYS = 7


@dataclass(frozen=True)
class Claimed:
    """What the admin and the poster are told after a claim."""

    need_no: str
    need_id: int
    activity_id: int
    title: str
    team_name: str
    poster_openid: str
    published: bool
    contact_name: str
    contact_phone: str
    ends_at: datetime


def taken_text(session: Session, need: Need) -> str:
    """Why a need cannot be claimed any more (already taken, or not published)."""
    if need.status in (CLAIMED, DONE):
        team = needs.claimed_team_name(session, need) or "其他队伍"
        return f"很抱歉，需求 {need.need_no} 已由「{team}」认领。回复「需求大厅」看看其他需求。"
    return f"需求 {need.need_no} {need.status_label}，不能认领。"


def refusal(session: Session, team: Team, need: Need) -> str | None:
    """Why `team` may not claim `need` now, or None when it may."""
    if team.status != STATUS_APPROVED:
        return "只有已审核通过的科技志愿服务队可以认领需求。"
    if need.status != PUBLISHED:
        return taken_text(session, need)
    if not team_scope(team).allows(need.prefecture_code, need.county_code):
        return (
            f"需求 {need.need_no} 在{needs.region_label(need)}，不在「{team.name}」的服务地区内，"
            "请由当地或省级的队伍认领。"
        )
    return None


def claimable(session: Session, team: Team, limit: int = 50) -> Sequence[Need]:
    """Published needs in the team's area: its service fields first, the longest waiting next."""
    areas = tuple(team.service_areas or ()) or ("",)
    scope = team_scope(team)
    return session.scalars(
        select(Need)
        .where(Need.status == PUBLISHED, scope.where(Need.prefecture_code, Need.county_code))
        .order_by(case((Need.field.in_(areas), 0), else_=1), Need.published_at, Need.id)
        .limit(limit)
    ).all()


def _dates(need: Need, today: date) -> tuple[date, date] | None:
    """The need's days still ahead (from tomorrow at the earliest), or None for 长期 or past."""
    if need.starts_on is None or need.ends_on is None or need.ends_on <= today:
        return None
    return max(need.starts_on, today + timedelta(days=1)), need.ends_on


def activity_defaults(need: Need, today: date | None = None) -> dict[str, Any]:
    """An activity's fields suggested by the need: title, type, field, people, description and,
    for a need with dates ahead, its times (Beijing, naive; absent for 长期)."""
    values: dict[str, Any] = {
        "title": clip(f"{need.requester_name}{need.field}志愿服务", 60),
        "type": TYPE_OF_FIELD.get(need.field, "科学普及" if need.field != "其他" else "其他"),
        "service_field": need.field,
        "capacity": need.people_needed,
        "description": (
            f"{need.description}\n\n本活动对接服务需求 {need.need_no}（需求方：{need.requester_name}）。"
        ),
    }
    days = _dates(need, today or clock.beijing_date())
    if days is not None:
        values["starts_at"] = datetime.combine(days[0], DAY_STARTS)
        values["ends_at"] = datetime.combine(days[1], DAY_ENDS)
    return values


def console_values(need: Need, team: Team, who: TeamAdminUser) -> dict[str, Any]:
    """Every field of the draft the team console makes at once (times in UTC); the admin
    checks and edits it on the activity's page before publishing."""
    values = activity_defaults(need)
    if "starts_at" not in values:
        first = clock.beijing_date() + timedelta(days=LONG_TERM_LEAD_DAYS)
        values["starts_at"] = datetime.combine(first, DAY_STARTS)
        values["ends_at"] = datetime.combine(first, DAY_ENDS)
    contact = who.name + (f" {team.contact_phone}" if team.contact_phone else "")
    return {
        **values,
        "starts_at": clock.from_beijing(values["starts_at"]),
        "ends_at": clock.from_beijing(values["ends_at"]),
        "place": clip(f"{need.requester_name}（{needs.region_label(need)}）", 100),
        "contact": clip(contact, 60),
    }


def _locked(session: Session, need_id: int) -> Need:
    """The need read with its row lock (the transaction's first statement: a current read)."""
    need = session.scalar(
        select(Need)
        .where(Need.id == need_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if need is None:
        raise NeedError("没有找到这个需求。")
    return need


def _take(session: Session, need: Need, team: Team, now: datetime) -> bool:
    """已发布 → 已认领, only if still 已发布 (the guard where row locks are not kept: SQLite)."""
    result = session.execute(
        update(Need)
        .where(Need.id == need.id, Need.status == PUBLISHED)
        .values(status=CLAIMED, claimed_team_id=team.id, claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def claim_need(
    session: Session,
    need_id: int,
    team: Team,
    who: TeamAdminUser,
    values: Mapping[str, Any],
    *,
    publish: bool,
    ip: str | None = None,
) -> Claimed:
    """Claim the need for `team` and make its activity from `values` (the activity fields, times
    in UTC). `publish`: 招募中 at once (chat, where the admin has just confirmed every field),
    else a draft the admin publishes from its page (the team console). The need's row lock must
    be the transaction's first statement. NeedError or ValidationError (with a hint) otherwise;
    the caller's transaction is then rolled back."""
    need = _locked(session, need_id)
    why = refusal(session, team, need)
    if why is not None:
        raise NeedError(why)
    now = clock.utcnow()
    if publish:
        activities.check_times(
            values["starts_at"], values["ends_at"], values.get("signup_deadline"), now
        )
    checked = activities.ActivityInput.check(
        session,
        team_scope(team),
        {**values, "team_id": team.id, "region": need.county_code or need.prefecture_code},
    )
    if not _take(session, need, team, now):
        session.expire(need)
        raise NeedError(taken_text(session, need))
    actor = actor_for(who, team)
    activity: Activity = activities.create(session, checked, actor, ip)
    activity.created_by_openid = who.openid
    if publish:
        activities.set_status(session, activity, RECRUITING, actor, ip)
    session.refresh(need)
    need.activity_id = activity.id
    record(
        session,
        who,
        team,
        "need_claim",
        f"认领需求：{need.need_no} → 活动「{activity.title}」",
        target=need,
        ip=ip,
        detail={"activity_id": activity.id, "published": publish},
    )
    return Claimed(
        need_no=need.need_no,
        need_id=need.id,
        activity_id=activity.id,
        title=activity.title,
        team_name=team.name,
        poster_openid=need.poster_openid,
        published=publish,
        contact_name=need.contact_name,
        contact_phone=need.contact_phone,
        ends_at=activity.ends_at,
    )
