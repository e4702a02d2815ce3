"""Console operators (科协 staff) and the audit log of every change they make."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Created, IntPk, Updated, utcnow

ROLE_PROVINCE = "province"
ROLE_REGION = "region"
ROLE_LABELS: dict[str, str] = {ROLE_PROVINCE: "省级", ROLE_REGION: "市州/县区"}


class Operator(Base):
    """A console account. A province operator sees everything; a region operator sees only the
    division in `region_code` (a 市州 or 县区 code) and what lies in it."""

    __tablename__ = "operators"

    id: Mapped[IntPk]
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str | None] = mapped_column(String(12))
    # The operator's own WeChat openid, for test sends of a notice before the real run.
    openid: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    """Who changed what, when. Written in the same transaction as the change itself."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor", "actor"),)

    id: Mapped[IntPk]
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    operator_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"), index=True)
    # The username at the time (or "cli:<os user>" for commands), kept if the account goes.
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))
