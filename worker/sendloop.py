"""The sending side of a notice worker: one asyncio loop in its own thread keeps many template
sends in flight (NOTICE_SEND_THREADS of them) over keep-alive connections, each at its slot of
the shared rate limit.

The worker's own thread (worker.sender) claims rows and records outcomes; it hands rows over
with `submit` and gets back a concurrent.futures.Future per row, which it may cancel until the
send starts (its request is about to be written): a cancelled send never reaches WeChat.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from config import Settings
from services.notices.delivery import FAILED, QUOTA, RETRY, SENT, STOP, Outcome, Row
from wechat.client import WeChatAPI
from wechat.errors import (
    BusyError,
    InvalidTemplateError,
    RateLimitedError,
    TemplateDataError,
    TokenInvalidError,
    UserRefusedError,
    UserUnsubscribedError,
    WeChatAPIError,
    WeChatUnavailableError,
)
from wechat.template_sender import TemplateMessage, TemplateSender
from worker.ratelimit import SendRateLimiter, SlotPacer

log = logging.getLogger("worker.sender")

# Errors worth another try later (the token ones only after the client's own refresh failed).
RETRYABLE = (BusyError, WeChatUnavailableError, TokenInvalidError)
# errcode recorded when a retryable failure gave no errcode of its own (an exception of ours).
UNKNOWN_ERRCODE = -3
# Sent but not yet recorded, per send in flight: all a crash can leave for a takeover to resend.
UNRECORDED_PER_SEND = 2
CLOSE_SECONDS = 10.0

# What `submit` takes per row: the row and its client_msg_id.
Item = tuple[Row, str]


class SendLoop:
    """Use from one thread (the worker's); `close` when done."""

    def __init__(self, settings: Settings, api: WeChatAPI, limiter: SendRateLimiter) -> None:
        self.concurrency = settings.notice_send_threads
        self.completed: queue.SimpleQueue[Future[Outcome]] = queue.SimpleQueue()
        self.sender = TemplateSender(api, settings, connections=self.concurrency)
        self.pacer = SlotPacer(limiter)
        self._queue: asyncio.Queue[tuple[Future[Outcome], TemplateMessage, Row, str]] = (
            asyncio.Queue()
        )
        self._unrecorded = asyncio.Semaphore(UNRECORDED_PER_SEND * self.concurrency)
        self._lanes: list[asyncio.Task[None]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="notice-send", daemon=True
        )
        self._thread.start()

    def submit(self, message: TemplateMessage, items: Sequence[Item]) -> list[Future[Outcome]]:
        """Queue sends; each future is put on `completed` once it is done or cancelled."""
        futures: list[Future[Outcome]] = []
        for _ in items:
            future: Future[Outcome] = Future()
            future.add_done_callback(self.completed.put)
            futures.append(future)
        self._loop.call_soon_threadsafe(
            self._start, message, list(zip(futures, items, strict=True))
        )
        return futures

    def recorded(self, count: int) -> None:
        """`count` sent outcomes are in the database: as many more sends may go."""
        if count:
            self._loop.call_soon_threadsafe(self._release, count)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(CLOSE_SECONDS)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CLOSE_SECONDS)
            if not self._thread.is_alive():
                self._loop.close()

    # -- in the loop's thread ------------------------------------------------------------------

    def _start(self, message: TemplateMessage, work: list[tuple[Future[Outcome], Item]]) -> None:
        if not self._lanes:  # one coroutine per send in flight, each taking rows in turn
            self._lanes = [self._loop.create_task(self._lane()) for _ in range(self.concurrency)]
        for future, (row, msg_id) in work:
            self._queue.put_nowait((future, message, row, msg_id))

    def _release(self, count: int) -> None:
        for _ in range(count):
            self._unrecorded.release()

    async def _shutdown(self) -> None:
        for task in self._lanes:
            task.cancel()
        await asyncio.gather(*self._lanes, return_exceptions=True)
        await self.sender.aclose()
        await self._loop.shutdown_default_executor()

    async def _lane(self) -> None:
        while True:
            future, message, row, msg_id = await self._queue.get()
            if future.cancelled():  # withdrawn while it waited
                continue
            try:
                outcome = await self._attempt(future, message, row, msg_id)
            except Exception:  # a bug of ours, or Redis failing under the limiter: try later
                log.exception("unexpected error sending row %s", row.id)
                if not future.set_running_or_notify_cancel():
                    continue
                outcome = Outcome(row, RETRY, errcode=UNKNOWN_ERRCODE, counted=False)
            if outcome is not None:
                future.set_result(outcome)

    async def _attempt(
        self, future: Future[Outcome], message: TemplateMessage, row: Row, msg_id: str
    ) -> Outcome | None:
        """The outcome, or None when the send was withdrawn before it started."""
        try:
            # A first call fetches the token: not inside this send's slot, or it would leave
            # late and bunch up with the sends after it.
            await self.sender.token()
        except WeChatAPIError as error:  # no token: nothing was sent
            if not future.set_running_or_notify_cancel():
                return None
            return Outcome(row, RETRY, errcode=error.errcode, counted=False)
        await self._unrecorded.acquire()  # released once the outcome is recorded
        try:
            if not future.cancelled():
                await self.pacer.wait()
            started = future.set_running_or_notify_cancel()
        except BaseException:
            self._unrecorded.release()
            raise
        if not started:
            self._unrecorded.release()
            return None
        return await self._post(message, row, msg_id)

    async def _post(self, message: TemplateMessage, row: Row, msg_id: str) -> Outcome:
        try:
            msgid = await self.sender.send(row.openid, message, msg_id)
        except (InvalidTemplateError, TemplateDataError) as error:
            return Outcome(row, STOP, errcode=error.errcode)
        except RateLimitedError as error:
            return Outcome(row, QUOTA, errcode=error.errcode)
        except (UserUnsubscribedError, UserRefusedError) as error:
            return Outcome(row, FAILED, errcode=error.errcode)
        except RETRYABLE as error:
            return Outcome(row, RETRY, errcode=error.errcode)
        except WeChatAPIError as error:
            return Outcome(row, FAILED, errcode=error.errcode)
        except Exception:
            log.exception("unexpected error sending row %s", row.id)
            return Outcome(row, RETRY, errcode=UNKNOWN_ERRCODE)
        return Outcome(row, SENT, msgid=msgid)
