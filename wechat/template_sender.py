"""Template sends at volume: many in flight from one asyncio loop, over keep-alive connections
(wechat.http_async), each body built from a per-notice JSON part, with the access token that
every process shares through Redis (WeChatAPI keeps it).

The token is read from Redis at most once a TOKEN_RECHECK_SECONDS, not per send. When WeChat
rejects it (40001/40014/42001) the send asks WeChatAPI for a new one (one fetch for all
processes, under its Redis lock) and is retried once; other sends rejected meanwhile wait for
the same answer. Errors come as wechat.errors.WeChatAPIError subclasses, as from WeChatAPI.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from config import Settings
from wechat.client import WeChatAPI, report_call
from wechat.errors import TokenInvalidError, WeChatUnavailableError, api_error
from wechat.http_async import AsyncHTTPPool, HTTPError

log = logging.getLogger(__name__)

TEMPLATE_SEND_API = "/cgi-bin/message/template/send"
JSON_TYPE = "application/json; charset=utf-8"
TOKEN_RECHECK_SECONDS = 1.0


def _json(value: Any) -> bytes:
    # WeChat shows \u escapes literally, so the body is sent as raw UTF-8.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_PLAIN = re.compile(r"[A-Za-z0-9_.\-]*")


def _json_string(value: str) -> bytes:
    """A JSON string; openids and client_msg_ids need no escaping, so no encoder is run."""
    if _PLAIN.fullmatch(value):
        return b'"' + value.encode("ascii") + b'"'
    return _json(value)


class TemplateMessage:
    """What a notice sends to every recipient, as JSON once; `body` adds the recipient."""

    def __init__(self, template_id: str, data: Mapping[str, str], url: str | None = None) -> None:
        common: dict[str, Any] = {
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if url is not None:
            common["url"] = url
        self._tail = b"," + _json(common)[1:]  # the object's members and its closing brace

    def body(self, openid: str, client_msg_id: str | None = None) -> bytes:
        head = b'{"touser":' + _json_string(openid)
        if client_msg_id is not None:
            head += b',"client_msg_id":' + _json_string(client_msg_id)
        return head + self._tail


class _Pool(AsyncHTTPPool):
    """The pool, with its connections opened ahead."""

    def __init__(self, base_url: str, *, max_connections: int, timeout: float) -> None:
        super().__init__(base_url, max_connections=max_connections, timeout=timeout)
        self.size = max_connections

    async def connect(self) -> int:
        """Open connections until `size` are idle (call it before any request); how many
        opened. One that fails to open is left to the request that needs it."""
        missing = self.size - len(self._idle)
        if missing <= 0:
            return 0
        try:
            async with asyncio.timeout(self._timeout):
                opened = await asyncio.gather(
                    *(self._open() for _ in range(missing)), return_exceptions=True
                )
        except TimeoutError:
            return 0
        connections = [c for c in opened if not isinstance(c, BaseException)]
        self._idle.extend(connections)
        return len(connections)


class TemplateSender:
    """Use from one event loop (the one that runs its coroutines)."""

    def __init__(self, api: WeChatAPI, settings: Settings, *, connections: int) -> None:
        self._api = api
        self._pool = _Pool(
            settings.wechat_api_base_url,
            max_connections=connections,
            timeout=settings.api_timeout_seconds,
        )
        self._token: str | None = None
        self._token_at = 0.0
        self._target = ""
        self._pending: asyncio.Future[str] | None = None
        self._recheck: asyncio.Future[None] | None = None  # the background re-read

    @property
    def connections_opened(self) -> int:
        return self._pool.opened

    async def aclose(self) -> None:
        if self._recheck is not None and not self._recheck.done():
            self._recheck.cancel()
            await asyncio.gather(self._recheck, return_exceptions=True)
        self._pool.close()

    async def connect(self) -> int:
        """Open the connections the sends will use, before the first send's slot: a send that
        opens its own reaches the API late by the handshake (TCP and TLS, tens of ms to
        WeChat), and the sends of the next slots crowd in behind it. How many were opened."""
        return await self._pool.connect()

    # ---- the token ------------------------------------------------------------------------

    async def token(self) -> str:
        """The shared token (fetched by one process when there is none yet). Once a second it
        is read again from Redis (another process may have refreshed it) in the background:
        a send waiting for that read would leave late, and the sends of the slots after it
        would go out in a bunch when the answer came (an executor hop: tens of ms on a busy
        machine). A token rejected meanwhile is refreshed by the send it failed."""
        if self._token is not None:
            if time.monotonic() - self._token_at >= TOKEN_RECHECK_SECONDS and self._pending is None:
                self._recheck = asyncio.ensure_future(self._reread())
            return self._token
        if self._pending is not None:
            return await asyncio.shield(self._pending)
        return await self._blocking(self._api.access_token)

    async def _reread(self) -> None:
        try:
            await self._blocking(self._api.access_token)
        except Exception:  # the sends go on with the token they have; again in a second
            log.warning("wechat api: re-reading the access token failed", exc_info=True)
            self._token_at = time.monotonic()

    async def _refreshed(self, failed: str) -> str:
        if self._pending is not None:
            token = await asyncio.shield(self._pending)
            if token != failed:
                return token
        if self._token is not None and self._token != failed:
            return self._token  # another send already got a newer one
        return await self._blocking(lambda: self._api.refresh_token(failed))

    async def _blocking(self, fetch: Callable[[], str]) -> str:
        """Run a token call (Redis, maybe a lock and an HTTP fetch) off the loop; sends that
        need the token meanwhile wait for the same answer."""
        future = asyncio.get_running_loop().run_in_executor(None, fetch)
        self._pending = future
        try:
            token = await asyncio.shield(future)
        finally:
            if self._pending is future:
                self._pending = None
        if token != self._token:
            self._target = f"{TEMPLATE_SEND_API}?access_token={quote(token, safe='')}"
        self._token, self._token_at = token, time.monotonic()
        return token

    # ---- sending --------------------------------------------------------------------------

    async def send(
        self,
        openid: str,
        message: TemplateMessage,
        client_msg_id: str | None = None,
        *,
        before_retry: Callable[[], Awaitable[None]] | None = None,
    ) -> int:
        """Send one template message and return its msgid. The same client_msg_id to the same
        user is delivered only once within 10 minutes. A send whose token was rejected goes
        again with the new one, after `before_retry` (the send loop's next slot of the rate
        limit: every send in flight is rejected at once, and without it they all went again
        together when the new token came, a burst outside the schedule)."""
        body = message.body(openid, client_msg_id)
        token = await self.token()
        try:
            return await self._post(token, body)
        except TokenInvalidError as error:
            log.info(
                "wechat api %s: token rejected (errcode %s), refreshing",
                TEMPLATE_SEND_API,
                error.errcode,
            )
            token = await self._refreshed(token)
            if before_retry is not None:
                await before_retry()
            return await self._post(token, body)

    async def _post(self, token: str, body: bytes) -> int:
        target = (
            self._target
            if token == self._token
            else f"{TEMPLATE_SEND_API}?access_token={quote(token, safe='')}"
        )
        started = time.monotonic()
        errcode: int | None = None
        try:
            try:
                response = await self._pool.request("POST", target, body, JSON_TYPE)
            except HTTPError as error:
                raise WeChatUnavailableError(str(error), TEMPLATE_SEND_API) from error
            if response.status != 200:
                raise WeChatUnavailableError(f"HTTP {response.status}", TEMPLATE_SEND_API)
            try:
                result = json.loads(response.body)
            except ValueError:
                raise WeChatUnavailableError("the answer is not JSON", TEMPLATE_SEND_API) from None
            if not isinstance(result, dict):
                raise WeChatUnavailableError("the answer is not a JSON object", TEMPLATE_SEND_API)
            errcode = int(result.get("errcode") or 0)
            if errcode:
                raise api_error(errcode, str(result.get("errmsg", "")), TEMPLATE_SEND_API)
            msgid = result.get("msgid")
            if isinstance(msgid, str) and msgid.isdigit():
                msgid = int(msgid)
            if not isinstance(msgid, int) or isinstance(msgid, bool):
                raise WeChatUnavailableError("the answer has no msgid", TEMPLATE_SEND_API)
            return msgid
        except WeChatUnavailableError as error:
            errcode = error.errcode
            raise
        finally:
            report_call(TEMPLATE_SEND_API, errcode, started)
