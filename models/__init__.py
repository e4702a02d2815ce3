"""Typed SQLAlchemy models. Import every model here so Alembic sees the whole metadata."""

from models.base import Base
from models.follower import Follower
from models.team import Membership, Team, TeamAdmin
from models.volunteer import Volunteer

__all__ = ["Base", "Follower", "Membership", "Team", "TeamAdmin", "Volunteer"]
