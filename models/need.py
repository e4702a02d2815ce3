"""Needs (供需对接): what a community, village, school or enterprise asks of the volunteers.

A need is posted in chat by anyone who follows the account, reviewed by the operators of its
region, published in the 需求大厅 and on its public page, and claimed by a team, whose claim
becomes an activity. Every time here is UTC, naive, like every other timestamp.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Created, IntPk, Updated

__all__ = [
    "CLAIMED",
    "DONE",
    "MERGED",
    "NEED_NO_PREFIX",
    "PENDING",
    "PUBLIC_STATUSES",
    "PUBLISHED",
    "REJECTED",
    "REQUESTER_KINDS",
    "STATUS_LABELS",
    "Need",
    "Pairing",
]

# The public number: XQ and digits (see services.needs.next_need_no).
NEED_NO_PREFIX = "XQ"

REQUESTER_KINDS: tuple[str, ...] = ("社区", "乡村", "学校", "企业", "科普场馆", "其他")

PENDING = "pending"
PUBLISHED = "published"
REJECTED = "rejected"
MERGED = "merged"
CLAIMED = "claimed"
DONE = "done"
STATUS_LABELS: dict[str, str] = {
    PENDING: "待审核",
    PUBLISHED: "已发布",
    REJECTED: "已退回",
    MERGED: "已合并",
    CLAIMED: "已认领",
    DONE: "已完成",
}
# Statuses in which a need is seen by the public (its page, the 需求大厅 lists PUBLISHED only).
PUBLIC_STATUSES: tuple[str, ...] = (PUBLISHED, CLAIMED, DONE)


class Need(Base):
    """One need. `starts_on`/`ends_on` both None means 长期 (no fixed dates).

    The contact phone is kept for the operators and the claiming team; every public view shows
    it masked (domain.contact.mask_mobile).
    """

    __tablename__ = "needs"
    __table_args__ = (Index("ix_needs_status_region", "status", "prefecture_code", "county_code"),)

    id: Mapped[IntPk]
    need_no: Mapped[str] = mapped_column(String(16), unique=True)
    poster_openid: Mapped[str] = mapped_column(String(64), index=True)
    requester_name: Mapped[str] = mapped_column(String(100))
    requester_kind: Mapped[str] = mapped_column(String(8))
    prefecture_code: Mapped[str] = mapped_column(String(12))
    county_code: Mapped[str | None] = mapped_column(String(12))
    field: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    people_needed: Mapped[int] = mapped_column(Integer)
    contact_name: Mapped[str] = mapped_column(String(40))
    contact_phone: Mapped[str] = mapped_column(String(20))

    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    merged_into_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("needs.id"))
    claimed_team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id"))
    activity_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("activities.id"))
    reviewed_by: Mapped[str | None] = mapped_column(String(64))

    satisfaction: Mapped[int | None] = mapped_column(Integer)
    feedback: Mapped[str | None] = mapped_column(Text)

    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When the region's operators were told it was unclaimed for 14 days (told once).
    stale_flagged_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def is_long_term(self) -> bool:
        return self.starts_on is None and self.ends_on is None


class Pairing(Base):
    """结对: a 学会 team paired with a 县区; that 县区's needs suggest the team first."""

    __tablename__ = "need_pairings"
    __table_args__ = (UniqueConstraint("team_id", "county_code"),)

    id: Mapped[IntPk]
    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id"))
    county_code: Mapped[str] = mapped_column(String(12), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[Created]
