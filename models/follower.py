from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IntPk, OpenId, utcnow


class Follower(Base):
    """Everyone who has ever followed the account, one row per openid."""

    __tablename__ = "followers"
    # Covers the audience's "may receive notices" check (services.notices.audience).
    __table_args__ = (Index("ix_followers_receives", "openid", "subscribed", "refuses_notices"),)

    id: Mapped[IntPk]
    openid: Mapped[OpenId] = mapped_column(unique=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Set when a template send answers 43101: the user refused notices from the account.
    refuses_notices: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    subscribe_scene: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime)
