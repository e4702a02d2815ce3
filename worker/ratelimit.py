"""The notice send rate, shared by every worker that uses the same Redis.

Sends per second across all workers: GCRA in one Lua script that reads Redis's own clock, each
send owning its own evenly spaced slot. (A window that admits a second's permits at once let
27-34 sends reach WeChat within one second at a limit of 20; limits' moving window stamps
entries with each client's clock, so machines push out-of-order stamps.) The script runs on the
embedded stand-in as well. (Failed console logins are counted by infra.ratelimit.LoginThrottle.)

A worker reserves the slots of its coming sends with one call (a run of consecutive slots, at
most CHUNK_SECONDS of them), and each send goes at its slot. A send that wakes more
than LATE_SECONDS after its slot (a busy machine) gives the slot up and takes a new one, so a
late send never crowds the sends after it: any one second sees the sends of the slots in at most
1 + LATE_SECONDS seconds, (1 + 0.03) x 0.97 < 1 of the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import redis

from config import Settings
from infra.redis import Keys

# GCRA with reservations, on Redis's own clock. KEYS[1] holds the theoretical arrival time: the
# earliest moment of the next send (microseconds). A call takes the next ARGV[2] free slots, the
# first at least one interval after the previous call's last one, and returns how long the
# caller waits for its first slot (0: now). No burst: an idle limiter does not save up permits.
# ARGV[1]: the interval between sends in microseconds.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(tat, now)
local after = slot + count * interval
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.floor((after - now) / 1000) + 1000)
return slot - now
"""
MICROSECONDS = 1_000_000
# Paced a little under the limit; a slot woken up for later than this is given up.
PACE = 0.97
LATE_SECONDS = 0.03
# A worker reserves at most this long a run of slots at once.
CHUNK_SECONDS = 0.05


class SendRateLimiter:
    """Sends spread evenly at `notice_sends_per_second` (by Redis's clock), across every worker
    on every machine: each send gets its own slot, one interval after the one before."""

    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        self.per_second = settings.notice_sends_per_second
        self.interval = max(1, round(MICROSECONDS / (self.per_second * PACE)))
        self.chunk = max(1, int(CHUNK_SECONDS * MICROSECONDS / self.interval))
        self._key = Keys(settings.redis_prefix).ratelimit("notice-sends")
        self._script = client.register_script(_GCRA)

    def reserve(self, count: int = 1) -> list[tuple[float, float]]:
        """Take the next `count` slots: for each, by time.monotonic(), when its send may go and
        by when it must have gone (else the slot is given up).

        Redis's clock is read somewhere between our call and its answer: a slot is placed by
        the answer's arrival (never early) and is late by the call's start (never more than
        LATE_SECONDS late), so a slow answer (a busy machine) cannot bunch sends together."""
        called = time.monotonic()
        wait = int(self._script(keys=[self._key], args=[self.interval, count])) / MICROSECONDS
        answered = time.monotonic()
        step = self.interval / MICROSECONDS
        return [
            (answered + wait + n * step, called + wait + n * step + LATE_SECONDS)
            for n in range(count)
        ]

    def acquire(self) -> None:
        """Block until this caller's slot has come (a new slot if it woke too late)."""
        while True:
            ((start, deadline),) = self.reserve()
            wait = start - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if time.monotonic() <= deadline:
                return


class SlotPacer:
    """The limiter for the sends of one event loop, taken by one dispatcher at a time: one
    Redis call reserves the slots of the sends queued at that moment (at most a chunk), in the
    loop's executor so that the sends in flight go on meanwhile; each send sleeps until its
    own slot."""

    def __init__(self, limiter: SendRateLimiter) -> None:
        self._limiter = limiter
        self._slots: deque[tuple[float, float]] = deque()  # (start, deadline)
        self.reservations = 0  # Redis calls so far
        self.late = 0  # slots given up: their send woke too late

    async def wait(self, queued: int = 1) -> None:
        """Until the next slot; `queued`: how many sends wait for slots, this one included."""
        while True:
            now = time.monotonic()
            while self._slots and self._slots[0][1] < now:
                self._slots.popleft()  # nobody took it in time
            if not self._slots:
                wanted = max(1, min(queued, self._limiter.chunk))
                loop = asyncio.get_running_loop()
                self._slots.extend(await loop.run_in_executor(None, self._limiter.reserve, wanted))
                self.reservations += 1
            start, deadline = self._slots.popleft()
            wait = start - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if time.monotonic() <= deadline:
                return
            self.late += 1
