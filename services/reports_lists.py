"""The console's lists as filters and exportable rows: volunteers, teams, activities and a
notice's deliveries, always within the operator's scope.

Personal data is masked unless `full` is asked for (the console allows it to province
operators only, and audits it). Times are Beijing time (domain.clock).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Executable, exists, false, literal, or_, select
from sqlalchemy.orm import Session

from domain import clock, regions
from domain.contact import mask_mobile, parse_mobile
from domain.errors import ValidationError
from domain.idcard import parse_id_number
from domain.pii import PiiCipher
from domain.team_names import kind_label
from models.activity import CANCELLED as ACTIVITY_CANCELLED
from models.activity import DRAFT as ACTIVITY_DRAFT
from models.activity import STATUS_LABELS as ACTIVITY_STATUS_LABELS
from models.activity import Activity
from models.notice import DELIVERY_LABELS, RECIPIENT_STATUS_LABELS, Notice, NoticeRecipient
from models.service import RECORD_CONFIRMED, ServiceRecord
from models.team import MEMBERSHIP_JOINED, Membership, Team
from models.team import STATUS_LABELS as TEAM_STATUS_LABELS
from models.volunteer import ACTIVE, Volunteer
from services.notices import json_array_contains
from services.operators import Scope
from services.reports_export import Listing
from services.volunteers import ID_CONTEXT

BATCH = 1000
# The activities the dashboard counts: published ones, finished included (not drafts or cancelled).
HELD = "held"


def region_text(prefecture_code: str | None, county_code: str | None) -> str:
    code = county_code or prefecture_code
    if not code:
        return ""
    try:
        return regions.label(code).removeprefix("甘肃省")
    except KeyError:
        return code


def stream(session: Session, query: Executable) -> Iterator[Sequence[Any]]:
    """Rows in batches over a server-side cursor: memory holds one batch."""
    result = session.execute(query.execution_options(yield_per=BATCH))
    yield from result


# -- volunteers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VolunteerFilters:
    """The volunteer list's filters, as in the page's query string."""

    q: str = ""
    region: str = ""
    skill: str = ""
    education: str = ""
    occupation: str = ""
    team_id: str = ""
    since: str = ""  # registered on or after (YYYY-MM-DD, Beijing)
    until: str = ""  # registered on or before

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> VolunteerFilters:
        return cls(**{f.name: (args.get(f.name) or "").strip()[:40] for f in fields(cls)})

    def as_args(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


ID_NUMBER_LIKE = re.compile(r"[0-9０-９]{17}[0-9０-９xXｘＸ]")
PHONE_LIKE = re.compile(r"[+0-9\s\-]{11,18}")


def matching(q: str, pii: PiiCipher | None) -> ColumnElement[bool]:
    """Name (part of it), volunteer number, full mobile number, or full ID number. An ID number
    is looked up by its keyed hash (the blind index), never by decrypting rows."""
    if ID_NUMBER_LIKE.fullmatch(q):
        try:
            card = parse_id_number(q)
        except ValidationError:
            return false()
        if pii is None:
            return false()
        return Volunteer.id_number_hash == pii.blind_index(card.number, context=ID_CONTEXT)
    if PHONE_LIKE.fullmatch(q):
        try:
            return Volunteer.phone == parse_mobile(q)
        except ValidationError:
            pass
    return or_(Volunteer.name.contains(q, autoescape=True), Volunteer.volunteer_no == q.upper())


def volunteer_conditions(
    session: Session, scope: Scope, filters: VolunteerFilters, pii: PiiCipher | None = None
) -> list[ColumnElement[bool]]:
    """SQL conditions for the filters inside `scope`; ValidationError for a region outside it
    or a bad date. `pii` lets `q` find a full ID number (by its keyed hash)."""
    region = scope.narrow(filters.region or None)
    conditions: list[ColumnElement[bool]] = [
        Volunteer.status == ACTIVE,
        region.where(Volunteer.prefecture_code, Volunteer.county_code),
    ]
    if filters.q:
        conditions.append(matching(filters.q, pii))
    if filters.skill:
        conditions.append(json_array_contains(session, Volunteer.skills, filters.skill))
    if filters.education:
        conditions.append(Volunteer.education == filters.education)
    if filters.occupation:
        conditions.append(Volunteer.occupation == filters.occupation)
    if filters.team_id.isdigit():
        conditions.append(
            exists(
                select(literal(1)).where(
                    Membership.volunteer_id == Volunteer.id,
                    Membership.team_id == int(filters.team_id),
                    Membership.status == MEMBERSHIP_JOINED,
                )
            )
        )
    conditions.extend(date_conditions(Volunteer.created_at, filters.since, filters.until))
    return conditions


def date_conditions(column: Any, since: str, until: str) -> list[ColumnElement[bool]]:
    """`column` (UTC) within the Beijing days since..until (either may be empty)."""
    start, end = clock_range(since, until)
    found: list[ColumnElement[bool]] = []
    if start is not None:
        found.append(column >= start)
    if end is not None:
        found.append(column < end)
    return found


def clock_range(since: str, until: str) -> tuple[datetime | None, datetime | None]:
    """UTC bounds [start, end) of the Beijing days since..until."""

    def day(text: str) -> datetime | None:
        if not text:
            return None
        try:
            return datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            raise ValidationError("日期格式应为 2026-01-31。") from None

    start, end = day(since), day(until)
    return (
        clock.from_beijing(start) if start else None,
        clock.from_beijing(end + timedelta(days=1)) if end else None,
    )


VOLUNTEER_COLUMNS = (
    ("志愿者编号", 14),
    ("姓名", 10),
    ("性别", 6),
    ("身份证号", 22),
    ("手机号", 14),
    ("学历", 12),
    ("地区", 22),
    ("工作单位", 24),
    ("职业/身份", 14),
    ("专业领域", 24),
    ("可服务时间", 18),
    ("注册时间", 18),
)


def volunteer_listing(
    session: Session,
    conditions: Sequence[ColumnElement[bool]],
    *,
    full: bool = False,
    pii: PiiCipher | None = None,
) -> Listing:
    query = (
        select(
            Volunteer.volunteer_no,
            Volunteer.name,
            Volunteer.gender,
            Volunteer.id_number_cipher if full else Volunteer.id_number_masked,
            Volunteer.phone,
            Volunteer.education,
            Volunteer.prefecture_code,
            Volunteer.county_code,
            Volunteer.employer,
            Volunteer.occupation,
            Volunteer.skills,
            Volunteer.service_times,
            Volunteer.created_at,
        )
        .where(*conditions)
        .order_by(Volunteer.id.desc())
    )

    def shape(row: Sequence[Any]) -> Sequence[Any]:
        (no, name, gender, id_number, phone, education, pref, county, employer, occupation,
         skills, times, created) = row  # fmt: skip
        if full and id_number and pii is not None:
            id_number = pii.decrypt(id_number, context=ID_CONTEXT)
        return (
            no,
            name,
            gender,
            id_number,
            phone if full else (mask_mobile(phone) if phone else ""),
            education,
            region_text(pref, county),
            employer,
            occupation,
            skills or [],
            times or [],
            clock.show(created),
        )

    return Listing(
        "volunteers", "志愿者", VOLUNTEER_COLUMNS, (shape(r) for r in stream(session, query))
    )


# -- teams -----------------------------------------------------------------------------------


def team_listing(
    session: Session, scope: Scope, status: str = "", kind: str = "", level: str = ""
) -> Listing:
    query = select(
        Team.team_no,
        Team.name,
        Team.level,
        Team.kind,
        Team.prefecture_code,
        Team.county_code,
        Team.host_org,
        Team.captain_name,
        Team.status,
        Team.created_at,
        Team.approved_at,
    ).where(scope.where(Team.prefecture_code, Team.county_code))
    if status in TEAM_STATUS_LABELS:
        query = query.where(Team.status == status)
    if kind:
        query = query.where(Team.kind == kind)
    if level:
        query = query.where(Team.level == level)
    query = query.order_by(Team.id)

    def shape(row: Sequence[Any]) -> Sequence[Any]:
        no, name, level, kind, pref, county, host, captain, status_, created, approved = row
        return (
            no,
            name,
            level,
            kind_label(kind),
            region_text(pref, county),
            host,
            captain,
            TEAM_STATUS_LABELS.get(status_, status_),
            clock.show(created),
            clock.show(approved),
        )

    columns = (
        ("队伍编号", 14),
        ("名称", 36),
        ("层级", 8),
        ("类别", 16),
        ("地区", 20),
        ("依托单位", 24),
        ("队长", 10),
        ("状态", 8),
        ("申请时间", 18),
        ("通过时间", 18),
    )
    return Listing("teams", "服务队", columns, (shape(r) for r in stream(session, query)))


# -- activities ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityFilters:
    """The activity list's filters (the dashboard links here with region, dates and team)."""

    status: str = ""
    region: str = ""
    since: str = ""  # starts on or after (YYYY-MM-DD, Beijing)
    until: str = ""
    team_id: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ActivityFilters:
        return cls(**{f.name: (args.get(f.name) or "").strip()[:16] for f in fields(cls)})

    def as_args(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def activity_listing(
    session: Session, scope: Scope, filters: ActivityFilters | None = None
) -> Listing:
    """Activities in the scope (ValidationError for a region outside it or a bad date)."""
    filters = filters or ActivityFilters()
    region = scope.narrow(filters.region or None)
    status = filters.status
    query = (
        select(
            Activity.id,
            Activity.title,
            Activity.type,
            Activity.key_date,
            Activity.starts_at,
            Activity.ends_at,
            Activity.prefecture_code,
            Activity.county_code,
            Activity.place,
            Team.name,
            Activity.capacity,
            Activity.status,
        )
        .outerjoin(Team, Team.id == Activity.team_id)
        .where(
            region.where(Activity.prefecture_code, Activity.county_code),
            *date_conditions(Activity.starts_at, filters.since, filters.until),
        )
    )
    if filters.team_id.isdigit():
        query = query.where(Activity.team_id == int(filters.team_id))
    if status in ACTIVITY_STATUS_LABELS:
        query = query.where(Activity.status == status)
    elif status == HELD:
        query = query.where(Activity.status.not_in((ACTIVITY_DRAFT, ACTIVITY_CANCELLED)))
    query = query.order_by(Activity.starts_at.desc(), Activity.id.desc())

    def shape(row: Sequence[Any]) -> Sequence[Any]:
        id_, title, type_, key_date, starts, ends, pref, county, place, team, cap, st = row
        return (
            id_,
            title,
            type_,
            key_date,
            clock.show(starts),
            clock.show(ends),
            region_text(pref, county),
            place,
            team,
            cap if cap is not None else "不限",
            ACTIVITY_STATUS_LABELS.get(st, st),
        )

    columns = (
        ("编号", 8),
        ("活动名称", 30),
        ("类型", 10),
        ("重要节点", 14),
        ("开始时间", 18),
        ("结束时间", 18),
        ("地区", 20),
        ("地点", 24),
        ("组织服务队", 30),
        ("招募人数", 10),
        ("状态", 8),
    )
    return Listing("activities", "活动", columns, (shape(r) for r in stream(session, query)))


# -- a notice's deliveries -------------------------------------------------------------------


def mask_openid(openid: str) -> str:
    return openid[:4] + "****" + openid[-4:] if len(openid) > 8 else "****"


def recipient_listing(session: Session, notice: Notice, *, full: bool = False) -> Listing:
    query = (
        select(
            NoticeRecipient.openid,
            Volunteer.volunteer_no,
            Volunteer.name,
            NoticeRecipient.status,
            NoticeRecipient.errcode,
            NoticeRecipient.delivery,
            NoticeRecipient.sent_at,
            NoticeRecipient.delivered_at,
        )
        .outerjoin(Volunteer, Volunteer.id == NoticeRecipient.volunteer_id)
        .where(NoticeRecipient.notice_id == notice.id)
        .order_by(NoticeRecipient.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[Any]:
        openid, no, name, status, errcode, delivery, sent, delivered = row
        return (
            openid if full else mask_openid(openid),
            no,
            name,
            RECIPIENT_STATUS_LABELS.get(status, status),
            errcode if errcode is not None else "",
            DELIVERY_LABELS.get(delivery or "", delivery or ""),
            clock.show(sent),
            clock.show(delivered),
        )

    columns = (
        ("openid", 34),
        ("志愿者编号", 14),
        ("姓名", 10),
        ("状态", 10),
        ("错误码", 8),
        ("送达结果", 10),
        ("发送时间", 18),
        ("送达时间", 18),
    )
    return Listing(
        f"notice-{notice.id}",
        f"通知{notice.id}送达",
        columns,
        (shape(r) for r in stream(session, query)),
    )


# -- confirmed service hours -----------------------------------------------------------------


@dataclass(frozen=True)
class HoursFilters:
    region: str = ""  # the activity's region
    since: str = ""  # service date on or after (YYYY-MM-DD)
    until: str = ""
    team_id: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> HoursFilters:
        return cls(**{f.name: (args.get(f.name) or "").strip()[:16] for f in fields(cls)})

    def as_args(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def hours_listing(session: Session, scope: Scope, filters: HoursFilters) -> Listing:
    """Confirmed service records (the hours behind the dashboard's figures)."""
    region = scope.narrow(filters.region or None)
    query = (
        select(
            ServiceRecord.service_date,
            Volunteer.volunteer_no,
            Volunteer.name,
            ServiceRecord.activity_title,
            Team.name,
            Activity.prefecture_code,
            Activity.county_code,
            ServiceRecord.hours,
        )
        .join(Activity, Activity.id == ServiceRecord.activity_id)
        .join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
        .outerjoin(Team, Team.id == Activity.team_id)
        .where(
            ServiceRecord.status == RECORD_CONFIRMED,
            region.where(Activity.prefecture_code, Activity.county_code),
        )
        .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id)
    )
    if filters.since:
        query = query.where(ServiceRecord.service_date >= parse_day(filters.since))
    if filters.until:
        query = query.where(ServiceRecord.service_date <= parse_day(filters.until))
    if filters.team_id.isdigit():
        query = query.where(Activity.team_id == int(filters.team_id))

    def shape(row: Sequence[Any]) -> Sequence[Any]:
        day, no, name, title, team, pref, county, hours = row
        return (day.isoformat(), no, name, title, team, region_text(pref, county), float(hours))

    columns = (
        ("服务日期", 12),
        ("志愿者编号", 14),
        ("姓名", 10),
        ("活动", 30),
        ("服务队", 30),
        ("活动地区", 20),
        ("时长（小时）", 12),
    )
    return Listing("hours", "服务时长", columns, (shape(r) for r in stream(session, query)))


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError("日期格式应为 2026-01-31。") from None
