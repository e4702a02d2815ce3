"""Prometheus metrics at /metrics: off by default, protected, summed over processes in Redis."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask

from config import Settings
from extensions import close_extensions
from infra.db import Database
from sandbox.fake_wechat import FakeWeChatState
from tests.wechat_user import WeChatUser
from wechat.client import observe_calls

TOKEN = "scrape-token-0123456789"


@pytest.fixture
def build_app(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> Iterator[Callable[..., Flask]]:
    """Apps sharing the test's database and Redis prefix: like processes of one deployment."""
    from app import create_app

    apps: list[Flask] = []

    def build(**overrides: object) -> Flask:
        app = create_app(settings.with_overrides(**overrides))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield build
    for app in apps:
        close_extensions(app)
    observe_calls(None)


def user_of(app: Flask, openid: str | None = None) -> WeChatUser:
    bot = app.extensions["bot"]
    return WeChatUser(app.test_client(), bot.protocol, openid or f"o{uuid.uuid4().hex[:27]}")


def scrape(app: Flask, token: str = TOKEN) -> str:
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels}` (labels in any order), or 0 when absent."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    return 0.0


def test_metrics_are_off_by_default(client: object) -> None:
    assert client.get("/metrics").status_code == 404  # type: ignore[attr-defined]


def test_metrics_need_the_bearer_token(build_app: Callable[..., Flask]) -> None:
    app = build_app(metrics_enabled=True, metrics_token=TOKEN)
    web = app.test_client()
    assert web.get("/metrics").status_code == 403
    assert web.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert "kjzy_messages_total" in scrape(app)


def test_without_a_token_only_local_scrapers_are_served(build_app: Callable[..., Flask]) -> None:
    app = build_app(metrics_enabled=True)
    web = app.test_client()
    assert web.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    remote = web.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 403
    # Through nginx on this host the peer is loopback, but the request is not local.
    relayed = web.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 403


def test_messages_by_route_and_status_and_latency(build_app: Callable[..., Flask]) -> None:
    app = build_app(metrics_enabled=True, metrics_token=TOKEN)
    user = user_of(app)
    assert "同意" in user.click("VOLUNTEER_REGISTER")
    user.say("帮助")
    first = user.send_text("你好", msg_id=424242)
    again = user.send_text("你好", msg_id=424242)  # WeChat's retry of the same message
    assert again.text == first.text

    text = scrape(app)
    assert value(text, "kjzy_messages_total", route="volunteer.register", status="ok") == 1
    assert value(text, "kjzy_messages_total", route="-", status="duplicate") == 1
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("kjzy_messages_total{")
    )
    assert total == 4
    count = value(text, "kjzy_handler_seconds_count", route="volunteer.register")
    assert count == 1
    assert value(text, "kjzy_handler_seconds_bucket", route="volunteer.register", le="+Inf") == 1
    assert value(text, "kjzy_handler_seconds_bucket", route="volunteer.register", le="5.0") == 1
    assert 0 < value(text, "kjzy_handler_seconds_sum", route="volunteer.register") < 5
    assert "# TYPE kjzy_handler_seconds histogram" in text


def test_counts_from_every_process_are_summed(build_app: Callable[..., Flask]) -> None:
    one = build_app(metrics_enabled=True, metrics_token=TOKEN)
    two = build_app(metrics_enabled=True, metrics_token=TOKEN)
    user_of(one).click("VOLUNTEER_REGISTER")
    user_of(two).click("VOLUNTEER_REGISTER")
    user_of(two).click("VOLUNTEER_REGISTER")
    two.extensions["metrics"].flush()  # what its flusher thread does every second

    for app in (one, two):
        text = scrape(app)
        assert value(text, "kjzy_messages_total", route="volunteer.register", status="ok") == 3


def test_the_flusher_thread_moves_counts_to_redis(build_app: Callable[..., Flask]) -> None:
    one = build_app(metrics_enabled=True, metrics_token=TOKEN)
    other = build_app(metrics_enabled=True, metrics_token=TOKEN)
    user_of(one).click("VOLUNTEER_REGISTER")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        # `other` flushes only its own (empty) counts: what it sees came through Redis.
        if value(scrape(other), "kjzy_messages_total", route="volunteer.register", status="ok"):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the counts never reached Redis")


def test_notice_sends_by_errcode(
    build_app: Callable[..., Flask], fake_wechat: FakeWeChatState, fake_wechat_url: str
) -> None:
    app = build_app(metrics_enabled=True, metrics_token=TOKEN, wechat_api_base_url=fake_wechat_url)
    fake_wechat.add_template(
        {"template_id": "TPL1", "title": "活动通知", "content": "{{thing1.DATA}}"}
    )
    api = app.extensions["services"].api
    api.send_template("o_reader_1", "TPL1", {"thing1": "科普讲座"})
    fake_wechat.mark_unsubscribed("o_gone")
    with pytest.raises(Exception, match="43004"):
        api.send_template("o_gone", "TPL1", {"thing1": "科普讲座"})

    text = scrape(app)
    assert value(text, "kjzy_notice_sends_total", errcode="0") == 1
    assert value(text, "kjzy_notice_sends_total", errcode="43004") == 1
    calls = value(text, "kjzy_wechat_api_calls_total", api="/cgi-bin/stable_token", errcode="0")
    assert calls == 1


def test_queue_depth(build_app: Callable[..., Flask]) -> None:
    app = build_app(metrics_enabled=True, metrics_token=TOKEN)
    queue = app.extensions["notice_queue"]
    queue.enqueue(999001, copies=2)  # no worker runs: they wait
    try:
        text = scrape(app)
        assert value(text, "kjzy_queue_jobs", queue=queue.queue.name, state="queued") == 2
        assert value(text, "kjzy_queue_jobs", queue=queue.queue.name, state="started") == 0
    finally:
        queue.queue.empty()
