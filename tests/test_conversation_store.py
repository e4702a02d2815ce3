"""One contract, two stores: Redis (real server in CI) and in-memory."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from config import Settings
from infra.redis import Keys
from wechat.conversation import ConversationStore, MemoryStore, RedisStore


@pytest.fixture(params=["redis", "memory"])
def store(
    request: pytest.FixtureRequest, redis_client: redis.Redis, settings: Settings
) -> Iterator[ConversationStore]:
    if request.param == "redis":
        yield RedisStore(redis_client, Keys(settings.redis_prefix))
    else:
        yield MemoryStore()


def test_missing_is_none(store: ConversationStore) -> None:
    assert store.get("nobody") is None


def test_round_trip_is_json(store: ConversationStore) -> None:
    doc = {"flow": "f", "data": {"name": "阿卜杜拉·买买提", "skills": ["科学普及"]}, "version": 3}
    store.put("u1", doc, 60)
    assert store.get("u1") == doc
    doc["version"] = 4  # the store keeps a copy, not a reference
    assert store.get("u1") == {**doc, "version": 3}


def test_put_replaces_and_delete_removes(store: ConversationStore) -> None:
    store.put("u1", {"v": 1}, 60)
    store.put("u1", {"v": 2}, 60)
    assert store.get("u1") == {"v": 2}
    store.delete("u1")
    assert store.get("u1") is None
    store.delete("u1")  # deleting twice is fine


def test_users_are_separate(store: ConversationStore) -> None:
    store.put("u1", {"v": 1}, 60)
    store.put("u2", {"v": 2}, 60)
    assert store.get("u1") == {"v": 1}
    assert store.get("u2") == {"v": 2}


def test_ttl_expires_the_document(store: ConversationStore) -> None:
    store.put("u1", {"v": 1}, 1)
    time.sleep(1.1)
    assert store.get("u1") is None


def test_redis_key_layout_and_ttl(redis_client: redis.Redis, settings: Settings) -> None:
    RedisStore(redis_client, Keys(settings.redis_prefix)).put("u1", {"v": 1}, 100)
    key = f"{settings.redis_prefix}conv:u1"
    assert 0 < redis_client.ttl(key) <= 100
