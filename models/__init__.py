"""Typed SQLAlchemy models. Import every model here so Alembic sees the whole metadata."""

from models.activity import Activity, Signup
from models.audience import AudienceCount, VolunteerTime
from models.base import Base
from models.certificate import Certificate
from models.follower import Follower
from models.need import Need, Pairing
from models.notice import Notice, NoticeRecipient, NoticeTemplate
from models.operator import AuditEntry, Operator
from models.recognition import Recognition
from models.report import ServiceCount, TeamMembers, VolunteerCount, VolunteerYear
from models.service import Attendance, CheckinCode, RecordCorrection, ServiceRecord
from models.team import FormerName, Membership, Team, TeamAdmin
from models.team_report import TeamJoinCount
from models.volunteer import Volunteer, VolunteerSkill

__all__ = [
    "Activity",
    "Attendance",
    "AudienceCount",
    "AuditEntry",
    "Base",
    "Certificate",
    "CheckinCode",
    "Follower",
    "FormerName",
    "Membership",
    "Need",
    "Notice",
    "NoticeRecipient",
    "NoticeTemplate",
    "Operator",
    "Pairing",
    "Recognition",
    "RecordCorrection",
    "ServiceCount",
    "ServiceRecord",
    "Signup",
    "Team",
    "TeamAdmin",
    "TeamJoinCount",
    "TeamMembers",
    "Volunteer",
    "VolunteerCount",
    "VolunteerSkill",
    "VolunteerTime",
    "VolunteerYear",
]
