"""Sending a notice: keep the send threads busy with claimed rows, send each under the shared
rate limit, record outcomes as they arrive, until no row is pending.

Every status change of a notice or a recipient goes through services.notices (delivery,
lifecycle); this module only moves rows between the database and WeChat:
- a batch is claimed when the send threads are about to run dry, so sends are always in flight
  and a takeover after a crash resends only those (their client_msg_id, derived from
  (notice, openid), keeps WeChat from delivering twice);
- finished sends are recorded together as they come in, in a few milliseconds' worth each;
- MariaDB may still pick one of two claims as a deadlock victim (1213) or time a lock out
  (1205): the transaction is simply run again at once, it has no effect until it commits;
- the notice's status is read between claims and at least twice a second: pause and cancel
  take effect on rows not yet sent (they go back to the queue);
- while it lives, the worker renews the lease of the rows it holds, so a takeover only ever
  takes a dead worker's rows; at most 2 sends per thread are sent but not yet recorded.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from extensions import Services
from models.notice import QUEUED, SENDING, Notice, NoticeTemplate
from services import notices
from services.notices import delivery, lifecycle
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
from worker.ratelimit import SendRateLimiter

log = logging.getLogger("worker.sender")

# Errors worth another try later (the token ones only after the client's own refresh failed).
RETRYABLE = (BusyError, WeChatUnavailableError, TokenInvalidError)
IDLE_POLL_SECONDS = 0.2
STATUS_POLL_SECONDS = 0.5
# How long the loop waits for a send to finish before looking around again.
TICK_SECONDS = 0.05
# errcode recorded when a retryable failure gave no errcode of its own (an exception of ours).
UNKNOWN_ERRCODE = -3
UNRECORDED_PER_THREAD = 2
# MariaDB/MySQL: deadlock victim, lock wait timeout. The transaction is rolled back whole.
RETRY_ERRNOS = (1213, 1205)
TRANSACTION_ATTEMPTS = 20

T = TypeVar("T")


def client_msg_id(notice_id: int, openid: str) -> str:
    return delivery.client_msg_id(notice_id, openid)


def worker_name() -> str:
    return f"{socket.gethostname()[:20]}.{os.getpid()}"


def errno_of(error: OperationalError) -> int | None:
    args: tuple[object, ...] = getattr(error.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


@dataclass(frozen=True)
class Message:
    template_id: str
    data: dict[str, str]
    url: str | None


class NoticeSender:
    """Sends notices from one process. `run()` may be called by several threads or processes
    for the same notice at once."""

    def __init__(self, services: Services, *, name: str | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.db = services.db
        self.name = name or worker_name()
        self.limiter = SendRateLimiter(self.settings, services.redis)
        self.threads = self.settings.notice_send_threads
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="notice-send")
        # Sends started but not yet recorded: what a crash would leave for a takeover to send
        # again. A send waits for room when recording falls behind.
        self.unrecorded = threading.BoundedSemaphore(UNRECORDED_PER_THREAD * self.threads)
        self.policy = delivery.RetryPolicy(
            self.settings.notice_max_attempts, self.settings.notice_retry_seconds
        )
        self._local = threading.local()
        self._clients: list[WeChatAPI] = []
        self._clients_lock = threading.Lock()
        rate_bound = self.settings.notice_sends_per_second * self.settings.notice_lease_seconds // 4
        # A batch must be sent well within its lease, even at the slowest rate allowed.
        self.batch_size = max(1, min(self.settings.notice_batch_size, rate_bound))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        with self._clients_lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def __enter__(self) -> NoticeSender:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------

    def transaction(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a transaction; again at once if MariaDB chose it as a deadlock victim
        or timed out one of its lock waits (nothing of it was committed)."""
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                with self.db.Session.begin() as session:
                    return work(session)
            except OperationalError as error:
                if errno_of(error) not in RETRY_ERRNOS or attempt == TRANSACTION_ATTEMPTS:
                    raise
                log.info("transaction retried after errno %s", errno_of(error))
                time.sleep(random.uniform(0, 0.005 * attempt))
        raise AssertionError("unreachable")

    # -- the loop ------------------------------------------------------------------------

    def run(self, notice_id: int, *, seconds: float | None = None) -> str:
        """Send until the notice has no pending row ("done"), it is paused, stopped or
        cancelled (its status), or `seconds` have passed ("slice": call again)."""
        deadline = None if seconds is None else time.monotonic() + seconds
        status = self.transaction(lambda s: self._start(s, notice_id))
        if status is None:
            return "missing"
        message = self._message(notice_id)
        in_flight: dict[Future[Outcome], tuple[str, Row]] = {}  # send -> (claim token, row)
        checked_at = claimed_empty_at = 0.0
        renewed_at = time.monotonic()
        renew_every = self.settings.notice_lease_seconds / 4
        result: str | None = None
        while True:
            now = time.monotonic()
            wants_rows = (
                result is None
                and len(in_flight) <= self.threads
                and now - claimed_empty_at >= IDLE_POLL_SECONDS
            )
            if result is None and (wants_rows or now - checked_at >= STATUS_POLL_SECONDS):
                status, checked_at = self._status(notice_id), now
                if status != SENDING:
                    result = status
            if result is None and deadline is not None and now >= deadline:
                result = "slice"
            if result is not None:
                self._withdraw(in_flight)
                if not in_flight:
                    return self._final(notice_id, result)
            elif wants_rows:
                rows = self._claim(notice_id)
                for token, row in rows:
                    in_flight[self.pool.submit(self._send, message, notice_id, row)] = token, row
                if not rows:
                    claimed_empty_at = now
                    if not in_flight:
                        if not self.transaction(lambda s: delivery.has_pending(s, notice_id)):
                            self.transaction(lambda s: lifecycle.finish(s, notice_id))
                            return "done"
                        time.sleep(IDLE_POLL_SECONDS)  # others hold the rest, or retries wait
                        continue
            if not in_flight:
                continue
            if now - renewed_at >= renew_every:
                self._renew(in_flight)
                renewed_at = now
            done, _ = wait(in_flight, timeout=TICK_SECONDS, return_when=FIRST_COMPLETED)
            if done:
                self._record(notice_id, [(in_flight.pop(f)[0], f.result()) for f in done])
                if any(f.result().kind in (STOP, QUOTA) for f in done):
                    checked_at = 0.0  # the notice has stopped or paused: look at once

    def _renew(self, in_flight: dict[Future[Outcome], tuple[str, Row]]) -> None:
        tokens = sorted({token for token, _ in in_flight.values()})
        self.transaction(lambda s: delivery.renew(s, tokens))

    def _claim(self, notice_id: int) -> list[tuple[str, Row]]:
        token = f"{self.name}:{uuid.uuid4().hex[:8]}"
        rows = self.transaction(
            lambda s: delivery.claim(
                s,
                notice_id,
                token,
                batch_size=self.batch_size,
                lease_seconds=self.settings.notice_lease_seconds,
            )
        )
        return [(token, row) for row in rows]

    def _start(self, session: Session, notice_id: int) -> str | None:
        notice = session.get(Notice, notice_id)
        if notice is None:
            return None
        if notice.status == QUEUED:
            notices.prepare(session, notice_id)
        return notice.status

    def _final(self, notice_id: int, result: str) -> str:
        if result == "cancelled":
            self.transaction(lambda s: notices.cancel_pending(s, notice_id))
        return result

    def _message(self, notice_id: int) -> Message:
        with self.db.Session() as session:
            notice = session.get(Notice, notice_id)
            assert notice is not None
            template = session.get(NoticeTemplate, notice.template_id)
            assert template is not None
            return Message(template.template_id, dict(notice.data), notice.url)

    def _status(self, notice_id: int) -> str:
        with self.db.Session() as session:
            return lifecycle.status_of(session, notice_id)

    def _withdraw(self, in_flight: dict[Future[Outcome], tuple[str, Row]]) -> None:
        """Stop sends that have not started; their rows go back to the queue."""
        withdrawn: dict[str, list[int]] = {}
        for future, (token, row) in list(in_flight.items()):
            if future.cancel():
                in_flight.pop(future)
                withdrawn.setdefault(token, []).append(row.id)
        for token, row_ids in withdrawn.items():
            self.transaction(lambda s, t=token, r=row_ids: delivery.release(s, t, r))  # type: ignore[misc]

    # -- sending -------------------------------------------------------------------------

    def _api(self) -> WeChatAPI:
        """One client (one HTTP connection pool) per sending thread; the token is shared."""
        api: WeChatAPI | None = getattr(self._local, "api", None)
        if api is None:
            api = WeChatAPI(self.settings, self.services.redis, self.services.keys)
            self._local.api = api
            with self._clients_lock:
                self._clients.append(api)
        return api

    def _send(self, message: Message, notice_id: int, row: Row) -> Outcome:
        try:
            api = self._api()
            # A first call fetches the token: not inside this send's slot, or it would leave
            # late and bunch up with the sends after it.
            api.access_token()
        except WeChatAPIError as error:  # no token: nothing was sent
            return Outcome(row, RETRY, errcode=error.errcode, counted=False)
        self.unrecorded.acquire()  # released once the outcome is recorded
        self.limiter.acquire()
        try:
            msgid = api.send_template(
                row.openid,
                message.template_id,
                message.data,
                url=message.url,
                client_msg_id=client_msg_id(notice_id, row.openid),
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
            log.exception("notice %s: unexpected error sending row %s", notice_id, row.id)
            return Outcome(row, RETRY, errcode=UNKNOWN_ERRCODE)
        return Outcome(row, SENT, msgid=msgid)

    # -- recording -----------------------------------------------------------------------

    def _record(self, notice_id: int, finished: list[tuple[str, Outcome]]) -> None:
        """Write the outcomes that came in, one transaction per claim they belong to."""
        by_token: dict[str, list[Outcome]] = {}
        for token, outcome in finished:
            by_token.setdefault(token, []).append(outcome)
        redis, keys = self.services.redis, self.services.keys
        for token, outcomes in by_token.items():
            self.transaction(
                lambda s, t=token, o=outcomes: delivery.record(  # type: ignore[misc]
                    s, notice_id, t, o, self.policy, redis, keys
                )
            )
            for outcome in outcomes:
                if outcome.counted:
                    self.unrecorded.release()
        for _, outcome in finished:
            if outcome.kind != SENT:
                log.info(
                    "notice %s row %s: %s errcode=%s",
                    notice_id,
                    outcome.row.id,
                    outcome.kind,
                    outcome.errcode,
                )
