"""Failed console logins per account and per address, shared by every process on one Redis.

The `limits` library's fixed window (a counter is all it takes); with no Redis server
configured, limits' in-memory storage (one process). The limits themselves are the operator
rules' (services.operators), passed in by the console.
"""

from __future__ import annotations

import threading

import redis
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage, RedisClusterStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from config import Settings
from infra.redis import Keys

_MEMORY: dict[str, MemoryStorage] = {}
_MEMORY_LOCK = threading.Lock()


def storage(settings: Settings, client: redis.Redis, namespace: str) -> Storage:
    """A limits storage whose keys all start with Keys.ratelimit(namespace)."""
    prefix = Keys(settings.redis_prefix).ratelimit(namespace)
    if settings.redis_url is None:
        with _MEMORY_LOCK:  # one per process and namespace, like the embedded Redis
            return _MEMORY.setdefault(prefix, MemoryStorage())
    if settings.redis_is_cluster:
        # limits speaks redis+cluster:// itself (one key per limit: any slot will do).
        return RedisClusterStorage(settings.redis_url, key_prefix=prefix)
    return RedisStorage(
        settings.redis_url, connection_pool=client.connection_pool, key_prefix=prefix
    )


class LoginThrottle:
    """Failed logins per account and per IP address within a fixed window."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        *,
        per_account: int,
        per_ip: int,
        window_minutes: int,
    ) -> None:
        self._limiter = FixedWindowRateLimiter(storage(settings, client, "login"))
        self._account = RateLimitItemPerMinute(per_account, window_minutes)
        self._ip = RateLimitItemPerMinute(per_ip, window_minutes)

    def _item(self, key: str) -> RateLimitItem:
        return self._account if key.startswith("user:") else self._ip

    def blocked(self, *keys: str) -> bool:
        return any(not self._limiter.test(self._item(key), key) for key in keys)

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._limiter.hit(self._item(key), key)
