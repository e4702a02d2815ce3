"""Activities (科技志愿服务活动) organised by a team and published by operators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Created, IntPk, Updated

ACTIVITY_TYPES: tuple[str, ...] = (
    "科学普及",
    "农技服务",
    "科技咨询",
    "科普讲座",
    "科技培训",
    "应急科普",
    "其他",
)
KEY_DATES: tuple[str, ...] = (
    "全国科普日",
    "全国科技工作者日",
    "国际志愿者日",
    "文化科技卫生「三下乡」",
    "科技活动周",
    "其他",
)

DRAFT = "draft"
PUBLISHED = "published"
FINISHED = "finished"
CANCELLED = "cancelled"
STATUS_LABELS: dict[str, str] = {
    DRAFT: "草稿",
    PUBLISHED: "已发布",
    FINISHED: "已结束",
    CANCELLED: "已取消",
}


class Activity(Base):
    """One activity. Times are Beijing wall-clock times (UTC+8), as the organisers announce
    them; `created_at`/`updated_at` are UTC like every other timestamp."""

    __tablename__ = "activities"

    id: Mapped[IntPk]
    title: Mapped[str] = mapped_column(String(60))
    type: Mapped[str] = mapped_column(String(16))
    key_date: Mapped[str | None] = mapped_column(String(20))
    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id"), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(12), index=True)
    county_code: Mapped[str | None] = mapped_column(String(12), index=True)
    place: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    capacity: Mapped[int | None] = mapped_column(Integer)
    signup_deadline: Mapped[datetime | None] = mapped_column(DateTime)
    description: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(12), default=DRAFT, index=True)
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"))
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)
