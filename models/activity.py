"""Activities (科技志愿服务活动) and volunteers' sign-ups for them.

Every time here is UTC, naive, like every other timestamp (`domain.clock` shows them in Beijing
time and turns typed Beijing times into UTC).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Created, IntPk, Updated

ACTIVITY_TYPES: tuple[str, ...] = (
    "科学普及",
    "农技服务",
    "医疗卫生",
    "科技咨询",
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

# Activity status. RECRUITING and FULL are the two states of a published activity before it
# starts; ONGOING and FINISHED follow from the clock (see `Activity.status_at`), and may also be
# stored when an organiser ends an activity by hand.
DRAFT = "draft"
RECRUITING = "recruiting"
FULL = "full"
ONGOING = "ongoing"
FINISHED = "finished"
CANCELLED = "cancelled"
PUBLISHED = RECRUITING  # the earlier name of 招募中
STATUS_LABELS: dict[str, str] = {
    DRAFT: "草稿",
    RECRUITING: "招募中",
    FULL: "已满",
    ONGOING: "进行中",
    FINISHED: "已结束",
    CANCELLED: "已取消",
}
# Statuses in which volunteers see an activity (its public page, 近期活动, 活动 N).
LISTED_STATUSES: tuple[str, ...] = (RECRUITING, FULL, ONGOING, FINISHED)
# Statuses in which a sign-up may be taken (the deadline and the start are checked as well).
OPEN_STATUSES: tuple[str, ...] = (RECRUITING, FULL)

# Who organises: a team (team_id), or a 科协 of a region (organiser_region_code), for
# activities operators publish in the association's own name.
KEXIE_SUFFIX = "科协"


class Activity(Base):
    """One activity. `capacity` is the quota (None: no limit)."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_status_starts", "status", "starts_at"),
        # 表彰's projects (services.recognition): a year's held activities by team and title,
        # from the index alone (migration 0021_rollups).
        Index(
            "ix_activities_held",
            "starts_at",
            "status",
            "team_id",
            "title",
            "prefecture_code",
            "county_code",
        ),
    )

    id: Mapped[IntPk]
    title: Mapped[str] = mapped_column(String(60))
    type: Mapped[str] = mapped_column(String(16))
    key_date: Mapped[str | None] = mapped_column(String(20))
    service_field: Mapped[str | None] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id"), index=True)
    organiser_region_code: Mapped[str | None] = mapped_column(String(12))
    prefecture_code: Mapped[str | None] = mapped_column(String(12), index=True)
    county_code: Mapped[str | None] = mapped_column(String(12), index=True)
    place: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    starts_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    capacity: Mapped[int | None] = mapped_column(Integer)
    signup_deadline: Mapped[datetime | None] = mapped_column(DateTime)
    # Requirements (optional): any one of these skills; living in this 市州/县区.
    required_skills: Mapped[list[str] | None] = mapped_column(JSON)
    required_region_code: Mapped[str | None] = mapped_column(String(12))
    description: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(60))
    # A file name under the cover upload folder, or an https URL; None: the default cover.
    cover: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(12), default=DRAFT, index=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"))
    # A team admin who published in chat.
    created_by_openid: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    def status_at(self, now: datetime) -> str:
        """The status people see at `now` (UTC): a published activity is 进行中 between its
        start and end and 已结束 after it, whatever is stored."""
        if self.status in (RECRUITING, FULL, ONGOING):
            if now >= self.ends_at:
                return FINISHED
            if now >= self.starts_at:
                return ONGOING
        return self.status

    def status_label_at(self, now: datetime) -> str:
        status = self.status_at(now)
        return STATUS_LABELS.get(status, status)


# Sign-up status
SIGNED_UP = "signed_up"
WAITLISTED = "waitlisted"
SIGNUP_CANCELLED = "cancelled"
LIVE_SIGNUP_STATUSES: tuple[str, ...] = (SIGNED_UP, WAITLISTED)
SIGNUP_STATUS_LABELS: dict[str, str] = {
    SIGNED_UP: "已报名",
    WAITLISTED: "候补",
    SIGNUP_CANCELLED: "已取消",
}

# Why a sign-up was cancelled
BY_VOLUNTEER = "volunteer"
BY_ACTIVITY = "activity"  # the activity was cancelled
BY_ORGANISER = "organiser"


class Signup(Base):
    """A volunteer's sign-up for an activity: 已报名, 候补 (with a place on the waiting list) or
    已取消. Rows are never deleted, so a volunteer who cancels and signs up again has two rows;
    `live_volunteer_id` (the volunteer while the row is live, NULL once cancelled) is unique per
    activity, which keeps one live sign-up per volunteer and activity in the database itself.

    Sign-ups of one activity are written only while holding the activity's row lock
    (`SELECT ... FOR UPDATE`), so the quota count and the waiting-list order are exact.
    """

    __tablename__ = "signups"
    __table_args__ = (
        UniqueConstraint("activity_id", "live_volunteer_id"),
        UniqueConstraint("activity_id", "waitlist_position"),
        Index("ix_signups_activity_id_status", "activity_id", "status"),
    )

    id: Mapped[IntPk]
    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("activities.id"))
    volunteer_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteers.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=SIGNED_UP)
    live_volunteer_id: Mapped[int | None] = mapped_column(
        BigId,
        Computed(f"CASE WHEN status <> '{SIGNUP_CANCELLED}' THEN volunteer_id END", persisted=True),
    )
    # 1, 2, 3 ... in the order people joined the waiting list; NULL when not waiting.
    waitlist_position: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[Created]
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(12))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def status_label(self) -> str:
        return SIGNUP_STATUS_LABELS.get(self.status, self.status)

    @property
    def live(self) -> bool:
        return self.status in LIVE_SIGNUP_STATUSES
