"""Activities: created and published by operators, shown to volunteers in chat."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session

from domain import clock, regions
from domain.choices import SKILLS
from domain.clock import utcnow
from domain.errors import ValidationError
from models.activity import (
    ACTIVITY_TYPES,
    BY_ACTIVITY,
    CANCELLED,
    DRAFT,
    FINISHED,
    FULL,
    KEXIE_SUFFIX,
    KEY_DATES,
    LISTED_STATUSES,
    OPEN_STATUSES,
    RECRUITING,
    STATUS_LABELS,
    Activity,
)
from models.team import STATUS_APPROVED, Team
from services import signups, teams
from services.operators import Actor, Scope, audit

# Activity times are stored in UTC and shown in Beijing time (domain.clock).
DAY = "%Y年%-m月%-d日"
DAY_TIME = "%Y年%-m月%-d日 %H:%M"

# Which status may follow which (the console shows only these buttons).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    DRAFT: (RECRUITING, CANCELLED),
    RECRUITING: (FINISHED, CANCELLED),
    FULL: (FINISHED, CANCELLED),
    FINISHED: (),
    CANCELLED: (),
}
ACTION_LABELS: dict[str, str] = {
    RECRUITING: "发布",
    FINISHED: "标记结束",
    CANCELLED: "取消活动",
}


@dataclass(frozen=True)
class ActivityInput:
    """Checked values for an activity; build with `ActivityInput.check(...)`."""

    title: str
    type: str
    key_date: str | None
    # The organiser: a team, or (team_id None) the 科协 of organiser_region_code.
    team_id: int | None
    organiser_region_code: str | None
    prefecture_code: str | None
    county_code: str | None
    place: str
    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    signup_deadline: datetime | None
    description: str
    contact: str
    service_field: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    required_skills: list[str] | None = None
    required_region_code: str | None = None
    cover: str | None = None

    @classmethod
    def check(cls, session: Session, scope: Scope, values: Mapping[str, Any]) -> ActivityInput:
        """ValidationError with a Chinese hint for the first problem found."""
        title = _text(values.get("title"), "活动名称", 60)
        kind = values.get("type")
        if kind not in ACTIVITY_TYPES:
            raise ValidationError("请选择活动类型。")
        key_date = values.get("key_date") or None
        if key_date is not None and key_date not in KEY_DATES:
            raise ValidationError("请选择重要节点，或留空。")
        team_id, organiser_region = _organiser(session, scope, values.get("team_id"))
        region = scope.narrow(values.get("region") or None)
        starts_at, ends_at = values.get("starts_at"), values.get("ends_at")
        if not isinstance(starts_at, datetime) or not isinstance(ends_at, datetime):
            raise ValidationError("请填写开始和结束时间。")
        if ends_at <= starts_at:
            raise ValidationError("结束时间应晚于开始时间。")
        deadline = values.get("signup_deadline")
        if deadline is not None and deadline > starts_at:
            raise ValidationError("报名截止时间不能晚于活动开始时间。")
        capacity = values.get("capacity")
        if capacity is not None and not 1 <= int(capacity) <= 100000:
            raise ValidationError("招募人数应为1-100000，或留空表示不限。")
        return cls(
            title=title,
            type=kind,
            key_date=key_date,
            team_id=team_id,
            organiser_region_code=organiser_region,
            prefecture_code=region.prefecture_code,
            county_code=region.county_code,
            place=_text(values.get("place"), "活动地点", 100),
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=int(capacity) if capacity is not None else None,
            signup_deadline=deadline,
            description=_text(values.get("description"), "活动简介", 2000),
            contact=_text(values.get("contact"), "联系方式", 60),
            **_extras(values),
        )


ORGANISER_KEXIE = "kexie"  # the organiser field's value for the operator's own 科协


def _organiser(session: Session, scope: Scope, chosen: Any) -> tuple[int | None, str | None]:
    """(team id, None) for a team, (None, region code) for the operator's own 科协."""
    if chosen == ORGANISER_KEXIE:
        return None, scope.code or regions.PROVINCE_CODE
    team = session.get(Team, int(chosen)) if str(chosen or "").isdigit() else None
    if team is None or team.status != STATUS_APPROVED:
        raise ValidationError("请选择已审核通过的组织服务队，或以本级科协名义组织。")
    if not (is_province_level(team) or scope.allows(team.prefecture_code, team.county_code)):
        raise ValidationError("只能选择本辖区或省级的服务队。")
    return team.id, None


def _extras(values: Mapping[str, Any]) -> dict[str, Any]:
    """The optional fields: service field, map point, requirements, cover."""
    field = values.get("service_field") or None
    if field is not None and field not in SKILLS:
        raise ValidationError("请选择服务领域，或留空。")
    latitude, longitude = values.get("latitude"), values.get("longitude")
    if (latitude is None) != (longitude is None):
        raise ValidationError("地图位置请同时填写经度和纬度，或都留空。")
    skills = [s for s in values.get("required_skills") or [] if s]
    if any(s not in SKILLS for s in skills):
        raise ValidationError("未知的专业领域。")
    required_region = values.get("required_region") or None
    if required_region is not None and regions.get(required_region) is None:
        raise ValidationError("未知的地区。")
    cover = (values.get("cover") or "").strip() or None
    if cover is not None and not re.match(r"^https://\S+$", cover):
        raise ValidationError("封面图片地址应以 https:// 开头，或留空使用默认封面。")
    return {
        "service_field": field,
        "latitude": Decimal(str(latitude)) if latitude is not None else None,
        "longitude": Decimal(str(longitude)) if longitude is not None else None,
        "required_skills": skills or None,
        "required_region_code": required_region,
        "cover": cover,
    }


def _text(value: Any, label: str, limit: int) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValidationError(f"请填写{label}。")
    if len(text) > limit:
        raise ValidationError(f"{label}不超过{limit}字。")
    return text


def visible(scope: Scope) -> Select[Activity]:
    return select(Activity).where(scope.where(Activity.prefecture_code, Activity.county_code))


def get_visible(
    session: Session, scope: Scope, activity_id: int, *, lock: bool = False
) -> Activity | None:
    """The activity if this scope sees it; `lock` takes its row lock (as sign-ups do) and must
    then be the transaction's first statement (see services.signups)."""
    query = visible(scope).where(Activity.id == activity_id)
    return session.scalar(query.with_for_update() if lock else query)


def is_province_level(team: Team) -> bool:
    return team.prefecture_code in (None, regions.PROVINCE_CODE)


def teams_for(session: Session, scope: Scope) -> Sequence[Team]:
    """Approved teams an operator of this scope may name as organiser (theirs and the
    province-level ones)."""
    in_scope = scope.where(Team.prefecture_code, Team.county_code)
    province_level = Team.prefecture_code.is_(None) | (
        Team.prefecture_code == regions.PROVINCE_CODE
    )
    query = select(Team).where(Team.status == STATUS_APPROVED, in_scope | province_level)
    return session.scalars(query.order_by(Team.name)).all()


def create(session: Session, data: ActivityInput, actor: Actor, ip: str | None) -> Activity:
    """A draft; publishing is a separate step (set_status)."""
    activity = Activity(status=DRAFT, created_by=actor.id, **data.__dict__)
    session.add(activity)
    session.flush()
    audit(
        session, actor, "activity_create", summary=f"创建活动：{data.title}", target=activity, ip=ip
    )
    return activity


@dataclass(frozen=True)
class Outcome:
    """What a change means for the people signed up: a message for them (None: nothing to
    tell), the template's 变更内容, and sign-ups promoted from the waiting list."""

    message: str | None = None
    change: str = ""
    promoted: tuple[int, ...] = ()


def update(
    session: Session, activity: Activity, data: ActivityInput, actor: Actor, ip: str | None
) -> Outcome:
    """Save the changes. The activity must have been read with its lock as the transaction's
    first statement (get_visible(lock=True)), since a bigger quota moves the waiting list."""
    changed = {
        key: value for key, value in data.__dict__.items() if getattr(activity, key) != value
    }
    for key, value in changed.items():
        setattr(activity, key, value)
    activity.updated_at = utcnow()
    audit(
        session,
        actor,
        "activity_update",
        summary=f"修改活动：{activity.title}",
        target=activity,
        detail={"fields": sorted(changed)},
        ip=ip,
    )
    if activity.status not in OPEN_STATUSES:
        return Outcome()
    promoted = fill_free_places(session, activity)
    return Outcome(*change_message(activity, set(changed)), promoted=promoted)


def fill_free_places(session: Session, activity: Activity) -> tuple[int, ...]:
    """After the quota grew: the waiting list moves up into the new places."""
    promoted: list[int] = []
    now = utcnow()
    while (signup := signups.promote_first_waiting(session, activity, now)) is not None:
        promoted.append(signup.id)
    signups.update_fullness(activity, signups.signed_up_count(session, activity.id))
    return tuple(promoted)


def change_message(activity: Activity, changed: set[str]) -> tuple[str | None, str]:
    """The text for signed-up volunteers when the time or the place changed."""
    parts: list[str] = []
    if changed & {"starts_at", "ends_at"}:
        parts.append(f"时间改为{when_text(activity)}")
    if "place" in changed:
        parts.append(f"地点改为{activity.place}")
    if not parts:
        return None, ""
    text = (
        f"您报名的活动「{activity.title}」有变动：\n" + "\n".join(parts) + "\n\n"
        f"如不能参加，请回复「取消报名{activity.id}」。"
    )
    short = (
        ("时间改为" + clock.show(activity.starts_at, "%-m月%-d日 %H:%M"))
        if (changed & {"starts_at", "ends_at"})
        else f"地点改为{activity.place}"
    )
    return text, short


def set_status(
    session: Session,
    activity: Activity,
    status: str,
    actor: Actor,
    ip: str | None,
    *,
    reason: str | None = None,
) -> Outcome:
    """Publish, finish or cancel (with an optional reason, told to the people signed up). The
    activity must have been read with its lock first (get_visible(lock=True))."""
    if status not in TRANSITIONS.get(activity.status, ()):
        raise ValidationError(
            f"活动当前为「{activity.status_label}」，不能改为「{STATUS_LABELS.get(status, status)}」。"
        )
    before = activity.status
    now = utcnow()
    activity.status = status
    activity.updated_at = now
    outcome = Outcome()
    if status == RECRUITING:
        activity.published_at = now
    elif status == CANCELLED:
        activity.cancelled_at = now
        activity.cancel_reason = (reason or "").strip()[:200] or None
        outcome = cancel_signups(session, activity, now)
    audit(
        session,
        actor,
        "activity_status",
        summary=f"{ACTION_LABELS[status]}：{activity.title}",
        target=activity,
        detail={"from": before, "to": status},
        ip=ip,
    )
    return outcome


def cancel_signups(session: Session, activity: Activity, now: datetime) -> Outcome:
    live = signups.of_activity(session, activity.id)
    for signup in live:
        signups.mark_cancelled(signup, by=BY_ACTIVITY, now=now)
    if not live:
        return Outcome()
    reason = f"\n原因：{activity.cancel_reason}" if activity.cancel_reason else ""
    text = (
        f"很抱歉，您报名的活动「{activity.title}」（{when_text(activity)}）已取消。{reason}\n\n"
        "您的报名已随之取消。欢迎在「活动 → 近期活动」中报名其他活动。"
    )
    return Outcome(text, "活动已取消")


# -- chat ------------------------------------------------------------------------------------


def upcoming(
    session: Session,
    *,
    prefecture_code: str | None,
    county_code: str | None,
    skills: Sequence[str] = (),
    limit: int = 6,
    offset: int = 0,
    now: datetime | None = None,
) -> Sequence[Activity]:
    """Published activities not yet over: the user's county first, then their prefecture,
    then province-wide ones, then the rest; within each, those in the user's skills first,
    then soonest first."""
    now = now or utcnow()
    nearness = case(
        (Activity.county_code == (county_code or "-"), 0),
        (Activity.prefecture_code == (prefecture_code or "-"), 1),
        (Activity.prefecture_code.is_(None), 2),
        else_=3,
    )
    in_skills = case((Activity.service_field.in_(tuple(skills) or ("-",)), 0), else_=1)
    query = (
        select(Activity)
        .where(Activity.status.in_(OPEN_STATUSES), Activity.ends_at >= now)
        .order_by(nearness, in_skills, Activity.starts_at, Activity.id)
        .offset(offset)
        .limit(limit)
    )
    return session.scalars(query).all()


def public_path(activity_id: int) -> str:
    """The activity's public mobile page (served by the `public` blueprint)."""
    return f"/a/{activity_id}"


DEFAULT_COVER_PATH = "/a/static/cover.png"


def cover_path(activity: Activity) -> str:
    """The cover picture: an uploaded one (an absolute https URL) or the default."""
    if activity.cover and activity.cover.startswith(("https://", "http://")):
        return activity.cover
    return DEFAULT_COVER_PATH


def published(session: Session, activity_id: int) -> Activity | None:
    """An activity volunteers may see (not a draft; a cancelled one only says so)."""
    return session.scalar(
        select(Activity).where(
            Activity.id == activity_id, Activity.status.in_((*LISTED_STATUSES, CANCELLED))
        )
    )


def region_text(activity: Activity) -> str:
    code = activity.county_code or activity.prefecture_code
    return regions.label(code) if code else "全省"


def when_text(activity: Activity) -> str:
    start, end = activity.starts_at, activity.ends_at
    if clock.beijing_date(start) == clock.beijing_date(end):
        return f"{clock.show(start, DAY)} {clock.show(start, '%H:%M')}-{clock.show(end, '%H:%M')}"
    return f"{clock.show(start, DAY_TIME)} 至 {clock.show(end, DAY_TIME)}"


def detail_text(activity: Activity, team_name: str) -> str:
    lines = [
        f"【{activity.title}】",
        f"活动编号：{activity.id}",
        f"类型：{activity.type}" + (f"（{activity.key_date}）" if activity.key_date else ""),
        f"时间：{when_text(activity)}",
        f"地区：{region_text(activity)}",
        f"地点：{activity.place}",
        f"组织单位：{team_name}",
    ]
    if activity.capacity:
        lines.append(f"招募人数：{activity.capacity}人")
    if activity.signup_deadline:
        lines.append(f"报名截止：{clock.show(activity.signup_deadline, DAY_TIME)}")
    lines += [f"联系方式：{activity.contact}", "", activity.description]
    return "\n".join(lines)


def team_name(session: Session, activity: Activity) -> str:
    """The organiser's name: the team, or the 科协 of the organiser region."""
    if activity.team_id is None:
        return organiser_region_name(activity.organiser_region_code)
    return session.scalar(select(Team.name).where(Team.id == activity.team_id)) or ""


def organiser_region_name(code: str | None) -> str:
    """甘肃省科协, 兰州市科协, 兰州市城关区科协 ..."""
    if not code or code == regions.PROVINCE_CODE:
        return "甘肃省" + KEXIE_SUFFIX
    return regions.label(code).removeprefix("甘肃省") + KEXIE_SUFFIX


# -- team admins publish in chat -------------------------------------------------------------


def publishable_teams(session: Session, openid: str) -> list[Team]:
    """Approved teams this WeChat user administers (they may publish for them)."""
    return [t for t in teams.admin_teams(session, openid) if t.status == STATUS_APPROVED]


def check_times(
    starts_at: datetime, ends_at: datetime, deadline: datetime | None, now: datetime
) -> None:
    """UTC times of a new activity; ValidationError with a Chinese hint."""
    if starts_at <= now:
        raise ValidationError("开始时间应晚于现在。")
    if ends_at <= starts_at:
        raise ValidationError("结束时间应晚于开始时间。")
    if deadline is not None and (deadline > starts_at or deadline <= now):
        raise ValidationError("报名截止时间应在现在之后、活动开始之前。")


def publish_for_team(
    session: Session, team: Team, values: Mapping[str, Any], openid: str
) -> Activity:
    """A team admin's activity, published at once (招募中) in the team's region."""
    now = utcnow()
    check_times(values["starts_at"], values["ends_at"], values.get("signup_deadline"), now)
    activity = Activity(
        title=_text(values.get("title"), "活动名称", 60),
        type=values["type"],
        service_field=values.get("service_field"),
        team_id=team.id,
        prefecture_code=team.prefecture_code,
        county_code=team.county_code,
        place=_text(values.get("place"), "活动地点", 100),
        starts_at=values["starts_at"],
        ends_at=values["ends_at"],
        capacity=values.get("capacity"),
        signup_deadline=values.get("signup_deadline"),
        required_skills=values.get("required_skills") or None,
        description=_text(values.get("description"), "活动简介", 2000),
        contact=_text(values.get("contact"), "联系方式", 60),
        status=RECRUITING,
        created_by_openid=openid,
        published_at=now,
    )
    session.add(activity)
    session.flush()
    return activity
