"""Telling volunteers about their sign-ups: a place freed from the waiting list, a change of
time or place, a cancelled activity, and the day-before reminder.

WeChat lets the account send a customer-service message only within 48 hours of the user's last
message to it; after that only template messages get through. Followers' last-seen time (kept
at most an hour stale, so never later than the truth) decides; a customer-service message that
fails anyway falls back to the template.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from domain import clock
from domain.text import clip
from infra.db import Database
from models.activity import (
    BY_ACTIVITY,
    LIVE_SIGNUP_STATUSES,
    SIGNED_UP,
    SIGNUP_CANCELLED,
    Activity,
    Signup,
)
from models.follower import Follower
from models.volunteer import ACTIVE, Volunteer
from services import signups
from services.activities import Outcome, when_text
from wechat.client import WeChatAPI
from wechat.errors import WeChatAPIError

log = logging.getLogger(__name__)

SERVICE_WINDOW = timedelta(hours=48)

# How a message went
BY_TEXT = "text"
BY_TEMPLATE = "template"
FAILED = "failed"


@dataclass(frozen=True)
class Template:
    template_id: str | None
    data: Mapping[str, str]
    # Different per event, so WeChat's 10-minute dedup of client_msg_id drops only true repeats.
    client_msg_id: str
    url: str | None = None


def within_service_window(session: Session, openid: str, now: datetime | None = None) -> bool:
    seen = session.scalar(
        select(Follower.last_seen_at).where(
            Follower.openid == openid, Follower.subscribed.is_(True)
        )
    )
    return seen is not None and seen > (now or clock.utcnow()) - SERVICE_WINDOW


def tell(api: WeChatAPI, session: Session, openid: str, text: str, template: Template) -> str:
    """A customer-service message inside the 48-hour window, else (or when it fails) the
    template. Never raises for WeChat errors; returns BY_TEXT, BY_TEMPLATE or FAILED."""
    if within_service_window(session, openid):
        try:
            api.send_text(openid, text)
            return BY_TEXT
        except WeChatAPIError as error:
            log.info(
                "customer-service message failed errcode=%s; trying the template", error.errcode
            )
    if not template.template_id:
        log.warning("no template configured for %s; message not delivered", template.client_msg_id)
        return FAILED
    try:
        api.send_template(
            openid,
            template.template_id,
            template.data,
            url=template.url,
            client_msg_id=template.client_msg_id,
        )
        return BY_TEMPLATE
    except WeChatAPIError as error:
        log.warning(
            "template message %s not delivered errcode=%s", template.client_msg_id, error.errcode
        )
        return FAILED


# -- template values (WeChat's rules: thing ≤ 20 characters, phrase ≤ 5, time a date-time) ----


def time_value(value: datetime) -> str:
    return f"{clock.to_beijing(value):%Y年%-m月%-d日 %H:%M}"


def signup_data(activity: Activity, status: str) -> dict[str, str]:
    """活动报名成功通知: 活动名称, 活动时间, 活动地点, 报名状态."""
    return {
        "thing1": clip(activity.title, 20),
        "time2": time_value(activity.starts_at),
        "thing3": clip(activity.place, 20),
        "phrase4": clip(status, 5),
    }


def reminder_data(activity: Activity) -> dict[str, str]:
    """活动开始提醒: 活动名称, 开始时间, 活动地点, 温馨提示."""
    return {
        "thing1": clip(activity.title, 20),
        "time2": time_value(activity.starts_at),
        "thing3": clip(activity.place, 20),
        "thing4": "请按时到场签到，如不能参加请取消报名",
    }


def change_data(activity: Activity, change: str) -> dict[str, str]:
    """活动变更通知: 活动名称, 变更内容, 活动时间, 活动地点."""
    return {
        "thing1": clip(activity.title, 20),
        "thing2": clip(change, 20),
        "time3": time_value(activity.starts_at),
        "thing4": clip(activity.place, 20),
    }


# -- the messages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Messenger:
    """What sending needs: the API client, the database and the configured template ids."""

    api: WeChatAPI
    db: Database
    settings: Settings

    def public_url(self, activity: Activity) -> str:
        return f"{self.settings.public_base_url}/a/{activity.id}"


def _openid_of(session: Session, volunteer_id: int) -> str | None:
    return session.scalar(
        select(Volunteer.openid).where(Volunteer.id == volunteer_id, Volunteer.status == ACTIVE)
    )


def tell_promoted(messenger: Messenger, signup_id: int) -> str:
    """The first on the waiting list got a place."""
    with messenger.db.Session() as session:
        signup = session.get(Signup, signup_id)
        if signup is None or signup.status != SIGNED_UP:
            return FAILED
        activity = session.get(Activity, signup.activity_id)
        openid = _openid_of(session, signup.volunteer_id)
        if activity is None or not openid:
            return FAILED
        text = (
            f"好消息！有志愿者取消了报名，您已从候补名单递补为「{activity.title}」的正式报名人员。\n"
            f"时间：{when_text(activity)}\n地点：{activity.place}\n\n"
            f"如不能参加，请回复「取消报名{activity.id}」。"
        )
        template = Template(
            messenger.settings.activity_signup_template_id,
            signup_data(activity, "已递补"),
            client_msg_id=f"promoted-{signup.id}",
            url=messenger.public_url(activity),
        )
        return tell(messenger.api, session, openid, text, template)


def tell_signed_up(
    messenger: Messenger, activity_id: int, text: str, change: str
) -> dict[str, int]:
    """Tell everyone signed up or waiting about a change (time, place) or the cancellation.
    Returns how many went by customer-service message, by template, or failed."""
    counts = {BY_TEXT: 0, BY_TEMPLATE: 0, FAILED: 0}
    with messenger.db.Session() as session:
        activity = session.get(Activity, activity_id)
        if activity is None:
            return counts
        rows = session.execute(
            select(Signup.id, Volunteer.openid)
            .join(Volunteer, Volunteer.id == Signup.volunteer_id)
            .where(
                Signup.activity_id == activity_id,
                Volunteer.openid.is_not(None),
                Volunteer.status == ACTIVE,
                (Signup.status.in_(LIVE_SIGNUP_STATUSES))
                | ((Signup.status == SIGNUP_CANCELLED) & (Signup.cancelled_by == BY_ACTIVITY)),
            )
            .order_by(Signup.id)
        ).all()
        stamp = int(activity.updated_at.timestamp())
        for signup_id, openid in rows:
            if not openid:
                continue
            template = Template(
                messenger.settings.activity_change_template_id,
                change_data(activity, change),
                client_msg_id=f"change-{signup_id}-{stamp}",
                url=messenger.public_url(activity),
            )
            counts[tell(messenger.api, session, openid, text, template)] += 1
    log.info("activity %s change told: %s", activity_id, counts)
    return counts


def deliver(messenger: Messenger, activity_id: int, outcome: Outcome) -> None:
    """Tell people what a change of the activity means for them (after it is committed)."""
    if outcome.message:
        tell_signed_up(messenger, activity_id, outcome.message, outcome.change)
    for signup_id in outcome.promoted:
        tell_promoted(messenger, signup_id)


def cancel_upcoming_signups(messenger: Messenger, volunteer_id: int) -> int:
    """A volunteer who leaves (注销) gives up their places in activities not yet started; each
    cancellation is its own transaction beginning with the activity's lock (services.signups),
    and whoever moves up from a waiting list is told. Returns how many were cancelled."""
    with messenger.db.Session() as session:
        activity_ids = session.scalars(
            select(Signup.activity_id)
            .join(Activity, Activity.id == Signup.activity_id)
            .where(
                Signup.volunteer_id == volunteer_id,
                Signup.status.in_(LIVE_SIGNUP_STATUSES),
                Activity.starts_at > clock.utcnow(),
            )
        ).all()
    cancelled = 0
    for activity_id in activity_ids:
        try:
            with messenger.db.Session.begin() as session:
                result = signups.cancel(session, activity_id, volunteer_id)
                promoted = result.promoted.id if result.promoted else None
        except signups.SignupRefused:
            continue  # started meanwhile, or cancelled by another message
        cancelled += 1
        if promoted is not None:
            tell_promoted(messenger, promoted)
    return cancelled
