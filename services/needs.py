"""Needs (供需对接): posting, the operators' review (发布, 退回, 合并), and the public view.

Posting validates every field again (the chat flow validates as it asks; this is the last
word). Review is limited to the operators whose scope holds the need's region. The contact
phone leaves this module masked except through `contact_for_staff`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import clock, regions
from domain.choices import SKILLS
from domain.contact import mask_mobile, parse_mobile
from domain.errors import ValidationError
from models.need import (
    DONE,
    MERGED,
    NEED_NO_PREFIX,
    PENDING,
    PUBLIC_STATUSES,
    PUBLISHED,
    REJECTED,
    REQUESTER_KINDS,
    Need,
)
from models.team import Team
from services.operators import Scope

__all__ = [
    "PUBLIC_STATUSES",
    "NeedDraft",
    "NeedError",
    "PublicNeed",
    "claimed_team_name",
    "find_need",
    "is_stale",
    "merge_need",
    "needs_of_poster",
    "pending_needs",
    "post_need",
    "poster_line",
    "public_need",
    "public_path",
    "publish_need",
    "reject_need",
]

PEOPLE_MAX = 500
REASON_MAX = 200
STALE_DAYS = 14


class NeedError(Exception):
    """A review or claim that cannot be done; the message is for the person who tried."""


@dataclass(frozen=True)
class NeedDraft:
    """What the poster typed, already parsed by the chat flow."""

    requester_name: str
    requester_kind: str
    prefecture_code: str
    county_code: str | None
    field: str
    description: str
    starts_on: date | None
    ends_on: date | None
    people_needed: int
    contact_name: str
    contact_phone: str


@dataclass(frozen=True)
class PublicNeed:
    """A need as anyone may see it: the contact phone masked."""

    need_no: str
    requester: str
    region: str
    field: str
    description: str
    when: str
    people_needed: int
    contact: str
    status: str


def _check(draft: NeedDraft) -> None:
    if draft.requester_kind not in REQUESTER_KINDS:
        raise ValidationError("需求方类型请从列表中选择")
    if draft.field not in SKILLS:
        raise ValidationError("服务领域请从列表中选择")
    division = regions.get(draft.prefecture_code)
    if division is None or division.level != "prefecture":
        raise ValidationError("请选择甘肃省内的市州")
    if draft.county_code and not regions.contains(draft.prefecture_code, draft.county_code):
        raise ValidationError("县区不属于所选市州")
    if (draft.starts_on is None) != (draft.ends_on is None):
        raise ValidationError("请填写起止日期，或选择「长期」")
    if draft.starts_on and draft.ends_on and draft.ends_on < draft.starts_on:
        raise ValidationError("结束日期不能早于开始日期")
    if not 1 <= draft.people_needed <= PEOPLE_MAX:
        raise ValidationError(f"需要人数请填写 1 到 {PEOPLE_MAX} 之间的数字")
    if not draft.requester_name.strip() or not draft.description.strip():
        raise ValidationError("需求方名称和需求内容不能为空")
    parse_mobile(draft.contact_phone)


def next_need_no(session: Session) -> str:
    """XQ + the Beijing date + a 4-digit serial of the day (XQ202612010001)."""
    prefix = f"{NEED_NO_PREFIX}{clock.beijing_date().strftime('%Y%m%d')}"
    last = session.scalar(select(func.max(Need.need_no)).where(Need.need_no.like(f"{prefix}%")))
    serial = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{serial:04d}"


def post_need(session: Session, openid: str, draft: NeedDraft) -> Need:
    """Store a posted need as 待审核 and return it with its number; retried on a number clash."""
    _check(draft)
    for _attempt in range(5):
        need = Need(
            need_no=next_need_no(session),
            poster_openid=openid,
            requester_name=draft.requester_name.strip(),
            requester_kind=draft.requester_kind,
            prefecture_code=draft.prefecture_code,
            county_code=draft.county_code,
            field=draft.field,
            description=draft.description.strip(),
            starts_on=draft.starts_on,
            ends_on=draft.ends_on,
            people_needed=draft.people_needed,
            contact_name=draft.contact_name.strip(),
            contact_phone=parse_mobile(draft.contact_phone),
            status=PENDING,
        )
        try:
            with session.begin_nested():
                session.add(need)
            return need
        except IntegrityError:
            continue
    raise NeedError("提交的人较多，请稍后再试")


def find_need(session: Session, need_no: str) -> Need | None:
    return session.scalar(select(Need).where(Need.need_no == need_no.strip().upper()))


def needs_of_poster(session: Session, openid: str) -> Sequence[Need]:
    return session.scalars(
        select(Need).where(Need.poster_openid == openid).order_by(Need.id.desc())
    ).all()


def pending_needs(session: Session, scope: Scope) -> Sequence[Need]:
    """待审核 needs in an operator's scope, oldest first."""
    return session.scalars(
        select(Need)
        .where(Need.status == PENDING, scope.where(Need.prefecture_code, Need.county_code))
        .order_by(Need.id)
    ).all()


def _reviewable(need: Need, scope: Scope) -> None:
    if not scope.allows(need.prefecture_code, need.county_code):
        raise NeedError("该需求不在你的辖区内")
    if need.status != PENDING:
        raise NeedError(f"该需求{need.status_label}，不能再审核")


def publish_need(need: Need, scope: Scope, reviewer: str) -> None:
    _reviewable(need, scope)
    now = clock.utcnow()
    need.status = PUBLISHED
    need.reviewed_by = reviewer
    need.reviewed_at = now
    need.published_at = now


def reject_need(need: Need, scope: Scope, reviewer: str, reason: str) -> None:
    _reviewable(need, scope)
    reason = reason.strip()
    if not reason:
        raise NeedError("请填写退回原因")
    need.status = REJECTED
    need.reject_reason = reason[:REASON_MAX]
    need.reviewed_by = reviewer
    need.reviewed_at = clock.utcnow()


def merge_need(need: Need, into: Need, scope: Scope, reviewer: str) -> None:
    """Mark `need` a duplicate of `into` (a need already published or pending, not itself)."""
    _reviewable(need, scope)
    if into.id == need.id:
        raise NeedError("不能合并到自身")
    if into.status not in (PENDING, *PUBLIC_STATUSES):
        raise NeedError(f"需求 {into.need_no} {into.status_label}，不能作为合并目标")
    need.status = MERGED
    need.merged_into_id = into.id
    need.reviewed_by = reviewer
    need.reviewed_at = clock.utcnow()


def is_stale(need: Need, now: datetime | None = None) -> bool:
    """Published and still unclaimed STALE_DAYS after publication: flagged to the operators."""
    if need.status != PUBLISHED or need.published_at is None:
        return False
    return (now or clock.utcnow()) - need.published_at >= timedelta(days=STALE_DAYS)


def when_label(need: Need) -> str:
    if need.starts_on is None or need.ends_on is None:
        return "长期"
    return f"{need.starts_on:%Y-%m-%d} 至 {need.ends_on:%Y-%m-%d}"


def region_label(need: Need) -> str:
    code = need.county_code or need.prefecture_code
    try:
        return regions.label(code).removeprefix("甘肃省")
    except KeyError:
        return code


def claimed_team_name(session: Session, need: Need) -> str | None:
    if need.claimed_team_id is None:
        return None
    team = session.get(Team, need.claimed_team_id)
    return team.name if team else None


def public_path(need_no: str) -> str:
    return f"/n/{need_no}"


def poster_line(need: Need) -> str:
    """One line of 我的需求: number, who, field, where it stands."""
    line = f"{need.need_no}｜{need.requester_name}｜{need.field}｜{need.status_label}"
    if need.status == REJECTED and need.reject_reason:
        line += f"（原因：{need.reject_reason}）"
    elif need.status == DONE:
        rated = need.feedback_at is not None
        line += (
            f"（已评价 {need.satisfaction}分）"
            if rated
            else f"（回复「评价 {need.need_no}」评价服务）"
        )
    return line


def public_need(need: Need) -> PublicNeed:
    return PublicNeed(
        need_no=need.need_no,
        requester=f"{need.requester_name}（{need.requester_kind}）",
        region=region_label(need),
        field=need.field,
        description=need.description,
        when=when_label(need),
        people_needed=need.people_needed,
        contact=f"{need.contact_name[:1]}** {mask_mobile(need.contact_phone)}",
        status=need.status_label,
    )
