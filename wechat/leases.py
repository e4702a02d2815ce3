"""Leases on the Redis keys a message holds while it is handled (its dedup marker, its user's
lock), renewed by a background thread of the process that handles it.

A process that dies (SIGKILL, a lost host) stops renewing: within LEASE_SECONDS its keys expire,
and WeChat's retry, on another instance, takes the message over instead of waiting for an
answer that will never come. A live process keeps them however long its handler runs, up to the
bound given per hold (the user lock's longest hold), so a stuck handler cannot lock a user out
for ever.

One Redis round trip per RENEW_SECONDS per process, only while messages older than
RENEW_SECONDS are in flight: a message answered in a few milliseconds is never renewed, and costs
its path only a dict entry (no thread wake-up, no round trip).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from redis.cluster import RedisCluster

log = logging.getLogger("wechat.leases")

LEASE_SECONDS = 2.0
RENEW_SECONDS = 0.5

# KEYS: held keys. ARGV[1]: lease (ms), then the value each key must still hold. Extends a key
# only while it holds that value: an answer already stored keeps its own (longer) TTL.
_RENEW = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then redis.call('PEXPIRE', key, ARGV[1]) end
end
return 1
"""


@dataclass
class _Hold:
    values: dict[str, bytes]
    since: float
    until: float


class LeaseKeeper:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        # A cluster runs a script on one slot only: one call per owner (its keys share the
        # user's {openid} tag), instead of one for all.
        self._per_owner = isinstance(client, RedisCluster)
        self.lease_ms = int(LEASE_SECONDS * 1000)
        self._renew = client.register_script(_RENEW)
        self._holds: dict[str, _Hold] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        # Also run every RENEW_SECONDS by the same thread (the dispatcher reads the answers to
        # finishes it did not wait for); its errors are logged.
        self.tick: Callable[[], None] | None = None

    def hold(self, owner: str, key: str, value: bytes | str, *, at_most: float) -> None:
        """Keep `key` (holding `value`) alive for `owner`, for `at_most` seconds at most."""
        self.hold_all(owner, {key: value}, at_most=at_most)

    def hold_all(self, owner: str, values: dict[str, bytes | str], *, at_most: float) -> None:
        """`hold` for several keys at once."""
        raw = {k: v.encode() if isinstance(v, str) else v for k, v in values.items()}
        now = time.monotonic()
        with self._lock:
            held = self._holds.get(owner)
            if held is None:
                self._holds[owner] = _Hold(raw, now, now + at_most)
            else:
                held.values.update(raw)
            if self._thread is None or not self._thread.is_alive():
                # Started in the process that handles messages (after the web server forked).
                self._thread = threading.Thread(
                    target=self._run, name="dispatch-leases", daemon=True
                )
                self._thread.start()

    def release(self, owner: str) -> None:
        with self._lock:
            self._holds.pop(owner, None)

    def _run(self) -> None:
        while not self._stopped.wait(RENEW_SECONDS):
            if self.tick is not None:
                try:
                    self.tick()
                except Exception as exc:
                    if self._stopped.is_set():
                        return
                    log.warning("lease tick failed: %s", type(exc).__name__)
            try:
                self.renew()
            except Exception as exc:  # Redis lost, or the client closed while we ran
                if self._stopped.is_set():
                    return
                log.warning("lease renewal failed: %s", type(exc).__name__)

    def renew(self) -> None:
        """Extend the leases held for RENEW_SECONDS or more: the rest were set (with a full
        lease) less than RENEW_SECONDS ago, and the next tick comes before they run out."""
        now = time.monotonic()
        born_before = now - RENEW_SECONDS
        with self._lock:
            for owner in [o for o, h in self._holds.items() if h.until <= now]:
                del self._holds[owner]  # held too long: let it expire
            groups = [dict(h.values) for h in self._holds.values() if h.since <= born_before]
        if not self._per_owner:
            groups = [{key: value for group in groups for key, value in group.items()}]
        for group in groups:
            if group:
                self._renew(keys=list(group), args=[self.lease_ms, *group.values()])

    def stop(self) -> None:
        self._stopped.set()
