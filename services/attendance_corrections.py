"""申请更正: a volunteer asks, within 30 days of a record, for it to be corrected; the organiser
accepts (with the corrected hours) or declines, with a reason either way. Both are kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.errors import ValidationError
from domain.hours import format_hours
from models.service import (
    CORRECTION_ACCEPTED,
    CORRECTION_DECLINED,
    CORRECTION_PENDING,
    RECORD_CONFIRMED,
    RecordCorrection,
    ServiceRecord,
)
from models.volunteer import Volunteer

__all__ = [
    "CORRECTION_DAYS",
    "accept",
    "correctable",
    "decision_text",
    "decline",
    "pending_for_activity",
    "request",
]

CORRECTION_DAYS = 30
MAX_REASON = 200


class CorrectionRefused(ValidationError):
    """The request or decision cannot be taken; `hint` says why."""


def _reason(text: str, what: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise CorrectionRefused(f"请写明{what}。")
    if len(reason) > MAX_REASON:
        raise CorrectionRefused(f"{what}请不超过 {MAX_REASON} 字。")
    return reason


def correctable(
    session: Session, volunteer_id: int, record_id: int, now: datetime
) -> ServiceRecord:
    """The volunteer's own record, recorded at most 30 days ago, with no request pending."""
    record = session.get(ServiceRecord, record_id)
    if record is None or record.volunteer_id != volunteer_id:
        raise CorrectionRefused(
            f"没有找到编号为 {record_id} 的服务记录，回复「服务记录」查看编号。"
        )
    if now - record.recorded_at > timedelta(days=CORRECTION_DAYS):
        raise CorrectionRefused(
            f"该记录确认已超过 {CORRECTION_DAYS} 天，不能在线申请更正，请联系活动组织方。"
        )
    pending = session.scalar(
        select(RecordCorrection.id).where(
            RecordCorrection.record_id == record.id,
            RecordCorrection.status == CORRECTION_PENDING,
        )
    )
    if pending is not None:
        raise CorrectionRefused("该记录已有一条更正申请在处理中，请耐心等待组织方答复。")
    return record


def request(
    session: Session, volunteer_id: int, record_id: int, reason: str, now: datetime
) -> RecordCorrection:
    record = correctable(session, volunteer_id, record_id, now)
    correction = RecordCorrection(
        record_id=record.id,
        volunteer_id=volunteer_id,
        reason=_reason(reason, "更正的理由"),
        requested_at=now,
        status=CORRECTION_PENDING,
        hours_before=record.hours,
    )
    session.add(correction)
    session.flush()
    return correction


def _pending(session: Session, correction_id: int) -> RecordCorrection:
    correction = session.get(RecordCorrection, correction_id, with_for_update=True)
    if correction is None:
        raise CorrectionRefused(f"没有找到编号为 {correction_id} 的更正申请。")
    if correction.status != CORRECTION_PENDING:
        raise CorrectionRefused("该更正申请已处理。")
    return correction


def accept(
    session: Session,
    correction_id: int,
    hours: Decimal,
    reason: str,
    decided_by: str,
    now: datetime,
) -> RecordCorrection:
    """Correct the record to `hours` (it becomes a confirmed record) and keep the request."""
    correction = _pending(session, correction_id)
    record = session.get(ServiceRecord, correction.record_id)
    assert record is not None
    correction.decision_reason = _reason(reason, "处理意见")
    correction.status = CORRECTION_ACCEPTED
    correction.hours_after = hours
    correction.decided_by = decided_by[:60]
    correction.decided_at = now
    record.status = RECORD_CONFIRMED
    record.hours = hours
    record.adjustment_reason = f"更正：{correction.decision_reason}"[:200]
    record.recorder = decided_by[:60]
    record.recorded_at = now
    session.flush()
    return correction


def decline(
    session: Session, correction_id: int, reason: str, decided_by: str, now: datetime
) -> RecordCorrection:
    correction = _pending(session, correction_id)
    correction.decision_reason = _reason(reason, "不予更正的理由")
    correction.status = CORRECTION_DECLINED
    correction.decided_by = decided_by[:60]
    correction.decided_at = now
    session.flush()
    return correction


def pending_for_activity(session: Session, activity_id: int) -> Sequence[RecordCorrection]:
    return session.scalars(
        select(RecordCorrection)
        .join(ServiceRecord, ServiceRecord.id == RecordCorrection.record_id)
        .where(
            ServiceRecord.activity_id == activity_id,
            RecordCorrection.status == CORRECTION_PENDING,
        )
        .order_by(RecordCorrection.id)
    ).all()


def of_activity(session: Session, activity_id: int) -> Sequence[RecordCorrection]:
    return session.scalars(
        select(RecordCorrection)
        .join(ServiceRecord, ServiceRecord.id == RecordCorrection.record_id)
        .where(ServiceRecord.activity_id == activity_id)
        .order_by(RecordCorrection.id.desc())
    ).all()


def decision_text(session: Session, correction: RecordCorrection) -> tuple[str | None, str]:
    """(the volunteer's openid, what to tell them) about the organiser's answer."""
    record = session.get(ServiceRecord, correction.record_id)
    volunteer = session.get(Volunteer, correction.volunteer_id)
    title = record.activity_title if record else ""
    if correction.status == CORRECTION_ACCEPTED:
        outcome = f"已更正为 {format_hours(correction.hours_after or 0)} 小时"
    else:
        outcome = "组织方未予更正"
    text = (
        f"您对活动「{title}」服务记录的更正申请（编号 {correction.id}）已处理：{outcome}。\n"
        f"处理意见：{correction.decision_reason}\n回复「服务记录」查看。"
    )
    return (volunteer.openid if volunteer else None), text
