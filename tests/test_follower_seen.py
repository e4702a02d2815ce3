"""Followers' last-seen time: recorded on any message, at most once an hour per user."""

from __future__ import annotations

import threading

import pytest
import redis
from sqlalchemy import delete, select

from config import Settings
from infra.db import Database
from models import Follower
from services import followers
from tests import volunteer_steps as steps
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


def test_two_newcomers_in_one_gap_do_not_wait_for_each_other(db: Database) -> None:
    """Two first messages of people without a row, their transactions open at once: the
    second INSERT must not wait for the first transaction (at REPEATABLE READ the first's UPDATE
    that found nothing held the gap, and a storm of newcomers deadlocked on it)."""
    if db.engine.dialect.name != "mysql":
        pytest.skip("InnoDB's gap locks")
    first, second = "oGapNewcomer0000000000000001", "oGapNewcomer0000000000000002"
    errors: list[BaseException] = []
    with db.Session.begin() as holding:
        followers.seen(holding, first)  # row written, transaction still open

        def newcomer() -> None:
            try:
                with db.Session.begin() as session:  # InnoDB gives up after 50 s
                    followers.seen(session, second)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=newcomer)
        thread.start()
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert errors == []
    assert _follower(db, first) is not None and _follower(db, second) is not None


def test_seen_tells_a_newcomer_without_a_volunteer_record(db: Database) -> None:
    with db.Session.begin() as session:
        assert followers.seen(session, "oSeenNewcomer000000000000001")  # row created, no record
    with db.Session.begin() as session:
        assert not followers.seen(session, "oSeenNewcomer000000000000001")  # the row existed


def test_a_volunteer_without_a_follower_row_tapping_register_sees_the_profile(
    wechat_user: WeChatUser, db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    """注册 after a first message that found no volunteer skips the check; one whose observer
    finds the volunteer (a row missing for someone registered) does not."""
    steps.register(wechat_user)
    with db.Session.begin() as session:
        session.execute(delete(Follower).where(Follower.openid == wechat_user.openid))
    redis_client.delete(f"{settings.redis_prefix}seen:{wechat_user.openid}")
    with db.Session.begin() as session:
        assert not followers.seen(session, wechat_user.openid)  # a volunteer holds the openid
        session.execute(delete(Follower).where(Follower.openid == wechat_user.openid))
    reply = steps.start(wechat_user)  # the first message of the hour: the observer writes
    assert "无需重复注册" in reply
    assert _follower(db, wechat_user.openid) is not None


def test_a_newcomers_first_message_register_starts_the_registration(
    wechat_user: WeChatUser, db: Database
) -> None:
    assert "欢迎注册" in steps.start(wechat_user)
    assert _follower(db, wechat_user.openid) is not None
    assert "注册成功" in steps.register(wechat_user)
