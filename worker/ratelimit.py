"""Rate limits shared by every process that uses the same Redis.

- Sends per second across all workers: a sliding log in one Lua script that reads Redis's own
  clock. (limits' moving window stamps entries with each client's clock before the script runs,
  so threads and machines push out-of-order stamps; measured with 2 processes x 4 threads at
  20/s it let 26 through in one second.) The script runs on the embedded stand-in as well.
- Failed logins per account and address: the `limits` library's fixed window (a counter is all
  it takes); with no Redis server configured, limits' in-memory storage (one process).
"""

from __future__ import annotations

import threading
import time

import redis
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

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


# KEYS[1]: the log (newest first); ARGV: limit, window in microseconds.
# Returns 0 when a send may go now (and logs it), else the microseconds to wait.
_SLIDING_LOG = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local oldest = redis.call('LINDEX', KEYS[1], limit - 1)
if oldest and now - tonumber(oldest) < window then
  return window - (now - tonumber(oldest))
end
redis.call('LPUSH', KEYS[1], now)
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('PEXPIRE', KEYS[1], math.floor(window / 1000) + 1000)
return 0
"""
WINDOW_MICROSECONDS = 1_000_000


class SendRateLimiter:
    """At most `notice_sends_per_second` sends in any one second (by Redis's clock), across
    every worker on every machine."""

    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        self.per_second = settings.notice_sends_per_second
        self._key = Keys(settings.redis_prefix).ratelimit("notice-sends")
        self._script = client.register_script(_SLIDING_LOG)

    def acquire(self) -> None:
        """Block until a send is allowed."""
        while True:
            wait = int(self._script(keys=[self._key], args=[self.per_second, WINDOW_MICROSECONDS]))
            if wait <= 0:
                return
            time.sleep(wait / 1_000_000)


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
