"""The sending side of a notice worker: one asyncio loop in its own thread keeps many template
sends in flight (NOTICE_SEND_THREADS of them) over keep-alive connections, each at its slot of
the shared rate limit.

The worker's own thread (worker.sender) claims rows and records outcomes; it hands rows over
with `submit` and gets each back on `completed` (a Ticket with its outcome). Until a send
starts (its slot has come and its request is about to be written) the worker may `withdraw`
it: a withdrawn send never reaches WeChat. In the loop, one dispatcher takes the tickets in
order, waits for room (sends in flight, sent but unrecorded) and for the next slot, then starts
the send as a task of its own.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from collections.abc import Iterable, Sequence

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
QUEUED, STARTED, WITHDRAWN = 0, 1, 2


class Room(asyncio.Semaphore):
    @property
    def free(self) -> int:
        return self._value


class Ticket:
    """One row to send; `outcome` is set when it comes back on SendLoop.completed."""

    __slots__ = ("message", "msg_id", "outcome", "row", "state", "token")

    def __init__(self, token: str, row: Row, message: TemplateMessage, msg_id: str) -> None:
        self.token = token  # the claim it belongs to
        self.row = row
        self.message = message
        self.msg_id = msg_id  # client_msg_id
        self.state = QUEUED
        self.outcome: Outcome | None = None


class SendLoop:
    """Use from one thread (the worker's); `close` when done."""

    def __init__(self, settings: Settings, api: WeChatAPI, limiter: SendRateLimiter) -> None:
        self.concurrency = settings.notice_send_threads
        self.completed: queue.SimpleQueue[Ticket] = queue.SimpleQueue()
        self.sender = TemplateSender(api, settings, connections=self.concurrency)
        self.pacer = SlotPacer(limiter)
        self._lock = threading.Lock()  # a ticket's state
        self._tickets: deque[Ticket] = deque()
        self._arrived = asyncio.Event()
        self._in_flight = Room(self.concurrency)
        self._unrecorded = Room(UNRECORDED_PER_SEND * self.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="notice-send", daemon=True
        )
        self._thread.start()
        self._dispatcher: asyncio.Task[None] | None = None
        self._connected = False

    def submit(self, tickets: Sequence[Ticket]) -> None:
        self._loop.call_soon_threadsafe(self._queue, list(tickets))

    def withdraw(self, tickets: Iterable[Ticket]) -> list[Ticket]:
        """Withdraw the sends that have not started; those withdrawn."""
        withdrawn = []
        with self._lock:
            for ticket in tickets:
                if ticket.state == QUEUED:
                    ticket.state = WITHDRAWN
                    withdrawn.append(ticket)
        return withdrawn

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

    def _queue(self, tickets: list[Ticket]) -> None:
        if self._dispatcher is None:
            self._dispatcher = self._loop.create_task(self._dispatch())
        self._tickets.extend(tickets)
        self._arrived.set()

    def _release(self, count: int) -> None:
        for _ in range(count):
            self._unrecorded.release()

    def _start(self, ticket: Ticket) -> bool:
        with self._lock:
            if ticket.state != QUEUED:
                return False
            ticket.state = STARTED
            return True

    def _finish(self, ticket: Ticket, outcome: Outcome) -> None:
        ticket.outcome = outcome
        self.completed.put(ticket)

    async def _shutdown(self) -> None:
        tasks = [*self._tasks, *([self._dispatcher] if self._dispatcher else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.sender.aclose()
        await self._loop.shutdown_default_executor()

    async def _dispatch(self) -> None:
        while True:
            waited = self._loop.time()
            while not self._tickets:
                self._arrived.clear()
                await self._arrived.wait()
            self.pacer.stats.waited[0] += self._loop.time() - waited
            ticket = self._tickets.popleft()
            if ticket.state != QUEUED:  # withdrawn while it waited
                continue
            waited = self._loop.time()
            await self._in_flight.acquire()  # released when the send is done
            self.pacer.stats.waited[1] += self._loop.time() - waited
            try:
                await self._ready(ticket)
            except BaseException:
                self._in_flight.release()
                raise

    async def _ready(self, ticket: Ticket) -> None:
        """Wait for the token, room and the slot; then start the send (or give the ticket
        back with its outcome when it cannot go)."""
        row = ticket.row
        try:
            # A first call fetches the token: not inside this send's slot, or it would leave
            # late and bunch up with the sends after it.
            await self.sender.token()
            if not self._connected:  # likewise the connections, before the first slot
                self._connected = True
                await self.sender.connect()
        except WeChatAPIError as error:  # no token: nothing was sent
            self._in_flight.release()
            if self._start(ticket):
                self._finish(ticket, Outcome(row, RETRY, errcode=error.errcode, counted=False))
            return
        waited = self._loop.time()
        await self._unrecorded.acquire()  # released once the outcome is recorded
        self.pacer.stats.waited[2] += self._loop.time() - waited
        try:
            if ticket.state == QUEUED:
                # Slots are reserved ahead for the sends that can go: those queued, as far as
                # there is room for them.
                room = min(self._in_flight.free, self._unrecorded.free)
                await self.pacer.wait(1 + min(len(self._tickets), room))
        except asyncio.CancelledError:
            raise
        except Exception:  # Redis failing under the limiter: nothing was sent
            log.exception("notice send of row %s: no slot from the rate limit", row.id)
            self._unrecorded.release()
            self._in_flight.release()
            if self._start(ticket):
                self._finish(ticket, Outcome(row, RETRY, errcode=UNKNOWN_ERRCODE, counted=False))
            return
        if not self._start(ticket):
            self._unrecorded.release()
            self._in_flight.release()
            return
        task = self._loop.create_task(self._send(ticket))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, ticket: Ticket) -> None:
        try:
            outcome = await self._post(ticket)
        finally:
            self._in_flight.release()
        self._finish(ticket, outcome)

    async def _post(self, ticket: Ticket) -> Outcome:
        row = ticket.row
        try:
            msgid = await self.sender.send(
                row.openid, ticket.message, ticket.msg_id, before_retry=self.pacer.wait
            )
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
