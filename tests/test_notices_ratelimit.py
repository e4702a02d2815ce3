"""The shared notice send rate (worker.ratelimit): where slots are placed on this process's
clock, and how many sends two pacers sharing one Redis let go in any one second."""

from __future__ import annotations

import asyncio
import bisect
import math
import threading
import time

import pytest
from flask import Flask

from tests.test_console_support import sender_services
from worker import ratelimit
from worker.ratelimit import (
    CLOCK_SAMPLE_SECONDS,
    LATE_SECONDS,
    LEAD_MAX_SECONDS,
    RedisClock,
    SendRateLimiter,
    SlotPacer,
)


def redis_time(local: float) -> int:
    """A Redis clock 5 s behind this process's, in microseconds."""
    return round((local - 5.0) * 1_000_000)


def test_slots_are_placed_by_the_quickest_recent_call() -> None:
    """A slow answer (a busy machine) no longer eats into the slot's tolerance: its slots are
    placed by a quick call's timing, never early, and late by that call's span only."""
    clock = RedisClock()
    # A quick call: Redis read its clock 0.1 ms into a 0.2 ms round trip.
    clock.local(10.0, 10.0002, redis_time(10.0001), redis_time(10.0001))
    # A slow one (30 ms), Redis's clock read 10 ms in; its slot 90 ms after that.
    moment = redis_time(10.6)
    earliest, latest = clock.local(10.5, 10.53, redis_time(10.51), moment)
    true_local = 10.6
    assert true_local <= earliest <= true_local + 0.0002
    assert true_local - 0.0002 <= latest <= true_local
    # By the slow call alone, the slot could only be placed within its 30 ms.
    alone = RedisClock()
    earliest, latest = alone.local(10.5, 10.53, redis_time(10.51), moment)
    assert (earliest, latest) == (10.53 + 0.09, 10.5 + 0.09)
    assert earliest - latest > LATE_SECONDS / 2


def test_an_old_quick_call_is_not_used() -> None:
    """The two clocks may drift apart: a call older than CLOCK_SAMPLE_SECONDS places nothing."""
    clock = RedisClock()
    clock.local(10.0, 10.0002, redis_time(10.0001), redis_time(10.0001))
    later = 10.0 + CLOCK_SAMPLE_SECONDS + 1
    earliest, latest = clock.local(later, later + 0.01, redis_time(later + 0.005), 0)
    assert earliest - latest > 0.0099  # the new call's own span


def busiest_second(times: list[float]) -> int:
    """The most events in any half-open 1-s window [t, t + 1)."""
    return max(bisect.bisect_left(times, start + 1.0) - n for n, start in enumerate(times))


def test_two_pacers_on_one_redis_never_let_more_than_the_limit_go_in_a_second(
    app: Flask,
) -> None:
    """Two workers' pacers (each holding slots reserved ahead) take turns on one schedule: the
    sends they let go, stamped as each wait() returns, never number more than the limit in any
    1-s window (+1: a stamp taken a few µs after its slot's deadline), and none goes while
    another worker's slot is due (two unshared limits would let about twice the limit go)."""
    limit = 40
    services = sender_services(app, notice_sends_per_second=limit)
    pacers = [SlotPacer(SendRateLimiter(services.settings, services.redis)) for _ in range(2)]
    stamps: list[float] = []

    async def sends(pacer: SlotPacer, count: int) -> None:
        for n in range(count):
            await pacer.wait(queued=count - n)
            stamps.append(time.monotonic())

    async def both() -> None:
        await asyncio.gather(*(sends(pacer, 50) for pacer in pacers))

    asyncio.run(both())
    stamps.sort()
    assert len(stamps) == 100
    assert busiest_second(stamps) <= limit + 1
    # Both took part: each pacer reserved slots, and the schedule was shared, not doubled.
    assert all(pacer.stats.reservations >= 1 for pacer in pacers)
    assert stamps[-1] - stamps[0] >= 99 / limit


def run_worker_loops(
    pacers: list[SlotPacer], count: int, stall: tuple[int, int, float] | None = None
) -> list[list[float]]:
    """Each pacer in a thread of its own with its own event loop (as in separate worker
    processes), all started at one moment, each letting `count` sends go; the moments its
    wait() returned. `stall` (pacer, after how many sends, seconds): that pacer's loop is
    blocked for that long (a process the machine did not schedule), holding its slots."""
    stamps: list[list[float]] = [[] for _ in pacers]
    start = threading.Barrier(len(pacers))

    def work(n: int) -> None:
        async def sends() -> None:
            start.wait()
            for sent in range(count):
                if stall is not None and stall[:2] == (n, sent):
                    time.sleep(stall[2])  # blocks the loop: the slots it holds pass by
                await pacers[n].wait(queued=count - sent)
                stamps[n].append(time.monotonic())

        asyncio.run(sends())

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(pacers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stamps


def first_second(times: list[float]) -> int:
    return bisect.bisect_left(times, times[0] + 1.0)


@pytest.mark.parametrize("limit", [40, 400])
def test_two_workers_starting_together_keep_the_limit_from_the_first_second(
    app: Flask, limit: int
) -> None:
    """Two workers' pacers starting at the same moment continue one schedule: the first slot
    of the one that asks second comes after the other's, so the first 1-s window (and every
    other) holds at most the limit (+1: a stamp a few µs after its slot's deadline), not a
    first second's budget each."""
    services = sender_services(app, notice_sends_per_second=limit)
    pacers = [SlotPacer(SendRateLimiter(services.settings, services.redis)) for _ in range(2)]
    count = limit * 3 // 4
    stamps = run_worker_loops(pacers, count)
    both = sorted(stamps[0] + stamps[1])
    assert len(both) == 2 * count and all(stamps)
    assert first_second(both) <= limit + 1
    assert busiest_second(both) <= limit + 1
    assert both[-1] - both[0] >= (2 * count - 1) / limit  # one schedule, not two


def test_a_stalled_worker_does_not_burst_when_it_wakes(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose loop is blocked for 0.4 s (the machine did not schedule it) finds its
    reserved slots gone by: it gives them up rather than sending them late together, so no 1-s
    window gets more than the limit; the other worker goes on taking the schedule meanwhile;
    and the stalled one held no more slots than its lead and its runs allow. At the
    longest lead (a slow Redis), so that it holds more slots than LATE_SECONDS' worth."""
    monkeypatch.setattr(ratelimit, "LEAD_MIN_SECONDS", LEAD_MAX_SECONDS)
    limit = 400
    services = sender_services(app, notice_sends_per_second=limit)
    pacers = [SlotPacer(SendRateLimiter(services.settings, services.redis)) for _ in range(2)]
    stamps = run_worker_loops(pacers, 400, stall=(0, 100, 0.4))
    both = sorted(stamps[0] + stamps[1])
    summary = [pacer.stats.summary() for pacer in pacers]
    assert len(both) == 800
    assert busiest_second(both) <= limit + 1, summary
    assert first_second(both) <= limit + 1, summary
    stalled_from, stalled_to = stamps[0][99], stamps[0][100]
    assert stalled_to - stalled_from >= 0.4
    assert any(stalled_from < t < stalled_to for t in stamps[1])  # the other one went on
    # At most a lead's worth held, the run in hand and one under way (as long as the lead).
    held = math.ceil(3 * LEAD_MAX_SECONDS * limit) + 1
    assert pacers[0].stats.late <= held, summary
