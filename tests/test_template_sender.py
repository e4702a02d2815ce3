"""The lean template-send path (wechat.template_sender over wechat.http_async) against the fake
WeChat API (both of its servers) and a real Redis: many sends in flight over few connections,
the shared token and its one refresh, typed errors, and HTTP answers of every shape."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis

from config import Settings
from infra.redis import Keys
from sandbox.fake_wechat import TEMPLATE_ACTIVITY_SIGNUP, FakeWeChatState
from sandbox.fake_wechat_fast import FastFakeWeChatServer
from wechat.client import WeChatAPI
from wechat.errors import (
    BusyError,
    RateLimitedError,
    TemplateDataError,
    UserUnsubscribedError,
    WeChatUnavailableError,
)
from wechat.http_async import AsyncHTTPPool, HTTPError
from wechat.template_sender import TOKEN_RECHECK_SECONDS, TemplateMessage, TemplateSender

SEND = "/cgi-bin/message/template/send"
STABLE_TOKEN = "/cgi-bin/stable_token"
DATA = {
    "thing1": "青少年科普进社区",
    "time2": "2024年5月18日 09:00",
    "thing3": "兰州市城关区科技馆",
    "phrase4": "已报名",
}
MESSAGE = TemplateMessage(TEMPLATE_ACTIVITY_SIGNUP, DATA, url="https://example.org/a?b=1")
T = TypeVar("T")


def openid(n: int) -> str:
    return f"oSender{n:019d}"


@pytest.fixture(params=["threaded", "asyncio"])
def server(request: pytest.FixtureRequest) -> str:
    """The fake's two servers share one state: the tests' threaded one, the benches' asyncio."""
    return str(request.param)


@pytest.fixture
def api_settings(request: pytest.FixtureRequest, server: str, settings: Settings) -> Settings:
    if server == "threaded":
        return settings
    fast: FastFakeWeChatServer = request.getfixturevalue("fast_fake_wechat_server")
    return settings.with_overrides(wechat_api_base_url=fast.url)


@pytest.fixture
def api(api_settings: Settings, redis_client: redis.Redis) -> Iterator[WeChatAPI]:
    made = WeChatAPI(api_settings, redis_client, Keys(api_settings.redis_prefix))
    yield made
    made.close()


def run(api: WeChatAPI, settings: Settings, work: Callable[[TemplateSender], Awaitable[T]]) -> T:
    async def main() -> T:
        sender = TemplateSender(api, settings, connections=8)
        try:
            return await work(sender)
        finally:
            await sender.aclose()

    return asyncio.run(main())


def test_connections_are_opened_before_the_first_send(
    api: WeChatAPI, api_settings: Settings, server: str, fake_wechat: FakeWeChatState
) -> None:
    """The send loop opens its connections before the first slot (a send that opened its own
    would reach WeChat late by the handshake, crowding the next slots' sends): the sends then
    open none of their own while at most that many are in flight."""
    fake_wechat.slow(SEND, 0.05)

    async def work(sender: TemplateSender) -> tuple[int, int, int]:
        opened_ahead = await sender.connect()
        before = sender.connections_opened
        await asyncio.gather(*(sender.send(openid(n), MESSAGE, f"cw-{n}") for n in range(8)))
        return opened_ahead, before, sender.connections_opened

    opened_ahead, before, after = run(api, api_settings, work)
    assert opened_ahead == before == 8
    if server == "asyncio":  # the threaded server closes each connection after its answer
        assert after == 8
    assert len(fake_wechat.calls_to(SEND)) == 8


def test_many_sends_in_flight_over_a_few_kept_alive_connections(
    api: WeChatAPI, api_settings: Settings, server: str, fake_wechat: FakeWeChatState
) -> None:
    fake_wechat.slow(SEND, 0.05)
    opened: list[int] = []

    async def work(sender: TemplateSender) -> list[int]:
        sent = await asyncio.gather(
            *(sender.send(openid(n), MESSAGE, f"cm-{n}") for n in range(40))
        )
        opened.append(sender.connections_opened)
        return list(sent)

    msgids = run(api, api_settings, work)
    assert len(set(msgids)) == 40
    # 40 sends, 8 at a time, each connection kept alive; the threaded server closes each one.
    assert opened == [8 if server == "asyncio" else 40]
    for n in range(40):
        (message,) = fake_wechat.messages(openid(n))
        assert message["data"] == DATA
        assert message["client_msg_id"] == f"cm-{n}"
        assert message["url"] == "https://example.org/a?b=1"
    assert msgids[0] == fake_wechat.messages(openid(0))[0]["msgid"]
    assert len(fake_wechat.calls_to(STABLE_TOKEN)) == 1  # one token for all


def test_a_rejected_token_is_refreshed_once_for_all_the_sends_it_failed(
    api: WeChatAPI, api_settings: Settings, fake_wechat: FakeWeChatState
) -> None:
    token = api.access_token()
    fake_wechat.expire_tokens()  # every send in flight gets 42001

    async def work(sender: TemplateSender) -> list[int]:
        return list(await asyncio.gather(*(sender.send(openid(n), MESSAGE) for n in range(12))))

    assert len(run(api, api_settings, work)) == 12
    refreshes = [c for c in fake_wechat.calls_to(STABLE_TOKEN) if c.json["force_refresh"]]
    assert len(refreshes) == 1
    assert api.access_token() != token
    assert sum(len(fake_wechat.messages(openid(n))) for n in range(12)) == 12


def test_a_token_another_process_refreshed_is_picked_up_without_holding_a_send(
    api: WeChatAPI, api_settings: Settings, fake_wechat: FakeWeChatState
) -> None:
    """Once a second the token is read again from Redis, in the background: the send that
    notices it is due goes at once with the token it has (it would otherwise wait for the read
    and leave late, the next slots' sends bunched behind it), the sends after it use the new
    one. Tokens are told apart by the fake's calls."""
    first = api.access_token()

    async def work(sender: TemplateSender) -> str:
        await sender.send(openid(0), MESSAGE)
        loop = asyncio.get_running_loop()
        newer = await loop.run_in_executor(None, api.refresh_token, first)  # another process
        await asyncio.sleep(TOKEN_RECHECK_SECONDS + 0.05)
        await sender.send(openid(1), MESSAGE)  # due for a re-read: goes with what it has
        for _ in range(500):  # until the background read has come back
            if await sender.token() == newer:
                break
            await asyncio.sleep(0.01)
        await sender.send(openid(2), MESSAGE)
        return newer

    newer = run(api, api_settings, work)
    assert newer != first
    used = [call.query["access_token"] for call in fake_wechat.calls_to(SEND)]
    # The second send went with the old token (the fake, like WeChat, rejects it once replaced:
    # that send then took the new one); the third used the new one at once.
    assert used[0] == first and used[1] == first
    assert used[-1] == newer
    assert sum(len(fake_wechat.messages(openid(n))) for n in range(3)) == 3


def test_errcodes_become_typed_errors(
    api: WeChatAPI, api_settings: Settings, fake_wechat: FakeWeChatState
) -> None:
    fake_wechat.mark_unsubscribed(openid(1))
    fake_wechat.fail(SEND, -1)

    async def work(sender: TemplateSender) -> list[type[Exception]]:
        errors: list[type[Exception]] = []
        for who, message in [
            (openid(0), MESSAGE),  # -1 (injected)
            (openid(1), MESSAGE),  # 43004
            (openid(2), TemplateMessage(TEMPLATE_ACTIVITY_SIGNUP, {**DATA, "phrase4": "x1"})),
        ]:
            try:
                await sender.send(who, message)
            except Exception as error:
                errors.append(type(error))
        fake_wechat.fail(SEND, 45009)
        with pytest.raises(RateLimitedError) as quota:
            await sender.send(openid(3), MESSAGE)
        assert quota.value.errcode == 45009
        return errors

    assert run(api, api_settings, work) == [BusyError, UserUnsubscribedError, TemplateDataError]
    assert fake_wechat.messages(openid(1)) == []


def test_no_answer_in_time_is_unavailable(
    settings: Settings, redis_client: redis.Redis, fake_wechat: FakeWeChatState
) -> None:
    fake_wechat.slow(SEND, 1.0)
    quick = settings.with_overrides(api_timeout_seconds=0.2)
    api = WeChatAPI(quick, redis_client, Keys(quick.redis_prefix))
    api.access_token()

    async def work(sender: TemplateSender) -> int:
        return await sender.send(openid(0), MESSAGE)

    with pytest.raises(WeChatUnavailableError, match="no answer within"):
        run(api, quick, work)
    api.close()


# ---- HTTP answers of every shape, from a server written for the purpose -----------------------

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def exchange(script: Script, requests: int, **pool: Any) -> tuple[list[Any], int]:
    """Run `requests` POSTs one after another through one pool against a server that answers
    by `script` (given the request's number, from 0); the answers (or errors) and the number
    of connections the pool opened."""

    async def main() -> tuple[list[Any], int]:
        count = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal count
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    await reader.readexactly(length)
                    count += 1
                    await script(reader, writer, count - 1)
                    if writer.is_closing():
                        return
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        http = AsyncHTTPPool(
            f"http://127.0.0.1:{port}/base", **{"max_connections": 2, "timeout": 2.0, **pool}
        )
        answers: list[Any] = []
        for n in range(requests):
            try:
                answer = await http.request("POST", f"/x?n={n}", b'{"a":1}', "application/json")
                answers.append((answer.status, answer.body))
            except HTTPError as error:
                answers.append(error)
            await asyncio.sleep(0.01)
        http.close()
        server.close()
        return answers, http.opened

    return asyncio.run(main())


async def write(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


def test_chunked_answers_are_read_whole_on_a_kept_connection() -> None:
    async def chunked(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await write(
            writer,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'5\r\n{"n":\r\n' + f"{len(str(n)) + 1:x}\r\n{n}}}\r\n".encode() + b"0\r\n\r\n",
        )

    answers, opened = exchange(chunked, 3)
    assert answers == [(200, b'{"n":0}'), (200, b'{"n":1}'), (200, b'{"n":2}')]
    assert opened == 1


def test_an_answer_that_ends_with_the_connection() -> None:
    async def old_style(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await write(writer, b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{}")
        writer.close()

    answers, opened = exchange(old_style, 2)
    assert answers == [(200, b"{}"), (200, b"{}")]
    assert opened == 2  # no keep-alive: a connection per request


def test_a_kept_connection_the_server_dropped_is_replaced_once() -> None:
    async def drops_idle(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        # Answers keep-alive, then closes while idle: the pool finds out at the next request.
        await write(writer, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await asyncio.sleep(0)
        writer.close()

    answers, opened = exchange(drops_idle, 3)
    assert answers == [(200, b"ok")] * 3
    assert opened == 3


def test_a_broken_answer_is_an_error_not_a_hang() -> None:
    async def broken(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 0:
            await write(writer, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
            writer.close()
        else:
            await write(writer, b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    answers, _ = exchange(broken, 2)
    assert isinstance(answers[0], HTTPError)
    assert answers[1] == (502, b"")
