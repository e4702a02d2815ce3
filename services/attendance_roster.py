"""The organiser's roster of an activity: who signed up or walked in, their check-in and
check-out, the measured hours and the record written so far."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.hours import format_hours
from models.activity import SIGNED_UP, Activity, Signup
from models.service import RECORD_CONFIRMED, Attendance, ServiceRecord
from models.volunteer import Volunteer
from services.attendance_records import measured_hours

__all__ = ["Row", "roster"]


@dataclass(frozen=True)
class Row:
    number: int  # 1-based, for chat commands (「缺勤 活动 序号」)
    volunteer_id: int
    name: str
    volunteer_no: str
    signed_up: bool
    walk_in: bool
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    measured: Decimal | None
    record: ServiceRecord | None

    @property
    def state(self) -> str:
        if self.record is not None:
            if self.record.status == RECORD_CONFIRMED:
                return f"已确认 {format_hours(self.record.hours)} 小时"
            return self.record.status_label
        if self.checked_in_at is None:
            return "未签到"
        if self.checked_out_at is None:
            return "未签退"
        return f"待确认 {format_hours(self.measured or 0)} 小时"

    @property
    def needs_decision(self) -> bool:
        return self.record is None


def roster(session: Session, activity: Activity) -> Sequence[Row]:
    signed = set(
        session.scalars(
            select(Signup.volunteer_id).where(
                Signup.activity_id == activity.id, Signup.status == SIGNED_UP
            )
        )
    )
    attendances = {
        row.volunteer_id: row
        for row in session.scalars(select(Attendance).where(Attendance.activity_id == activity.id))
    }
    records = {
        row.volunteer_id: row
        for row in session.scalars(
            select(ServiceRecord).where(ServiceRecord.activity_id == activity.id)
        )
    }
    ids = signed | set(attendances) | set(records)
    people = {v.id: v for v in session.scalars(select(Volunteer).where(Volunteer.id.in_(ids)))}
    rows = []
    ordered = sorted(ids, key=lambda vid: (vid not in attendances, vid))
    for number, volunteer_id in enumerate(ordered, 1):
        volunteer = people.get(volunteer_id)
        seen = attendances.get(volunteer_id)
        rows.append(
            Row(
                number=number,
                volunteer_id=volunteer_id,
                name=(volunteer.name if volunteer else None) or "（已注销）",
                volunteer_no=volunteer.volunteer_no if volunteer else "",
                signed_up=volunteer_id in signed,
                walk_in=bool(seen and seen.walk_in),
                checked_in_at=seen.checked_in_at if seen else None,
                checked_out_at=seen.checked_out_at if seen else None,
                measured=measured_hours(seen, activity) if seen else None,
                record=records.get(volunteer_id),
            )
        )
    return rows
