"""The notice send rate, shared by every worker that uses the same Redis.

Sends per second across all workers: a sliding log in one Lua script that reads Redis's own
clock. (limits' moving window stamps entries with each client's clock before the script runs,
so threads and machines push out-of-order stamps; measured with 2 processes x 4 threads at
20/s it let 26 through in one second.) The script runs on the embedded stand-in as well.
(Failed console logins are counted by infra.ratelimit.LoginThrottle.)
"""

from __future__ import annotations

import time

import redis

from config import Settings
from infra.redis import Keys

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
