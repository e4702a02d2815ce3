"""Pytest plugin: the fake WeChat API server on loopback, and a WeChatAPI pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from config import Settings
from infra.redis import Keys
from sandbox.fake_wechat import FakeWeChatServer, FakeWeChatState
from sandbox.fake_wechat_fast import FastFakeWeChatServer
from wechat.client import WeChatAPI

# The credentials tests/conftest.py puts in Settings.
TEST_APP_ID = "wx1234567890abcdef"
TEST_APP_SECRET = "test-app-secret"


@pytest.fixture(scope="session")
def fake_wechat_server() -> Iterator[FakeWeChatServer]:
    with FakeWeChatServer(TEST_APP_ID, TEST_APP_SECRET) as server:
        yield server


@pytest.fixture(scope="session")
def fast_fake_wechat_server(
    fake_wechat_server: FakeWeChatServer,
) -> Iterator[FastFakeWeChatServer]:
    """The same fake (the same state) served by the asyncio server the benchmarks use."""
    with FastFakeWeChatServer(fake_wechat_server.app) as server:
        yield server


@pytest.fixture
def fake_wechat(fake_wechat_server: FakeWeChatServer) -> FakeWeChatState:
    """The fake's state, reset for this test."""
    fake_wechat_server.state.reset()
    return fake_wechat_server.state


@pytest.fixture
def fake_wechat_url(fake_wechat_server: FakeWeChatServer, fake_wechat: FakeWeChatState) -> str:
    return fake_wechat_server.url


@pytest.fixture
def wechat_api(settings: Settings, redis_client: redis.Redis) -> Iterator[WeChatAPI]:
    api = WeChatAPI(settings, redis_client, Keys(settings.redis_prefix))
    yield api
    api.close()
