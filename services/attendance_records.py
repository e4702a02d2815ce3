"""Service records: the organiser confirms hours (all, one adjusted with a reason, absent);
volunteers read their totals, star level and records.

Writers take the activity's row lock as their transaction's first statement
(`attendance.lock`), so two organisers confirming at once wait for each other and the plain
reads here see each other's records.

谁组织谁记录，谁记录谁证明: only the organiser writes records; each one names its recorder and
when it was written, and copies the activity's name, date, place, content and organiser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from domain import clock
from domain.errors import ValidationError
from domain.hours import served_hours
from domain.stars import Standing, standing
from domain.text import clip
from models.activity import Activity
from models.service import (
    RECORD_ABSENT,
    RECORD_CONFIRMED,
    Attendance,
    ServiceRecord,
)
from models.volunteer import Volunteer
from services import activities

__all__ = [
    "EVALUATIONS",
    "ZERO",
    "Confirmation",
    "Summary",
    "adjust",
    "confirm_all",
    "confirmed_records",
    "mark_absent",
    "measured_hours",
    "record_for",
    "records_page",
    "summary",
]

ZERO = Decimal(0)
MAX_REASON = 200
# The organiser's evaluation (评价) of the service, one of these or none.
EVALUATIONS: tuple[str, ...] = ("优秀", "良好", "合格")


def measured_hours(attendance: Attendance, activity: Activity) -> Decimal | None:
    """Hours from check-in and check-out (None without a check-out)."""
    if attendance.checked_out_at is None:
        return None
    return served_hours(
        attendance.checked_in_at, attendance.checked_out_at, activity.starts_at, activity.ends_at
    )


def _content(activity: Activity) -> str:
    return clip(f"{activity.type}：{' '.join(activity.description.split())}", 200)


def record_for(session: Session, activity_id: int, volunteer_id: int) -> ServiceRecord | None:
    return session.scalar(
        select(ServiceRecord).where(
            ServiceRecord.activity_id == activity_id, ServiceRecord.volunteer_id == volunteer_id
        )
    )


def _write(
    session: Session,
    activity: Activity,
    volunteer_id: int,
    *,
    status: str,
    hours: Decimal,
    measured: Decimal | None,
    reason: str | None,
    recorder: str,
    evaluation: str | None = None,
) -> ServiceRecord:
    organiser = activities.team_name(session, activity)
    record = record_for(session, activity.id, volunteer_id)
    if record is None:
        record = ServiceRecord(activity_id=activity.id, volunteer_id=volunteer_id)
        session.add(record)
    record.status = status
    record.hours = hours
    record.measured_hours = measured
    record.adjustment_reason = reason
    record.activity_title = activity.title
    record.service_date = clock.beijing_date(activity.starts_at)
    record.place = activity.place
    record.content = _content(activity)
    record.organiser = organiser
    record.recorder = recorder[:60]
    record.recorded_at = clock.utcnow()
    if evaluation is not None:
        record.evaluation = evaluation
    session.flush()
    return record


@dataclass(frozen=True)
class Confirmation:
    confirmed: int
    total_hours: Decimal
    already: int
    missing_check_out: int


def confirm_all(
    session: Session, activity: Activity, recorder: str, evaluation: str | None = None
) -> Confirmation:
    """Confirm the measured hours of everyone who checked in and out. Records already written
    (confirmed, adjusted or absent) stay as they are; people without a check-out are left for
    the organiser to adjust one by one."""
    attendances = session.scalars(
        select(Attendance).where(Attendance.activity_id == activity.id).order_by(Attendance.id)
    ).all()
    recorded = set(
        session.scalars(
            select(ServiceRecord.volunteer_id).where(ServiceRecord.activity_id == activity.id)
        )
    )
    confirmed = already = missing = 0
    total = ZERO
    for attendance in attendances:
        if attendance.volunteer_id in recorded:
            already += 1
            continue
        hours = measured_hours(attendance, activity)
        if hours is None:
            missing += 1
            continue
        _write(
            session,
            activity,
            attendance.volunteer_id,
            status=RECORD_CONFIRMED,
            hours=hours,
            measured=hours,
            reason=None,
            recorder=recorder,
            evaluation=_evaluation(evaluation),
        )
        confirmed += 1
        total += hours
    return Confirmation(confirmed, total, already, missing)


def _evaluation(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in EVALUATIONS:
        raise ValidationError(f"评价请选择：{'、'.join(EVALUATIONS)}。")
    return value


def _reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise ValidationError("请写明调整的原因。")
    if len(reason) > MAX_REASON:
        raise ValidationError(f"原因请不超过 {MAX_REASON} 字。")
    return reason


def _attendance(session: Session, activity_id: int, volunteer_id: int) -> Attendance | None:
    return session.scalar(
        select(Attendance).where(
            Attendance.activity_id == activity_id, Attendance.volunteer_id == volunteer_id
        )
    )


def adjust(
    session: Session,
    activity: Activity,
    volunteer_id: int,
    hours: Decimal,
    reason: str,
    recorder: str,
) -> ServiceRecord:
    """Record `hours` for one volunteer, different from what was measured, with a reason."""
    attendance = _attendance(session, activity.id, volunteer_id)
    measured = measured_hours(attendance, activity) if attendance else None
    return _write(
        session,
        activity,
        volunteer_id,
        status=RECORD_CONFIRMED,
        hours=hours,
        measured=measured,
        reason=_reason(reason),
        recorder=recorder,
    )


def mark_absent(
    session: Session, activity: Activity, volunteer_id: int, recorder: str, reason: str = ""
) -> ServiceRecord:
    attendance = _attendance(session, activity.id, volunteer_id)
    return _write(
        session,
        activity,
        volunteer_id,
        status=RECORD_ABSENT,
        hours=ZERO,
        measured=measured_hours(attendance, activity) if attendance else None,
        reason=" ".join(reason.split())[:MAX_REASON] or None,
        recorder=recorder,
    )


# -- what volunteers see ---------------------------------------------------------------------


def _confirmed(volunteer_id: int) -> ColumnElement[bool]:
    return and_(
        ServiceRecord.volunteer_id == volunteer_id, ServiceRecord.status == RECORD_CONFIRMED
    )


def confirmed_records(
    session: Session,
    volunteer_id: int,
    *,
    period_from: date | None = None,
    period_to: date | None = None,
) -> Sequence[ServiceRecord]:
    query = select(ServiceRecord).where(_confirmed(volunteer_id))
    if period_from is not None:
        query = query.where(ServiceRecord.service_date >= period_from)
    if period_to is not None:
        query = query.where(ServiceRecord.service_date <= period_to)
    return session.scalars(query.order_by(ServiceRecord.service_date, ServiceRecord.id)).all()


@dataclass(frozen=True)
class Summary:
    total_hours: Decimal
    activity_count: int
    standing: Standing
    latest: Sequence[ServiceRecord]


def summary(session: Session, volunteer: Volunteer, latest: int = 3) -> Summary:
    total, count = session.execute(
        select(func.coalesce(func.sum(ServiceRecord.hours), 0), func.count()).where(
            _confirmed(volunteer.id)
        )
    ).one()
    total_hours = Decimal(total).quantize(Decimal("0.1"))
    recent = session.scalars(
        select(ServiceRecord)
        .where(_confirmed(volunteer.id))
        .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())
        .limit(latest)
    ).all()
    return Summary(total_hours, int(count), standing(total_hours), recent)


def records_page(
    session: Session, volunteer_id: int, page: int, size: int
) -> tuple[Sequence[ServiceRecord], int]:
    """One page (1-based) of all the volunteer's records, newest first, and the number of
    records."""
    count = session.scalar(
        select(func.count())
        .select_from(ServiceRecord)
        .where(ServiceRecord.volunteer_id == volunteer_id)
    )
    found = session.scalars(
        select(ServiceRecord)
        .where(ServiceRecord.volunteer_id == volunteer_id)
        .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return found, int(count or 0)
