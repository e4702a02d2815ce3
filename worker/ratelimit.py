"""Rate limits on Redis through the `limits` library: shared by every process that uses the
same Redis (sends per second across all workers, failed logins across web processes).

With no Redis server configured (embedded default), limits' in-memory storage is used: there is
only one process then, so nothing needs sharing.
"""

from __future__ import annotations

import threading
import time

import redis
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from config import Settings
from infra.redis import Keys
from services.operators import (
    LOGIN_FAILURES_PER_ACCOUNT,
    LOGIN_FAILURES_PER_IP,
    LOGIN_WINDOW_MINUTES,
)

_MEMORY: dict[str, MemoryStorage] = {}
_MEMORY_LOCK = threading.Lock()


def storage(settings: Settings, client: redis.Redis, namespace: str) -> Storage:
    """A limits storage whose keys all start with Keys.ratelimit(namespace)."""
    prefix = Keys(settings.redis_prefix).ratelimit(namespace)
    if settings.redis_url is None:
        with _MEMORY_LOCK:  # one per process and namespace, like the embedded Redis
            return _MEMORY.setdefault(prefix, MemoryStorage())
    return RedisStorage(
        settings.redis_url, connection_pool=client.connection_pool, key_prefix=prefix
    )


class SendRateLimiter:
    """At most `per_second` sends in any one-second window, across every worker."""

    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        self.per_second = settings.notice_sends_per_second
        self._item: RateLimitItem = RateLimitItemPerSecond(self.per_second)
        self._limiter = MovingWindowRateLimiter(storage(settings, client, "notices"))

    def acquire(self) -> None:
        """Block until a send is allowed."""
        while not self._limiter.hit(self._item, "send"):
            reset_at = self._limiter.get_window_stats(self._item, "send").reset_time
            time.sleep(min(max(reset_at - time.time(), 0.002), 0.25))


class LoginThrottle:
    """Failed logins per account and per IP address within a fixed window."""

    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        self._limiter = FixedWindowRateLimiter(storage(settings, client, "login"))
        self._account = RateLimitItemPerMinute(LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_MINUTES)
        self._ip = RateLimitItemPerMinute(LOGIN_FAILURES_PER_IP, LOGIN_WINDOW_MINUTES)

    def _item(self, key: str) -> RateLimitItem:
        return self._account if key.startswith("user:") else self._ip

    def blocked(self, *keys: str) -> bool:
        return any(not self._limiter.test(self._item(key), key) for key in keys)

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._limiter.hit(self._item(key), key)
