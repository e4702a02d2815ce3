"""Typed SQLAlchemy models. Import every model here so Alembic sees the whole metadata."""

from models.activity import Activity, Signup
from models.base import Base
from models.follower import Follower
from models.notice import Notice, NoticeRecipient, NoticeTemplate
from models.operator import AuditEntry, Operator
from models.team import Membership, Team, TeamAdmin
from models.volunteer import Volunteer

__all__ = [
    "Activity",
    "AuditEntry",
    "Base",
    "Follower",
    "Membership",
    "Notice",
    "NoticeRecipient",
    "NoticeTemplate",
    "Operator",
    "Signup",
    "Team",
    "TeamAdmin",
    "Volunteer",
]
