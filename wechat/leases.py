"""Leases on the Redis keys a message holds while it is handled (its dedup marker, its user's
lock), renewed by a background thread of the process that handles it.

A process that dies (SIGKILL, a lost host) stops renewing: within LEASE_SECONDS its keys expire,
and WeChat's retry, on another instance, takes the message over instead of waiting for an
answer that will never come. A live process keeps them however long its handler runs, up to the
bound given per hold (the user lock's longest hold), so a stuck handler cannot lock a user out
for ever.

One Redis round trip per RENEW_SECONDS per process, only while messages are in flight; none on
a message's own path.
"""

from __future__ import annotations

import logging
import threading
import time
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

    def hold(self, owner: str, key: str, value: bytes | str, *, at_most: float) -> None:
        """Keep `key` (holding `value`) alive for `owner`, for `at_most` seconds at most."""
        raw = value.encode() if isinstance(value, str) else value
        with self._lock:
            held = self._holds.get(owner)
            if held is None:
                self._holds[owner] = _Hold({key: raw}, time.monotonic() + at_most)
            else:
                held.values[key] = raw
            if self._thread is None or not self._thread.is_alive():
                # Started in the process that handles messages (after gunicorn forked).
                self._thread = threading.Thread(
                    target=self._run, name="dispatch-leases", daemon=True
                )
                self._thread.start()

    def release(self, owner: str) -> None:
        with self._lock:
            self._holds.pop(owner, None)

    def _run(self) -> None:
        while not self._stopped.wait(RENEW_SECONDS):
            try:
                self.renew()
            except Exception as exc:  # Redis lost, or the client closed while we ran
                if self._stopped.is_set():
                    return
                log.warning("lease renewal failed: %s", type(exc).__name__)

    def renew(self) -> None:
        now = time.monotonic()
        with self._lock:
            for owner in [o for o, h in self._holds.items() if h.until <= now]:
                del self._holds[owner]  # held too long: let it expire
            groups = [dict(held.values) for held in self._holds.values()]
        if not self._per_owner:
            groups = [{key: value for group in groups for key, value in group.items()}]
        for group in groups:
            if group:
                self._renew(keys=list(group), args=[self.lease_ms, *group.values()])

    def stop(self) -> None:
        self._stopped.set()
