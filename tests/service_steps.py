"""Shared set-up for the check-in, hours and certificate tests: a team, activities at chosen
times (UTC, as stored) and registered volunteers. (No tests here.)"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask

from domain import clock
from infra.db import Database
from models.activity import PUBLISHED, Activity
from models.service import CheckinCode
from models.volunteer import Volunteer
from services import attendance, signups, volunteers
from tests import volunteer_steps
from tests.test_team_support import add_team, seed_root
from tests.wechat_user import WeChatUser

ORGANISER = "oOrganiser000000000000000001"


def organiser_team(
    db: Database, name: str = "兰州市科技志愿服务队", registrant: str = ORGANISER
) -> int:
    """An approved team; its registrant (the openid ORGANISER by default) is its admin."""
    seed_root(db)
    return add_team(db, name, registrant=registrant).id


def minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def add_activity(
    db: Database,
    team_id: int,
    *,
    title: str = "青少年科普进社区",
    starts_at: datetime | None = None,
    hours: float = 3,
    capacity: int | None = None,
    status: str = PUBLISHED,
    place: str = "兰州市城关区科技馆",
) -> int:
    """An activity stored in UTC; by default it started 10 minutes ago."""
    start = minute(starts_at or clock.utcnow() - timedelta(minutes=10))
    with db.Session.begin() as session:
        activity = Activity(
            title=title,
            type="科学普及",
            team_id=team_id,
            prefecture_code="620100",
            county_code="620102",
            place=place,
            starts_at=start,
            ends_at=start + timedelta(hours=hours),
            capacity=capacity,
            description="面向社区青少年的科普活动。",
            contact="李老师 0931-1234567",
            status=status,
        )
        session.add(activity)
        session.flush()
        return activity.id


def registered(user: WeChatUser, **overrides: str) -> WeChatUser:
    """The user registers as a volunteer through the chat."""
    assert "注册成功" in volunteer_steps.register(user, **overrides)
    return user


def volunteer_of(app: Flask, user: WeChatUser) -> Volunteer:
    services = app.extensions["services"]
    with services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, user.openid)
        assert volunteer is not None
        session.expunge(volunteer)
        return volunteer


def sign_up(app: Flask, user: WeChatUser | str, activity_id: int) -> None:
    """The user signs up (through the sign-up service, as of a day before the start)."""
    services = app.extensions["services"]
    openid = user if isinstance(user, str) else user.openid
    with services.db.Session.begin() as session:
        activity = session.get(Activity, activity_id)
        volunteer = volunteers.find_by_openid(session, openid)
        assert activity is not None and volunteer is not None
        signups.sign_up(
            session, activity_id, volunteer.id, now=activity.starts_at - timedelta(days=1)
        )


def checkin_codes(app: Flask, activity_id: int, *, walk_ins: bool | None = None) -> CheckinCode:
    """The activity's check-in codes (as the organiser's console or chat would make them)."""
    services = app.extensions["services"]
    with services.db.Session.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        codes = attendance.codes_for(session, activity, clock.utcnow())
        if walk_ins is not None:
            codes.walk_ins_allowed = walk_ins
        session.flush()
        session.expunge(codes)
        return codes


def scene(codes: CheckinCode, kind: str) -> str:
    return attendance.scene_for(kind, codes.token)
