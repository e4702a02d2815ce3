"""Activities and confirmed service hours as exportable lists, with the filters the dashboard
links to (region, Beijing dates, team), always within the operator's scope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import clock
from domain.contact import mask_mobile
from domain.errors import ValidationError
from models.activity import CANCELLED as ACTIVITY_CANCELLED
from models.activity import DRAFT as ACTIVITY_DRAFT
from models.activity import SIGNUP_STATUS_LABELS, Activity, Signup
from models.activity import STATUS_LABELS as ACTIVITY_STATUS_LABELS
from models.service import RECORD_CONFIRMED, RECORD_STATUS_LABELS, Attendance, ServiceRecord
from models.team import Team
from models.volunteer import Volunteer
from services.operators import Scope
from services.reports_export import Listing
from services.reports_lists import date_conditions, region_text, stream

# The activities the dashboard counts: published ones, finished included (not drafts or cancelled).
HELD = "held"


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


# -- an activity's roster --------------------------------------------------------------------


def roster_listing(session: Session, activity: Activity, *, full: bool = False) -> Listing:
    """Everyone who signed up (cancelled rows included), with attendance and hours."""
    query = (
        select(
            Volunteer.volunteer_no,
            Volunteer.name,
            Volunteer.phone,
            Signup.status,
            Signup.waitlist_position,
            Signup.created_at,
            Attendance.checked_in_at,
            Attendance.checked_out_at,
            ServiceRecord.status,
            ServiceRecord.hours,
        )
        .join(Volunteer, Volunteer.id == Signup.volunteer_id)
        .outerjoin(
            Attendance,
            (Attendance.activity_id == Signup.activity_id)
            & (Attendance.volunteer_id == Signup.volunteer_id),
        )
        .outerjoin(
            ServiceRecord,
            (ServiceRecord.activity_id == Signup.activity_id)
            & (ServiceRecord.volunteer_id == Signup.volunteer_id),
        )
        .where(Signup.activity_id == activity.id)
        .order_by(Signup.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[Any]:
        no, name, phone, status, position, signed, checked_in, checked_out, record, hours = row
        return (
            no,
            name,
            phone if full else (mask_mobile(phone) if phone else ""),
            SIGNUP_STATUS_LABELS.get(status, status),
            position if position is not None else "",
            clock.show(signed),
            clock.show(checked_in),
            clock.show(checked_out),
            RECORD_STATUS_LABELS.get(record or "", ""),
            float(hours) if hours is not None else "",
        )

    columns = (
        ("志愿者编号", 14),
        ("姓名", 10),
        ("手机号", 14),
        ("报名状态", 10),
        ("候补序号", 8),
        ("报名时间", 18),
        ("签到时间", 18),
        ("签退时间", 18),
        ("服务记录", 10),
        ("时长（小时）", 12),
    )
    return Listing(
        f"roster-{activity.id}",
        f"活动{activity.id}名单",
        columns,
        (shape(r) for r in stream(session, query)),
    )
