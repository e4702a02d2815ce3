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

`send` writes a command and returns without its answer (a pipeline across calls): the answer is
read before the connection's next use (Redis answers in order), by `settle` (a background tick)
or by `close`, and handed to the caller's `on_answer` with the error, if any, instead of raising.
A connection with answers still unread never goes back to redis-py's pool.

Only for a plain server client (redis.Redis over TCP/TLS/a Unix socket). For a Redis Cluster, or
the in-process stand-in, `FastRedis.enabled` is False and callers use redis-py.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import redis
from hiredis import pack_command
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError

log = logging.getLogger("wechat.fastredis")

Arg = str | bytes | int | float
# Called with a command's answer and None, or None and the error (RedisError) that replaced it.
OnAnswer = Callable[[Any, RedisError | None], None]

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
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                return self.client.connection_pool.get_connection()
            if not getattr(conn, _UNREAD, None) or self._read_unread(conn):
                return conn

    def _put(self, conn: Any) -> None:
        if len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        elif not getattr(conn, _UNREAD, None) or self._read_unread(conn):
            self.client.connection_pool.release(conn)

    def _drop(self, conn: Any) -> None:
        conn.disconnect()
        self.client.connection_pool.release(conn)

    def _read_unread(self, conn: Any) -> bool:
        """Read the answers `send` left on `conn` and hand them over; False if the connection
        failed (it is dropped, and the answers not read get its error)."""
        waiting: list[OnAnswer] = getattr(conn, _UNREAD)
        setattr(conn, _UNREAD, [])
        for index, on_answer in enumerate(waiting):
            try:
                answer = conn.read_response()
            except ResponseError as exc:  # the server's answer: the connection is fine
                _hand_over(on_answer, None, exc)
                continue
            except BaseException as exc:
                self._drop(conn)
                error = exc if isinstance(exc, RedisError) else RedisConnectionError(repr(exc))
                for rest in waiting[index:]:
                    _hand_over(rest, None, error)
                if not isinstance(exc, Exception):
                    raise
                return False
            _hand_over(on_answer, answer, None)
        return True

    def close(self) -> None:
        """Read the answers not read yet, then give every idle connection back to the client's
        pool (which closes them with it)."""
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                return
            if not getattr(conn, _UNREAD, None) or self._read_unread(conn):
                self.client.connection_pool.release(conn)

    def settle(self) -> None:
        """Read the answers left on idle connections (a background tick calls this, so that an
        error is handed over even when no other command comes)."""
        for _ in range(len(self._idle)):
            try:
                conn = self._idle.popleft()
            except IndexError:
                return
            if not getattr(conn, _UNREAD, None) or self._read_unread(conn):
                self._put(conn)

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

    def send(self, on_answer: OnAnswer, *args: Arg) -> None:
        """Write one command and return at once; `on_answer` gets its answer later (see the
        module's text), in whichever thread reads it, and must not block. Raises RedisError
        only when the command could not be written (then `on_answer` is never called)."""
        if not self.enabled:
            try:
                answer = self.client.execute_command(*args)
            except RedisError as exc:
                _hand_over(on_answer, None, exc)
            else:
                _hand_over(on_answer, answer, None)
            return
        packed = [pack_command(args)]  # type: ignore[arg-type]
        for attempt in (1, 2):
            conn = self._take()
            try:
                conn.send_packed_command(packed, check_health=False)
            except RedisConnectionError:
                self._drop(conn)
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self._drop(conn)
                raise
            waiting = getattr(conn, _UNREAD, None)
            if waiting is None:
                setattr(conn, _UNREAD, [on_answer])
            else:
                waiting.append(on_answer)
            self._put(conn)
            return


# The attribute of a connection that lists the callers waiting for its unread answers.
_UNREAD = "_kjzy_unread"


def _hand_over(on_answer: OnAnswer, answer: Any, error: RedisError | None) -> None:
    try:
        on_answer(answer, error)
    except Exception:
        log.exception("an answer's callback failed")


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

    def send(self, keys: Sequence[str], args: Sequence[Arg], on_answer: OnAnswer) -> None:
        """The script through FastRedis.send: `on_answer` gets its answer later. A script the
        server does not know (NOSCRIPT) is sent again with its source when that answer comes."""
        if self._fallback is not None:
            try:
                answer = self._fallback(keys=keys, args=args)
            except RedisError as exc:
                _hand_over(on_answer, None, exc)
            else:
                _hand_over(on_answer, answer, None)
            return

        def on_evalsha(answer: Any, error: RedisError | None) -> None:
            if not isinstance(error, NoScriptError):
                on_answer(answer, error)
                return
            try:
                self.fast.send(on_answer, "EVAL", self.source, len(keys), *keys, *args)
            except RedisError as exc:
                on_answer(None, exc)

        self.fast.send(on_evalsha, "EVALSHA", self.sha, len(keys), *keys, *args)
