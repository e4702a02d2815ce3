"""Shared set-up for the activity sign-up tests: settings with the activity templates and a
public address, activities with a quota and requirements, and reading what WeChat delivered."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from config import Settings
from domain.clock import utcnow
from infra.db import Database
from models.activity import Activity
from models.follower import Follower
from sandbox.fake_wechat import (
    TEMPLATE_ACTIVITY_CHANGE,
    TEMPLATE_ACTIVITY_REMINDER,
    TEMPLATE_ACTIVITY_SIGNUP,
    FakeWeChatState,
)
from tests.conftest import base_settings

PUBLIC = "https://kjzy.example.cn"


def activity_settings(database_url: str, fake_wechat_url: str) -> Settings:
    return base_settings(
        database_url,
        wechat_api_base_url=fake_wechat_url,
        public_base_url=PUBLIC,
        activity_signup_template_id=TEMPLATE_ACTIVITY_SIGNUP,
        activity_reminder_template_id=TEMPLATE_ACTIVITY_REMINDER,
        activity_change_template_id=TEMPLATE_ACTIVITY_CHANGE,
    )


def change_activity(db: Database, activity_id: int, **values: Any) -> None:
    with db.Session.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        for key, value in values.items():
            setattr(activity, key, value)


def last_seen_long_ago(db: Database, openid: str, days: int = 3) -> None:
    """As if the user last wrote to the account `days` ago (outside the 48-hour window)."""
    with db.Session.begin() as session:
        session.execute(
            update(Follower)
            .where(Follower.openid == openid)
            .values(last_seen_at=utcnow() - timedelta(days=days))
        )


def delivered(fake: FakeWeChatState, openid: str) -> list[dict[str, Any]]:
    return fake.messages(openid)


def texts(fake: FakeWeChatState, openid: str) -> list[str]:
    return [m["content"] for m in fake.messages(openid) if m["type"] == "text"]


def templates(fake: FakeWeChatState, openid: str) -> list[dict[str, Any]]:
    return [m for m in fake.messages(openid) if m["type"] == "template"]


def soon(hours: float) -> datetime:
    return (utcnow() + timedelta(hours=hours)).replace(second=0, microsecond=0)
