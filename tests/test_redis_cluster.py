"""The service on a Redis Cluster (3 masters started on loopback ports for this module):
conversations, dedup, the user lock and its leases, the access token, rate limits and login
throttling, metrics; the notice queue on QUEUE_REDIS_URL (RQ needs a plain server)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask
from redis.cluster import RedisCluster
from redis.crc import key_slot

from config import ConfigError, Settings
from extensions import close_extensions
from infra.db import Database
from infra.redis import Keys
from sandbox.fake_wechat import FakeWeChatState
from tests import redis_cluster
from tests import volunteer_steps as steps
from tests.conftest import REDIS_URL, TEST_AES_KEY
from tests.test_console_auth import add_operator, login
from tests.test_console_support import add_activity, add_team
from tests.test_dispatch import text_fields
from tests.wechat_user import WeChatUser
from wechat.leases import LEASE_SECONDS
from wechat.protocol import Mode
from worker.needs_jobs import schedule_sweep
from worker.ratelimit import SendRateLimiter
from worker.reminders import schedule_reminder


def test_keys_one_script_touches_share_a_slot() -> None:
    keys = Keys("kjzy:")
    openid = "oAbCdEf0123456789_-xyzXYZ012"
    slots = {
        key_slot(key.encode())
        for key in (
            keys.dedup(openid, "msg:1234567890"),
            keys.dedup(openid, f"evt:{openid}:1700000000:CLICK:VOLUNTEER_REGISTER"),
            keys.user_lock(openid),
            keys.user_waiting(openid),
        )
    }
    assert len(slots) == 1
    deliveries = {key_slot(keys.notice_delivery(m).encode()) for m in (1, 22, 333)}
    assert len(deliveries) == 1  # read with one MGET


def test_a_cluster_needs_a_plain_redis_for_the_queue() -> None:
    env = {"REDIS_URL": "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"}
    with pytest.raises(ConfigError) as error:
        Settings.from_env(env, load_dotenv=False)
    assert error.value.variable == "QUEUE_REDIS_URL"
    settings = Settings.from_env(
        {**env, "QUEUE_REDIS_URL": "redis://127.0.0.1:6379/1"}, load_dotenv=False
    )
    assert settings.redis_is_cluster and settings.queue_url == "redis://127.0.0.1:6379/1"


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    if not redis_cluster.available():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: redis-server and redis-cli must be installed")
        pytest.skip("redis-server is not installed")
    if REDIS_URL is None:
        pytest.skip("the notice queue needs a plain Redis server (none reachable)")
    with redis_cluster.local_cluster(3) as ports:
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in ports)


def app_on(settings: Settings, cluster_url: str) -> Flask:
    """The app on the cluster, its notice queue on the plain server (QUEUE_REDIS_URL)."""
    from app import create_app

    app = create_app(
        settings.with_overrides(
            redis_url=cluster_url,
            queue_redis_url=REDIS_URL,
            wechat_encoding_aes_key=TEST_AES_KEY,
            metrics_enabled=True,
        )
    )
    app.config["TESTING"] = True
    return app


@pytest.fixture
def cluster_app(settings: Settings, db: Database, cluster_url: str) -> Iterator[Flask]:
    app = app_on(settings, cluster_url)
    yield app
    queue = getattr(app.extensions["notice_queue"], "queue", None)
    if queue is not None:
        queue.empty()
    close_extensions(app)


def user_of(app: Flask) -> WeChatUser:
    bot = app.extensions["bot"]
    return WeChatUser(app.test_client(), bot.protocol, f"o{uuid.uuid4().hex[:27]}", Mode.SAFE)


def test_a_registration_runs_on_the_cluster(cluster_app: Flask) -> None:
    services = cluster_app.extensions["services"]
    assert isinstance(services.redis, RedisCluster)
    user = user_of(cluster_app)
    reply = steps.answer_until(user, stop_before="phone")
    assert "手机号" in reply
    # The conversation, with the ID number sealed in it, is a key on the cluster.
    stored = services.redis.get(services.keys.conversation(user.openid))
    assert stored is not None and steps.GOOD_ID.encode() not in stored
    first = user.post(text_fields(user.openid, content="13812345678", msg_id=8_100_001))
    again = user.post(text_fields(user.openid, content="13812345678", msg_id=8_100_001))
    assert "学历" in first.text and again.text == first.text  # WeChat's retry: one answer
    for _name, answer, expect in steps.ANSWERS[4:]:
        assert expect in user.say(answer)
    assert "注册成功" in user.say("确认")


def test_a_retry_takes_over_from_a_dead_process_on_the_cluster(cluster_app: Flask) -> None:
    services = cluster_app.extensions["services"]
    user = user_of(cluster_app)
    lease_ms = int(LEASE_SECONDS * 1000)
    services.redis.set(services.keys.dedup(user.openid, "msg:8100101"), b"pending", px=lease_ms)
    services.redis.set(services.keys.user_lock(user.openid), "dead", px=lease_ms)
    answer = user.post(text_fields(user.openid, content="帮助", msg_id=8_100_101))
    assert answer.text  # answered by the retry, after the dead process's lease ran out


def test_a_slow_message_keeps_its_leases_on_the_cluster(cluster_app: Flask) -> None:
    dispatcher = cluster_app.extensions["bot"].dispatcher
    keys = cluster_app.extensions["services"].keys
    openid = "o_cluster_lease_keeper_000001"
    dedup, lock = keys.dedup(openid, "msg:1"), keys.user_lock(openid)
    lease_ms = int(LEASE_SECONDS * 1000)  # as the claim sets them
    dispatcher.redis.set(dedup, b"pending", px=lease_ms)
    dispatcher.redis.set(lock, "token-1", px=lease_ms)
    dispatcher.leases.hold("token-1", dedup, b"pending", at_most=30)
    dispatcher.leases.hold("token-1", lock, "token-1", at_most=30)
    time.sleep(LEASE_SECONDS + 0.5)  # past the first expiry: kept alive by the renewals
    try:
        assert dispatcher.redis.get(dedup) == b"pending"
        assert dispatcher.redis.get(lock) == b"token-1"
    finally:
        dispatcher.leases.release("token-1")


def test_token_rate_limits_and_login_throttle_on_the_cluster(
    cluster_app: Flask, fake_wechat: FakeWeChatState, db: Database
) -> None:
    services = cluster_app.extensions["services"]
    token = services.api.access_token()
    assert token in fake_wechat.valid_tokens()
    assert services.redis.get(services.keys.access_token(services.settings.wechat_app_id))

    limiter = SendRateLimiter(
        services.settings.with_overrides(notice_sends_per_second=5), services.redis
    )
    started = time.monotonic()
    for _ in range(6):  # the sixth waits for the window
        limiter.acquire()
    assert time.monotonic() - started >= 0.9

    add_operator(db, "sheng")
    client = cluster_app.test_client()
    for _ in range(5):
        assert login(client, "sheng", "wrong-password-1").status_code == 401
    assert "登录失败次数过多" in login(client, "sheng").get_data(as_text=True)


def test_the_queue_is_on_queue_redis_url_and_ready(cluster_app: Flask) -> None:
    queue = cluster_app.extensions["notice_queue"].queue
    assert not isinstance(queue.connection, RedisCluster)
    cluster_app.extensions["notice_queue"].enqueue(999_101, copies=1)
    body = cluster_app.test_client().get("/readyz").get_json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "queue": "ok"}
    assert body["details"]["queue"]["queued"] == 1


def test_closing_the_app_closes_its_queue_client(
    settings: Settings, db: Database, cluster_url: str, redis_client: redis.Redis
) -> None:
    app = app_on(settings, cluster_url)
    name = f"kjzy-test-queue-{uuid.uuid4().hex[:10]}"
    queue = app.extensions["notice_queue"].queue
    queue.connection.client_setname(name)
    assert name in {client["name"] for client in redis_client.client_list()}
    close_extensions(app)
    assert name not in {client["name"] for client in redis_client.client_list()}


def test_jobs_for_later_are_scheduled_on_queue_redis_url(cluster_app: Flask, db: Database) -> None:
    services = cluster_app.extensions["services"]
    scheduled = cluster_app.extensions["notice_queue"].queue.scheduled_job_registry
    at = datetime(2030, 1, 1, 8, 0)
    sweep = schedule_sweep(services, at, name="cluster")
    assert sweep == "needs-sweep-cluster"
    assert scheduled.get_scheduled_time(sweep) == at.replace(tzinfo=UTC)
    activity_id = add_activity(db, add_team(db, "甘肃省科普作家协会科技志愿服务队"))
    reminder = schedule_reminder(services, activity_id)
    assert reminder is not None and reminder in scheduled.get_job_ids()
    for job_id in (sweep, reminder):
        scheduled.remove(job_id, delete_job=True)


def test_metrics_on_the_cluster(cluster_app: Flask) -> None:
    user = user_of(cluster_app)
    user.click("VOLUNTEER_REGISTER")
    user.say("帮助")
    text = cluster_app.test_client().get("/metrics").get_data(as_text=True)
    assert 'kjzy_messages_total{route="volunteer.register",status="ok"} 1' in text
