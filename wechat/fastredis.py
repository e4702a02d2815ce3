"""Redis commands on the message path with one round trip and little else.

redis-py spends about 100 µs of CPU around each command (connection pool bookkeeping, retries,
observability hooks, response callbacks): on a 「帮助」 that is more than the work it stands for.
Here a command is packed (hiredis), sent on a connection this object keeps to itself, and its
answer read: about 15 µs. The connections come from the client's own pool (same address,
credentials, TLS, timeouts); each is used by one thread at a time (taken from and put back on a
deque, which is atomic in CPython). At most `MAX_IDLE` are kept here between calls: a burst of
threads beyond that gives the extra connections back to the pool, so redis-py's own commands
never find the pool emptied by this object; `close` gives back the rest.

Errors are redis-py's own (RedisError and subclasses). A connection that fails is dropped; a
ConnectionError (a connection closed while idle, a restarted server) is retried once on a fresh
connection, as redis-py's default retry would. A script unknown to the server (NOSCRIPT: after a
restart or a failover) is sent once with its source.

Only for a plain server client (redis.Redis over TCP/TLS/a Unix socket). For a Redis Cluster, or
the in-process stand-in, `FastRedis.enabled` is False and callers use redis-py.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Sequence
from typing import Any

import redis
from hiredis import pack_command
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

Arg = str | bytes | int | float

# Connections kept between calls: about one per thread that serves messages (gthread's threads
# plus the dispatch pool) in a process.
MAX_IDLE = 32


def _plain(client: object) -> bool:
    pool = getattr(client, "connection_pool", None)
    if not isinstance(client, redis.Redis) or pool is None:
        return False
    module = getattr(pool.connection_class, "__module__", "")
    return module == "redis.connection"


class FastRedis:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.enabled = _plain(client)
        self._idle: deque[Any] = deque()
        self._pid = os.getpid()

    def _take(self) -> Any:
        if self._pid != os.getpid():  # forked: the parent's connections are not ours
            self._idle, self._pid = deque(), os.getpid()
        try:
            return self._idle.pop()
        except IndexError:
            return self.client.connection_pool.get_connection()

    def _put(self, conn: Any) -> None:
        if len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        else:
            self.client.connection_pool.release(conn)

    def _drop(self, conn: Any) -> None:
        conn.disconnect()
        self.client.connection_pool.release(conn)

    def close(self) -> None:
        """Give every idle connection back to the client's pool (which closes them with it)."""
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                return
            self.client.connection_pool.release(conn)

    def idle(self) -> int:
        return len(self._idle)

    def _send(self, conn: Any, args: tuple[Arg, ...]) -> Any:
        # redis-py encodes each argument in Python before hiredis packs them: hiredis alone will do
        packed = [pack_command(args)]  # type: ignore[arg-type]  # its stub says a 1-tuple
        conn.send_packed_command(packed, check_health=False)
        return conn.read_response()

    def call(self, *args: Arg) -> Any:
        """One command, one round trip: its answer as redis-py's parser gives it (no response
        callbacks: SET answers b'OK' or None, GET bytes or None)."""
        if not self.enabled:
            return self.client.execute_command(*args)
        for attempt in (1, 2):
            conn = self._take()
            try:
                answer = self._send(conn, args)
            except RedisConnectionError:
                self._drop(conn)
                if attempt == 2:
                    raise
                continue
            except ResponseError:  # the server's answer: the connection is fine
                self._put(conn)
                raise
            except BaseException:
                self._drop(conn)
                raise
            self._put(conn)
            return answer
        raise AssertionError("unreachable")


class FastScript:
    """A Lua script called as `script(keys=[...], args=[...])`, like redis-py's Script."""

    def __init__(self, fast: FastRedis, source: str) -> None:
        self.fast = fast
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._fallback = None if fast.enabled else fast.client.register_script(source)

    def __call__(self, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        if self._fallback is not None:
            return self._fallback(keys=keys, args=args)
        try:
            return self.fast.call("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return self.fast.call("EVAL", self.source, len(keys), *keys, *args)
