"""Check-in codes, attendance, service records (志愿服务记录) and their corrections.

谁组织谁记录，谁记录谁证明: the organiser confirms hours; a confirmed `ServiceRecord` is the
record. It copies the activity's name, date, place, content and organiser when it is written
(《志愿服务记录与证明出具办法（试行）》 lists these fields), so a later change to the activity
does not rewrite history.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Created, IntPk, Updated

__all__ = [
    "CORRECTION_ACCEPTED",
    "CORRECTION_DECLINED",
    "CORRECTION_PENDING",
    "CORRECTION_STATUS_LABELS",
    "METHOD_CODE",
    "METHOD_QR",
    "RECORD_ABSENT",
    "RECORD_CONFIRMED",
    "RECORD_STATUS_LABELS",
    "Attendance",
    "CheckinCode",
    "RecordCorrection",
    "ServiceRecord",
]

Hours = Numeric(7, 1)

METHOD_QR = "qr"
METHOD_CODE = "code"

RECORD_CONFIRMED = "confirmed"
RECORD_ABSENT = "absent"
RECORD_STATUS_LABELS: dict[str, str] = {RECORD_CONFIRMED: "已确认", RECORD_ABSENT: "缺勤"}

CORRECTION_PENDING = "pending"
CORRECTION_ACCEPTED = "accepted"
CORRECTION_DECLINED = "declined"
CORRECTION_STATUS_LABELS: dict[str, str] = {
    CORRECTION_PENDING: "待处理",
    CORRECTION_ACCEPTED: "已更正",
    CORRECTION_DECLINED: "未予更正",
}


class CheckinCode(Base):
    """An activity's check-in means: two temporary scene QR codes (签到, 签退) and a 6-digit code
    for people who cannot scan. The scenes carry a random token, so a made-up scene is refused;
    issuing new codes replaces the token, so old pictures stop working."""

    __tablename__ = "checkin_codes"

    activity_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("activities.id"), primary_key=True, autoincrement=False
    )
    token: Mapped[str] = mapped_column(String(24), unique=True)
    code: Mapped[str] = mapped_column(String(6), index=True)
    in_ticket: Mapped[str | None] = mapped_column(String(255))
    in_url: Mapped[str | None] = mapped_column(String(255))
    out_ticket: Mapped[str | None] = mapped_column(String(255))
    out_url: Mapped[str | None] = mapped_column(String(255))
    qr_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    walk_ins_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]


class Attendance(Base):
    """One volunteer at one activity: when they checked in and out."""

    __tablename__ = "attendances"
    __table_args__ = (UniqueConstraint("activity_id", "volunteer_id"),)

    id: Mapped[IntPk]
    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("activities.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteers.id"), index=True)
    walk_in: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_in_at: Mapped[datetime] = mapped_column(DateTime)
    check_in_method: Mapped[str] = mapped_column(String(8))
    checked_out_at: Mapped[datetime | None] = mapped_column(DateTime)
    check_out_method: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]


class ServiceRecord(Base):
    """A confirmed service record (or an absence), written by the organiser."""

    __tablename__ = "service_records"
    __table_args__ = (
        UniqueConstraint("activity_id", "volunteer_id"),
        # Hours by date, activity and volunteer for the reports (covering).
        Index(
            "ix_service_records_status_date",
            "status",
            "service_date",
            "activity_id",
            "volunteer_id",
            "hours",
        ),
        # A team's confirmed records (its activities') counted, summed and paged by date from
        # the index alone (the team 统计's hours list; migration 0025_teamjoins).
        Index(
            "ix_service_records_activity_status", "activity_id", "status", "service_date", "hours"
        ),
    )

    id: Mapped[IntPk]
    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("activities.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteers.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=RECORD_CONFIRMED)
    hours: Mapped[Decimal] = mapped_column(Hours, default=Decimal(0))
    # What check-in and check-out gave; differs from `hours` when the organiser adjusted.
    measured_hours: Mapped[Decimal | None] = mapped_column(Hours)
    adjustment_reason: Mapped[str | None] = mapped_column(String(200))

    activity_title: Mapped[str] = mapped_column(String(60))
    service_date: Mapped[date] = mapped_column(Date, index=True)
    place: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(String(200))
    organiser: Mapped[str] = mapped_column(String(100))
    recorder: Mapped[str] = mapped_column(String(60))
    evaluation: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]

    @property
    def status_label(self) -> str:
        return RECORD_STATUS_LABELS.get(self.status, self.status)


class RecordCorrection(Base):
    """A volunteer's 申请更正 of one record and the organiser's answer; both are kept."""

    __tablename__ = "record_corrections"

    id: Mapped[IntPk]
    record_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_records.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteers.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12), default=CORRECTION_PENDING, index=True)
    hours_before: Mapped[Decimal] = mapped_column(Hours)
    hours_after: Mapped[Decimal | None] = mapped_column(Hours)
    decided_by: Mapped[str | None] = mapped_column(String(60))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def status_label(self) -> str:
        return CORRECTION_STATUS_LABELS.get(self.status, self.status)
