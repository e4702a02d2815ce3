"""Template messages: the account's templates, notices sent with them, and one row per
recipient (the unit the workers claim, send and record)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Created, IntPk, Updated

# Notice status
DRAFT = "draft"
QUEUED = "queued"  # waiting for a worker to build the recipient rows
SENDING = "sending"
PAUSED = "paused"
STOPPED = "stopped"  # WeChat refused the template or its data (40037/47003): see stop_reason
# PAUSED also covers the day's quota running out (45009): stop_reason and resume_at say so.
CANCELLED = "cancelled"
FINISHED = "finished"
NOTICE_STATUS_LABELS: dict[str, str] = {
    DRAFT: "草稿",
    QUEUED: "排队中",
    SENDING: "发送中",
    PAUSED: "已暂停",
    STOPPED: "已停止",
    CANCELLED: "已取消",
    FINISHED: "已完成",
}

# Recipient status
R_QUEUED = "queued"
R_RETRY = "retry"  # waiting for next_attempt_at after -1/45009
R_SENDING = "sending"  # claimed by a worker (claimed_by, claimed_at)
R_SENT = "sent"
R_FAILED = "failed"
R_CANCELLED = "cancelled"
PENDING_STATUSES = (R_QUEUED, R_RETRY, R_SENDING)
RECIPIENT_STATUS_LABELS: dict[str, str] = {
    R_QUEUED: "待发送",
    R_RETRY: "等待重试",
    R_SENDING: "发送中",
    R_SENT: "已发送",
    R_FAILED: "失败",
    R_CANCELLED: "已取消",
}

# Delivery as reported by TEMPLATESENDJOBFINISH
DELIVERED = "delivered"
USER_BLOCK = "user_block"
SYSTEM_FAILED = "system_failed"
DELIVERY_LABELS: dict[str, str] = {
    DELIVERED: "已送达",
    USER_BLOCK: "用户拒收",
    SYSTEM_FAILED: "系统失败",
}


class NoticeTemplate(Base):
    """A template message registered on the account: its id and the keys of its data.

    `fields` is a list of {"key": "thing1", "label": "活动名称"}; the key's prefix (thing,
    time, phrase ...) names the value rule (services.notices.check_value).
    """

    __tablename__ = "notice_templates"

    id: Mapped[IntPk]
    template_id: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(60))
    fields: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Known to WeChat: synced from it, or a test send with it succeeded. Until then a notice
    # cannot be sent with it (a made-up ID would stop the run with 40037).
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]


class Notice(Base):
    """One send of a template to an audience. `prefecture_code`/`county_code` hold the scope
    of the operator who created it (both empty for province-wide), which limits both the
    audience and who may see the notice."""

    __tablename__ = "notices"

    id: Mapped[IntPk]
    template_id: Mapped[int] = mapped_column(BigId, ForeignKey("notice_templates.id"))
    activity_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("activities.id"))
    data: Mapped[dict[str, str]] = mapped_column(JSON)
    url: Mapped[str | None] = mapped_column(String(1024))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    audience_text: Mapped[str] = mapped_column(String(255))
    prefecture_code: Mapped[str | None] = mapped_column(String(12), index=True)
    county_code: Mapped[str | None] = mapped_column(String(12), index=True)
    status: Mapped[str] = mapped_column(String(12), default=DRAFT, index=True)
    stop_reason: Mapped[str | None] = mapped_column(String(255))
    # Paused because the day's template quota ran out (45009): resumed automatically then.
    resume_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"))
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]
    queued_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def status_label(self) -> str:
        return NOTICE_STATUS_LABELS.get(self.status, self.status)


class NoticeRecipient(Base):
    """One (notice, openid): unique, so no one is queued twice for the same notice."""

    __tablename__ = "notice_recipients"
    __table_args__ = (
        UniqueConstraint("notice_id", "openid"),
        # Claims scan (notice, status) in id order; progress counts by (notice, status).
        Index("ix_notice_recipients_notice_id_status", "notice_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notice_id: Mapped[int] = mapped_column(BigId, ForeignKey("notices.id", ondelete="CASCADE"))
    openid: Mapped[str] = mapped_column(String(64))
    volunteer_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(10), default=R_QUEUED)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    msgid: Mapped[int | None] = mapped_column(BigInteger, index=True)
    errcode: Mapped[int | None] = mapped_column(Integer)
    delivery: Mapped[str | None] = mapped_column(String(16))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
