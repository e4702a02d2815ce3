"""Redis lost while a message is being handled: the user hears the maintenance reply (never
nothing), and their lock is released as soon as Redis answers again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask

from config import Settings
from extensions import close_extensions, services_of
from handlers.basics import GUIDE
from handlers.context import Context
from infra.db import Database
from tests.conftest import REDIS_URL, TEST_AES_KEY
from tests.tcp_proxy import TcpProxy
from tests.test_dispatch import text_fields
from tests.test_webhook import captured_logs, install_bot
from tests.wechat_user import WeChatUser
from wechat.dispatcher import UNAVAILABLE
from wechat.router import Router

pytestmark = pytest.mark.skipif(REDIS_URL is None, reason="needs a Redis server to lose")


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    assert REDIS_URL is not None
    upstream = urlsplit(REDIS_URL)
    with TcpProxy((upstream.hostname or "127.0.0.1", upstream.port or 6379)) as tcp:
        yield tcp


def losing_router(proxy: TcpProxy, runs: list[str] | None = None) -> Router:
    router = Router("test_redis_lost")

    @router.keyword("断开后查询")
    def lost_then_read(ctx: Context) -> str:
        proxy.cut()
        ctx.services.redis.ping()  # needs Redis
        return "查询结果"

    @router.keyword("断开后办完")
    def lost_after_the_work(ctx: Context) -> str:
        if runs is not None:
            runs.append(ctx.msg.openid)
        proxy.cut()
        return "已办理"

    return router


@pytest.fixture
def runs() -> list[str]:
    return []


@pytest.fixture
def app_via_proxy(
    settings: Settings, db: Database, redis_client: redis.Redis, proxy: TcpProxy, runs: list[str]
) -> Iterator[Flask]:
    from app import create_app

    application = create_app(
        settings.with_overrides(redis_url=proxy.url, wechat_encoding_aes_key=TEST_AES_KEY)
    )
    install_bot(application, losing_router(proxy, runs))
    yield application
    close_extensions(application)


def user_of(app: Flask, openid: str) -> WeChatUser:
    return WeChatUser(app.test_client(), app.extensions["bot"].protocol, openid)


def _lock_of(app: Flask, redis_client: redis.Redis, openid: str) -> bytes | None:
    value: bytes | None = redis_client.get(services_of(app).keys.user_lock(openid))
    return value


def test_redis_lost_mid_handler_gives_the_maintenance_reply(
    app_via_proxy: Flask, proxy: TcpProxy, redis_client: redis.Redis
) -> None:
    user = user_of(app_via_proxy, "oRedisLost0000000000000001")
    with captured_logs() as records:
        answer = user.send_text("断开后查询")
    assert answer.status == 200
    assert answer.text == UNAVAILABLE
    assert not [r for r in records if r.exc_info], "one line, no traceback"
    assert _lock_of(app_via_proxy, redis_client, user.openid) is not None  # Redis missed it

    proxy.restore()
    started = time.monotonic()
    assert user.say("帮助") == GUIDE
    assert time.monotonic() - started < 2, "the lock was released, not waited out"
    assert _lock_of(app_via_proxy, redis_client, user.openid) is None


def test_redis_lost_after_the_work_still_answers_and_frees_the_user(
    app_via_proxy: Flask, proxy: TcpProxy, redis_client: redis.Redis
) -> None:
    user = user_of(app_via_proxy, "oRedisLost0000000000000002")
    answer = user.send_text("断开后办完")
    assert answer.status == 200
    assert answer.text == "已办理"  # the work was done: the user hears its answer

    # While Redis is still away, the next message is told so (nothing processed).
    assert user.say("帮助") == UNAVAILABLE

    proxy.restore()
    started = time.monotonic()
    assert user.say("帮助") == GUIDE
    assert time.monotonic() - started < 2
    assert _lock_of(app_via_proxy, redis_client, user.openid) is None


def test_a_finish_lost_with_redis_is_written_when_it_is_back_without_another_message(
    app_via_proxy: Flask, proxy: TcpProxy, redis_client: redis.Redis, runs: list[str]
) -> None:
    # The lock release and the answer for retries go out without waiting for Redis's reply
    # (nothing in the reply depends on them); here Redis is lost just before they go.
    user = user_of(app_via_proxy, "oRedisLost0000000000000003")
    fields = text_fields(user.openid, "断开后办完")
    assert user.post(fields).text == "已办理"
    time.sleep(1.0)  # Redis stays away for two ticks of the lease keeper (they fail)
    proxy.restore()

    # No other message comes: the lease keeper's tick writes both (within a lease, so the
    # dedup marker has not expired and WeChat's retries wait for the answer meanwhile).
    dedup_key = services_of(app_via_proxy).keys.dedup(user.openid, f"msg:{fields['MsgId']}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stored = redis_client.get(dedup_key)
        if stored is not None and stored.startswith(b"r:"):
            break
        time.sleep(0.05)
    assert stored is not None and stored.startswith(b"r:"), stored
    assert redis_client.ttl(dedup_key) > 50  # kept for retries for the dedup TTL
    assert _lock_of(app_via_proxy, redis_client, user.openid) is None

    # WeChat's retry gets the first answer, the handler ran once, the next message is served.
    assert user.post(fields).text == "已办理"
    assert runs == [user.openid]
    assert user.say("帮助") == GUIDE
