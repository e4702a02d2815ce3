from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.team_names import (
    LEVEL_BRANCH,
    LEVEL_CORPS,
    LEVEL_SQUAD,
    LEVEL_TEAM,
    LEVELS,
    kind_label,
)
from models.base import Base, BigId, Created, IntPk, Updated

__all__ = [
    "LEVELS",
    "LEVEL_BRANCH",
    "LEVEL_CORPS",
    "LEVEL_SQUAD",
    "LEVEL_TEAM",
    "MEMBERSHIP_JOINED",
    "MEMBERSHIP_LEFT",
    "MEMBERSHIP_PENDING",
    "MEMBERSHIP_REJECTED",
    "MEMBERSHIP_STATUS_LABELS",
    "STATUS_APPROVED",
    "STATUS_DISABLED",
    "STATUS_LABELS",
    "STATUS_PENDING",
    "STATUS_REJECTED",
    "STATUS_WITHDRAWN",
    "FormerName",
    "Membership",
    "Team",
    "TeamAdmin",
]

STATUS_PENDING = "pending"
STATUS_APPROVED = "approved"
STATUS_REJECTED = "rejected"
STATUS_DISABLED = "disabled"
STATUS_WITHDRAWN = "withdrawn"
STATUS_LABELS: dict[str, str] = {
    STATUS_PENDING: "待审核",
    STATUS_APPROVED: "已通过",
    STATUS_REJECTED: "已驳回",
    STATUS_DISABLED: "已停用",
    STATUS_WITHDRAWN: "已撤回",
}

MEMBERSHIP_PENDING = "pending"
MEMBERSHIP_JOINED = "joined"
MEMBERSHIP_LEFT = "left"
# A join request a team admin turned down (the volunteer may ask again).
MEMBERSHIP_REJECTED = "rejected"
MEMBERSHIP_STATUS_LABELS: dict[str, str] = {
    MEMBERSHIP_PENDING: "待审核",
    MEMBERSHIP_JOINED: "已加入",
    MEMBERSHIP_LEFT: "已退出",
    MEMBERSHIP_REJECTED: "未通过",
}


class Team(Base):
    """A 科技志愿服务队 in the hierarchy 总队—队—支队—分队.

    `name_key` is the name folded for comparison (domain.team_names.name_key); its unique
    constraint is what stops two registrations of one name, even at the same moment. A
    rejected registration keeps its name for the record but gives up the key.
    """

    __tablename__ = "teams"
    __table_args__ = (
        # 统计's teams by kind and level within a region and dates, from the index alone
        # (services.reports; migration 0021_rollups).
        Index(
            "ix_teams_report",
            "status",
            "kind",
            "level",
            "prefecture_code",
            "county_code",
            "created_at",
        ),
    )

    id: Mapped[IntPk]
    team_no: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # NULL once a registration is rejected or withdrawn: the name is free again.
    name_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(8), index=True)
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id"), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(12), index=True)
    county_code: Mapped[str | None] = mapped_column(String(12), index=True)
    host_org: Mapped[str | None] = mapped_column(String(100))
    captain_name: Mapped[str | None] = mapped_column(String(40))
    captain_phone: Mapped[str | None] = mapped_column(String(20))
    # The 队长's own volunteer record (and so WeChat account): the registrant who registers as
    # 「我是队长」, or the captain named by the registrant once they confirm with captain_code.
    captain_volunteer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("volunteers.id"))
    # What the named captain replies (「确认队长 <code>」) to become 队长; NULL once confirmed.
    captain_code: Mapped[str | None] = mapped_column(String(12), unique=True)
    contact_phone: Mapped[str | None] = mapped_column(String(24))
    description: Mapped[str | None] = mapped_column(Text)
    service_areas: Mapped[list[str] | None] = mapped_column(JSON)
    invite_code: Mapped[str] = mapped_column(String(12), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_PENDING, index=True)
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    needs_guidance: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False)
    # The team's admins may send notices to their members (a province operator can say no).
    notices_allowed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    registrant_openid: Mapped[str | None] = mapped_column(String(64), index=True)
    # A rename to a special name (「在省科协指导下命名」) waits here for the province.
    requested_name: Mapped[str | None] = mapped_column(String(120))
    requested_name_by: Mapped[str | None] = mapped_column(String(64))
    name_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)


class TeamAdmin(Base):
    """A WeChat user who administers a team (the registrant is the first)."""

    __tablename__ = "team_admins"
    __table_args__ = (UniqueConstraint("team_id", "openid"),)

    id: Mapped[IntPk]
    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id"))
    openid: Mapped[str] = mapped_column(String(64), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("volunteers.id"))
    created_at: Mapped[Created]
    # An admin of several teams manages the one chosen last (「选择队伍 N」).
    selected_at: Mapped[datetime | None] = mapped_column(DateTime)


class FormerName(Base):
    """A name a team had before a rename (kept for records and for looking teams up)."""

    __tablename__ = "team_former_names"

    id: Mapped[IntPk]
    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    renamed_at: Mapped[datetime] = mapped_column(DateTime)
    renamed_by: Mapped[str | None] = mapped_column(String(64))


class Membership(Base):
    """A volunteer in a team: pending (asked to join), joined, left, or rejected."""

    __tablename__ = "team_memberships"
    __table_args__ = (
        UniqueConstraint("team_id", "volunteer_id"),
        # A team's members by status, and members per team (covering: no row look-ups).
        Index("ix_team_memberships_team_status", "team_id", "status", "volunteer_id"),
        Index("ix_team_memberships_status_team", "status", "team_id"),
        # A team's members with the day they joined, from the index alone (the team 统计:
        # services.reports.team_joins; migration 0021_rollups).
        Index(
            "ix_team_memberships_joins",
            "status",
            "team_id",
            "volunteer_id",
            "decided_at",
            "created_at",
        ),
    )

    id: Mapped[IntPk]
    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id"))
    volunteer_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=MEMBERSHIP_PENDING, index=True)
    created_at: Mapped[Created]
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def status_label(self) -> str:
        return MEMBERSHIP_STATUS_LABELS.get(self.status, self.status)
