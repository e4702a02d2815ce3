"""The message path's Redis calls (wechat.fastredis): the same answers as redis-py, a script the
server does not know yet, a connection the server closed, and redis-py's own errors."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from config import Settings
from wechat.fastredis import FastRedis, FastScript


@pytest.fixture
def fast(redis_client: redis.Redis) -> FastRedis:
    fast = FastRedis(redis_client)
    if not fast.enabled:
        pytest.skip("needs a Redis server (TEST_REDIS_URL), not the in-process stand-in")
    return fast


def test_commands_answer_as_the_server_does(fast: FastRedis, settings: Settings) -> None:
    key = f"{settings.redis_prefix}fast:one"
    assert fast.call("SET", key, "值", "EX", 60) == b"OK"
    assert fast.call("GET", key).decode() == "值"
    assert fast.call("SET", key, "x", "NX") is None
    assert fast.client.ttl(key) > 50


def test_a_script_the_server_never_saw_is_sent_with_its_source(
    fast: FastRedis, settings: Settings
) -> None:
    # A source no one loaded before: EVALSHA answers NOSCRIPT, the call still succeeds.
    script = FastScript(fast, f"-- {secrets.token_hex(8)}\nreturn {{KEYS[1], ARGV[1]}}")
    key = f"{settings.redis_prefix}fast:script"
    assert script(keys=[key], args=["a"]) == [key.encode(), b"a"]
    assert fast.client.script_exists(script.sha) == [True]
    assert script(keys=[key], args=["b"]) == [key.encode(), b"b"]


def test_a_connection_the_server_closed_is_replaced(fast: FastRedis, settings: Settings) -> None:
    mine = fast.call("CLIENT", "ID")
    fast.client.client_kill_filter(_id=mine)
    key = f"{settings.redis_prefix}fast:after-kill"
    assert fast.call("SET", key, "1") == b"OK"
    assert fast.call("CLIENT", "ID") != mine


def test_errors_are_redis_pys_own(fast: FastRedis, settings: Settings) -> None:
    key = f"{settings.redis_prefix}fast:error"
    fast.call("SET", key, "text")
    with pytest.raises(ResponseError):
        fast.call("INCR", key)
    assert fast.call("GET", key) == b"text"  # the connection is still good
    lost = FastRedis(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1))
    with pytest.raises(RedisConnectionError):
        lost.call("GET", key)


def test_the_in_process_stand_in_goes_through_redis_py() -> None:
    import fakeredis

    fake = FastRedis(fakeredis.FakeRedis())
    assert not fake.enabled
    script = FastScript(fake, "return ARGV[1]")
    assert script(keys=[], args=["x"]) == b"x"


def test_a_burst_of_threads_leaves_at_most_max_idle_and_close_gives_them_back(
    fast: FastRedis, settings: Settings
) -> None:
    import threading

    from wechat.fastredis import MAX_IDLE

    key = f"{settings.redis_prefix}fast:burst"
    many = MAX_IDLE * 3
    ready = threading.Barrier(many)
    # Each thread holds its connection across a barrier, so `many` are open at once.
    script = FastScript(fast, "redis.call('INCR', KEYS[1]) return 1")
    script(keys=[key], args=[])

    def one() -> None:
        conn = fast._take()
        ready.wait(timeout=30)
        fast._put(conn)
        script(keys=[key], args=[])

    threads = [threading.Thread(target=one) for _ in range(many)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert fast.call("GET", key) == str(many + 1).encode()
    assert fast.idle() <= MAX_IDLE
    pool = fast.client.connection_pool
    # The connections beyond MAX_IDLE went back to the pool: redis-py's commands can use them.
    assert len(pool._available_connections) >= many - MAX_IDLE  # type: ignore[attr-defined]
    fast.close()
    assert fast.idle() == 0
    assert fast.client.ping()


class Answers:
    """What `send` handed over, in order."""

    def __init__(self) -> None:
        self.got: list[tuple[Any, RedisError | None]] = []

    def __call__(self, answer: Any, error: RedisError | None) -> None:
        self.got.append((answer, error))


def test_a_command_sent_without_waiting_is_answered_before_the_connection_is_used_again(
    fast: FastRedis, settings: Settings
) -> None:
    key = f"{settings.redis_prefix}fast:send"
    answers = Answers()
    fast.send(answers, "SET", key, "1", "EX", 60)
    fast.send(answers, "INCR", key)
    assert fast.idle() == 1  # one connection, two answers not read yet
    # The next command on that connection reads them first, in order.
    assert fast.call("GET", key) == b"2"
    assert answers.got == [(b"OK", None), (2, None)]


def test_an_error_answer_is_handed_over_and_the_connection_stays_good(
    fast: FastRedis, settings: Settings
) -> None:
    key = f"{settings.redis_prefix}fast:send-error"
    fast.call("SET", key, "text", "EX", 60)
    answers = Answers()
    fast.send(answers, "INCR", key)
    fast.settle()  # no other command: the background tick reads it
    [(answer, error)] = answers.got
    assert answer is None and isinstance(error, ResponseError)
    assert fast.call("GET", key) == b"text"


def test_answers_lost_with_their_connection_get_its_error_and_the_next_call_works(
    fast: FastRedis, settings: Settings
) -> None:
    key = f"{settings.redis_prefix}fast:send-lost"
    mine = fast.call("CLIENT", "ID")
    # The server closes the connection before the command arrives: its answer never comes.
    fast.client.client_kill_filter(_id=mine)
    answers = Answers()
    try:
        fast.send(answers, "SET", key, "1", "EX", 60)
    except RedisConnectionError:
        pass  # seen at once when writing: nothing left to hand over
    else:
        assert fast.call("SET", key, "2", "EX", 60) == b"OK"
        [(answer, error)] = answers.got
        assert answer is None and isinstance(error, RedisConnectionError)
    assert fast.call("CLIENT", "ID") != mine


def test_a_script_sent_without_waiting_that_the_server_never_saw_is_sent_with_its_source(
    fast: FastRedis, settings: Settings
) -> None:
    script = FastScript(fast, f"-- {secrets.token_hex(8)}\nreturn redis.call('INCR', KEYS[1])")
    key = f"{settings.redis_prefix}fast:send-script"
    answers = Answers()
    script.send([key], [], answers)
    fast.settle()
    fast.settle()  # the resend with the source (its answer read by the second tick)
    assert answers.got == [(1, None)]
    assert fast.client.script_exists(script.sha) == [True]


def test_close_reads_the_answers_left(fast: FastRedis, settings: Settings) -> None:
    answers = Answers()
    fast.send(answers, "SET", f"{settings.redis_prefix}fast:send-close", "1", "EX", 60)
    fast.close()
    assert answers.got == [(b"OK", None)]
    assert fast.idle() == 0


def test_a_server_on_a_unix_socket_takes_the_same_fast_path(settings: Settings) -> None:
    """REDIS_URL=unix://… (the deployed layout, README runbook): the connection the app makes
    from it goes through FastRedis too, scripts and unwaited commands alike."""
    import shutil
    import subprocess
    import tempfile
    import time
    from pathlib import Path

    from infra.redis import connect

    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (Debian package redis-server)")
    with tempfile.TemporaryDirectory(prefix="kjzy-unix-redis-") as tmp:
        sock = Path(tmp) / "redis.sock"
        argv = ["redis-server", "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
        server = subprocess.Popen(
            [*argv, "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = connect(settings.with_overrides(redis_url=f"unix://{sock}?db=0"))
            deadline = time.monotonic() + 20
            while True:
                try:
                    client.ping()
                    break
                except RedisConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            fast = FastRedis(client)
            assert fast.enabled
            assert fast.call("SET", "k", "值", "EX", 60) == b"OK"
            script = FastScript(fast, "return redis.call('INCR', KEYS[1])")
            assert script(keys=["n"], args=[]) == 1
            answers = Answers()
            script.send(["n"], [], answers)
            assert fast.call("GET", "k").decode() == "值"
            assert answers.got == [(2, None)]
            fast.close()
            client.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
