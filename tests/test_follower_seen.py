"""Followers' last-seen time: recorded on any message, at most once an hour per user."""

from __future__ import annotations

import redis
from sqlalchemy import select

from config import Settings
from infra.db import Database
from models import Follower
from tests.wechat_user import WeChatUser


def _follower(db: Database, openid: str) -> Follower | None:
    with db.Session() as session:
        return session.scalar(select(Follower).where(Follower.openid == openid))


def test_a_message_from_an_earlier_follower_creates_the_row(
    wechat_user: WeChatUser, db: Database
) -> None:
    assert _follower(db, wechat_user.openid) is None
    wechat_user.say("帮助")
    follower = _follower(db, wechat_user.openid)
    assert follower is not None and follower.subscribed
    assert follower.first_seen_at == follower.last_seen_at


def test_last_seen_is_written_at_most_once_an_hour(
    wechat_user: WeChatUser, db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    wechat_user.say("帮助")
    first = _follower(db, wechat_user.openid)
    wechat_user.click("HELP")
    assert _follower(db, wechat_user.openid).last_seen_at == first.last_seen_at  # type: ignore[union-attr]
    ttl = redis_client.ttl(f"{settings.redis_prefix}seen:{wechat_user.openid}")
    assert 3500 < ttl <= 3600
    redis_client.delete(f"{settings.redis_prefix}seen:{wechat_user.openid}")
    wechat_user.say("帮助")
    assert _follower(db, wechat_user.openid).last_seen_at >= first.last_seen_at  # type: ignore[union-attr]


def test_unsubscribe_is_not_overwritten_by_the_observer(
    wechat_user: WeChatUser, db: Database
) -> None:
    wechat_user.subscribe()
    wechat_user.unsubscribe()
    follower = _follower(db, wechat_user.openid)
    assert follower is not None and not follower.subscribed
