"""The notice send rate, shared by every worker that uses the same Redis.

Sends per second across all workers: GCRA in one Lua script that reads Redis's own clock, each
send reserving its own evenly spaced slot. (A window that admits a second's permits at once let
27-34 sends reach WeChat within one second at a limit of 20; limits' moving window stamps
entries with each client's clock, so machines push out-of-order stamps.) The script runs on the
embedded stand-in as well. (Failed console logins are counted by infra.ratelimit.LoginThrottle.)
"""

from __future__ import annotations

import time

import redis

from config import Settings
from infra.redis import Keys

# GCRA with reservations, on Redis's own clock. KEYS[1] holds the theoretical arrival time: the
# earliest moment of the next send (microseconds). Each call takes the next free slot, at least
# one interval after the previous one, and returns how long the caller waits for it (0: now).
# No burst: an idle limiter does not save up permits, so no second ever sees more than its share.
# ARGV: the interval between sends in microseconds.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(tat, now)
local ttl = math.floor((slot + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', ttl)
return slot - now
"""
# A caller wakes for its slot a little late now and then (a busy machine): a late send followed
# by punctual ones would crowd a second. So on waking it checks in: KEYS[1] holds when the last
# send went (Redis's clock); closer than ARGV[1] microseconds to it, the caller waits the rest.
_CHECK_IN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local gap = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if now - last < gap then
  return gap - (now - last)
end
redis.call('SET', KEYS[1], string.format('%.0f', now), 'PX', 60000)
return 0
"""
MICROSECONDS = 1_000_000
# Paced a little under the limit (95 %), and no two sends closer than 90 % of the interval: a
# second sees more than the limit + 5 % only if sends are held up for over 100 ms after they
# checked in (the network, a stalled process) and then arrive together.
PACE = 0.95
MIN_GAP = 0.9


class SendRateLimiter:
    """Sends spread evenly at `notice_sends_per_second` (by Redis's clock), across every worker
    on every machine: each send gets its own slot, one interval after the one before."""

    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        self.per_second = settings.notice_sends_per_second
        self.interval = max(1, round(MICROSECONDS / (self.per_second * PACE)))
        self.min_gap = max(1, round(self.interval * MIN_GAP))
        keys = Keys(settings.redis_prefix)
        self._key = keys.ratelimit("notice-sends")
        self._last_key = keys.ratelimit("notice-sends-last")
        self._script = client.register_script(_GCRA)
        self._check_in = client.register_script(_CHECK_IN)

    def reserve(self) -> float:
        """Take the next slot; the seconds until it comes."""
        return int(self._script(keys=[self._key], args=[self.interval])) / MICROSECONDS

    def acquire(self) -> None:
        """Block until this caller's slot has come and the last send is far enough back."""
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)
        while (gap := self._check_in_now()) > 0:
            time.sleep(gap)

    def _check_in_now(self) -> float:
        return int(self._check_in(keys=[self._last_key], args=[self.min_gap])) / MICROSECONDS
