"""The notice send rate, shared by every worker that uses the same Redis.

Sends per second across all workers: GCRA in one Lua script that reads Redis's own clock, each
send owning its own evenly spaced slot. (A window that admits a second's permits at once let
27-34 sends reach WeChat within one second at a limit of 20; limits' moving window stamps
entries with each client's clock, so machines push out-of-order stamps.) The script runs on the
embedded stand-in as well. (Failed console logins are counted by infra.ratelimit.LoginThrottle.)

A worker reserves the slots of its coming sends with one call (a run of consecutive slots, as
long as the lead, at least CHUNK_SECONDS), and the next run a lead before the last slot it
holds comes, so the shared schedule never stands idle while sends wait. The lead is twice the longest of its
reservations' round trips (Redis and the executor's hop back) in the last LEAD_MEMORY_SECONDS,
within LEAD_MIN_SECONDS and LEAD_MAX_SECONDS: slots held ahead are lost when their worker stalls (another worker cannot
take them, and they cannot be sent later without crowding the slots after them), so a worker
holds no more of the schedule than its own round trips make it need.

Each send goes at its slot; one that wakes more than LATE_SECONDS after it (a busy machine)
gives the slot up and takes a new one, so a late send never crowds the sends after it: any one
second sees the sends of the slots of at most 1 + LATE_SECONDS seconds, and the slots are paced
at the limit / (1 + LATE_SECONDS).
Where the rate went (slots given up, the schedule idle, the sender's waits) is in PacerStats.
"""

from __future__ import annotations

import asyncio
import math
import threading
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
local idle = -1
if tat > 0 then idle = now - tat end
return {now, slot, idle}
"""
MICROSECONDS = 1_000_000
# A send may go at most this long after its slot (else the slot is given up), so any one second
# sees the sends of the slots of 1 + LATE_SECONDS seconds: the slots are paced at the limit
# divided by that, and no second gets more than the limit.
LATE_SECONDS = 0.03
PACE = 1 / (1 + LATE_SECONDS)
# How old a call's timing may be to place slots by it (the two clocks may drift apart).
CLOCK_SAMPLE_SECONDS = 2.0
# A worker reserves the next run of slots a lead before the last slot it holds: twice its
# slowest recent reservation, within these bounds; a run is at most as long as the lead (at
# least CHUNK_SECONDS), since one reservation is under way at a time: runs shorter than the
# round trip would leave the schedule idle however early they were asked for.
CHUNK_SECONDS = 0.02
LEAD_MIN_SECONDS = 0.02
LEAD_MAX_SECONDS = 0.1
# The reservations' round trips of the last this long set the lead (a machine's hiccups come
# every second or so: the lead is not shortened again right after one).
LEAD_MEMORY_SECONDS = 2.0


class SendRateLimiter:
    """Sends spread evenly at `notice_sends_per_second` (by Redis's clock), across every worker
    on every machine: each send gets its own slot, one interval after the one before."""

    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        self.per_second = settings.notice_sends_per_second
        self.interval = max(1, math.ceil(MICROSECONDS / (self.per_second * PACE)))  # never shorter
        self._key = Keys(settings.redis_prefix).ratelimit("notice-sends")
        self._script = client.register_script(_GCRA)
        # How long the shared schedule had stood idle when the last reserve() came (< 0: it
        # had not; -1: no schedule yet).
        self.last_idle = -1.0
        self._clock = RedisClock()

    def slots_in(self, seconds: float) -> int:
        """How many slots a run of `seconds` holds (at least one)."""
        return max(1, int(seconds * MICROSECONDS / self.interval))

    def reserve(self, count: int = 1) -> list[tuple[float, float]]:
        """Take the next `count` slots: for each, by time.monotonic(), when its send may go and
        by when it must have gone (else the slot is given up)."""
        called = time.monotonic()
        now, slot, idle = self._script(keys=[self._key], args=[self.interval, count])
        answered = time.monotonic()
        self.last_idle = int(idle) / MICROSECONDS
        earliest, latest = self._clock.local(called, answered, int(now), int(slot))
        step = self.interval / MICROSECONDS
        return [(earliest + n * step, latest + n * step + LATE_SECONDS) for n in range(count)]

    def acquire(self) -> None:
        """Block until this caller's slot has come (a new slot if it woke too late)."""
        while True:
            ((start, deadline),) = self.reserve()
            wait = start - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if time.monotonic() <= deadline:
                return


class RedisClock:
    """Redis's clock (the slots' times) on this process's time.monotonic().

    Redis reads its clock somewhere between our call and its answer. Placed by one call alone,
    a slot goes by the answer's arrival (never early) and must have gone by the call's start
    plus LATE_SECONDS: a slow answer (a busy machine: 10-30 ms here) ate into that tolerance,
    and the sends of its slots were given up for a few ms of lateness. So slots are placed by
    the quickest call of the last CLOCK_SAMPLE_SECONDS (this one included), whose answer came
    within a fraction of a millisecond: still never early, and late by its own short span."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (called, answered, Redis µs) of the latest calls
        self._samples: deque[tuple[float, float, int]] = deque(maxlen=64)

    def local(self, called: float, answered: float, now: int, moment: int) -> tuple[float, float]:
        """Redis's `moment` (µs) as the earliest and the latest local time it may be, by the
        best recent call; (called, answered) timed the call that read Redis's clock as `now`."""
        with self._lock:
            samples = self._samples
            samples.append((called, answered, now))
            while samples[0][1] < answered - CLOCK_SAMPLE_SECONDS:
                samples.popleft()
            best = min(samples, key=lambda sample: sample[1] - sample[0])
        since = (moment - best[2]) / MICROSECONDS
        return best[1] + since, best[0] + since


class SlotPacer:
    """The limiter for the sends of one event loop (its dispatcher, and sends repeated). One
    Redis call reserves the slots of the sends queued at that moment (at most a run), in the
    loop's executor so that the sends in flight go on meanwhile; each send sleeps until its
    own slot. The next slots are reserved a lead before the last one held comes, while
    sends are still going: the shared schedule never stands idle while sends wait for it
    (reserving only once the slots ran out lost the time of the Redis call, and of the
    executor's hop back to the loop, at every run: a third of the rate on a loaded machine).
    The lead follows the reservations' own round trips (`lead`), so that a worker that stalls
    loses few slots: it holds little of the schedule ahead. Several coroutines of the loop may
    wait at once (a send repeated with a new token takes a slot of its own); each gets its own
    slot."""

    def __init__(self, limiter: SendRateLimiter) -> None:
        self._limiter = limiter
        self._slots: deque[tuple[float, float]] = deque()  # (start, deadline)
        self._refill: asyncio.Future[list[tuple[float, float]]] | None = None
        self._round_trips: deque[tuple[float, float]] = deque()  # (answered, round trip)
        self.lead = LEAD_MIN_SECONDS
        self.stats = PacerStats()

    def _reserve(self, count: int) -> asyncio.Future[list[tuple[float, float]]]:
        """Reserve `count` slots in the executor; its round trip (until the loop is told the
        answer) sets the lead."""
        asked = time.monotonic()

        def answered(_: object) -> None:
            now = time.monotonic()
            trips = self._round_trips
            trips.append((now, now - asked))
            while trips[0][0] < now - LEAD_MEMORY_SECONDS:
                trips.popleft()
            longest = max(trip for _, trip in trips)
            self.lead = min(max(2 * longest, LEAD_MIN_SECONDS), LEAD_MAX_SECONDS)
            self.stats.lead = max(self.stats.lead, self.lead)

        future = asyncio.get_running_loop().run_in_executor(None, self._limiter.reserve, count)
        future.add_done_callback(answered)
        return future

    async def wait(self, queued: int = 1) -> None:
        """Until the next slot; `queued`: how many sends wait for slots, this one included."""
        stats = self.stats
        while True:
            now = time.monotonic()
            while self._slots and self._slots[0][1] < now:
                self._slots.popleft()  # nobody took it in time
                stats.late += 1
            if self._refill is None and (
                not self._slots
                or (queued > len(self._slots) and self._slots[-1][0] - now < self.lead)
            ):
                run = self._limiter.slots_in(max(CHUNK_SECONDS, self.lead))
                wanted = max(1, min(queued - len(self._slots), run))
                self._refill = self._reserve(wanted)
            if self._refill is not None and (not self._slots or self._refill.done()):
                refill, self._refill = self._refill, None
                slots = await refill
                self._slots.extend(slots)
                stats.reservations += 1
                stats.slots += len(slots)
                if 0 < self._limiter.last_idle < 1:
                    stats.idle += self._limiter.last_idle
                continue
            start, deadline = self._slots.popleft()
            wait = start - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            if now <= deadline:
                stats.went(now - start)
                return
            stats.late += 1


class PacerStats:
    """What a pacer did, for the log and the benchmark: where the rate went."""

    def __init__(self) -> None:
        self.reservations = 0  # Redis calls
        self.slots = 0  # slots reserved
        self.late = 0  # slots given up: their send woke too late, or none was queued
        self.idle = 0.0  # seconds the shared schedule stood idle before our reservations
        self.lead = 0.0  # the longest lead (s): how far ahead slots were reserved
        self.lateness = [0, 0, 0, 0]  # sends that went < 1 ms, < 5 ms, < 15 ms, later
        self.waited = [0.0, 0.0, 0.0]  # the dispatcher's waits (s): rows, room, recording

    def went(self, late: float) -> None:
        self.lateness[0 if late < 0.001 else 1 if late < 0.005 else 2 if late < 0.015 else 3] += 1

    def summary(self) -> str:
        return (
            f"{self.slots} slots in {self.reservations} reservations (lead up to "
            f"{self.lead * 1000:.0f} ms), {self.late} given up, "
            f"schedule idle {self.idle * 1000:.0f} ms before them; sends late <1/<5/<15/more "
            f"ms: {'/'.join(map(str, self.lateness))}; dispatcher waited "
            f"{self.waited[0]:.2f} s for rows, {self.waited[1]:.2f} s for room in flight, "
            f"{self.waited[2]:.2f} s for outcomes to be recorded"
        )
