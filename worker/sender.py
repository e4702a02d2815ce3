"""Sending a notice: keep many sends in flight with claimed rows, send each under the shared
rate limit, record outcomes as they arrive, until no row is pending.

Every status change of a notice or a recipient goes through services.notices (delivery,
lifecycle); this module only moves rows between the database and WeChat (worker.sendloop sends
them, NOTICE_SEND_THREADS at a time, from one asyncio loop):
- a batch is claimed when fewer than twice NOTICE_SEND_THREADS rows wait, so sends are always in
  flight and a takeover after a crash resends only those (their client_msg_id, derived from
  (notice, openid), keeps WeChat from delivering twice);
- finished sends are recorded together, in one transaction, once NOTICE_SEND_THREADS of them
  are in or RECORD_SECONDS after the first: sent rows with one UPDATE;
- MariaDB may still pick one of two claims as a deadlock victim (1213) or time a lock out
  (1205): the transaction is simply run again at once, it has no effect until it commits;
- the notice's status is read between claims and at least twice a second: pause and cancel
  take effect on rows not yet sent (they go back to the queue);
- while it lives, the worker renews the lease of the rows it holds, so a takeover only ever
  takes a dead worker's rows; at most 2 sends per send in flight are sent but not yet recorded.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from extensions import Services
from models.notice import QUEUED, SENDING, Notice, NoticeTemplate
from services import notices
from services.notices import delivery, lifecycle
from services.notices.delivery import QUOTA, SENT, STOP, Outcome, Row
from wechat.client import WeChatAPI
from wechat.template_sender import TemplateMessage
from worker.ratelimit import SendRateLimiter
from worker.sendloop import SendLoop, Ticket

log = logging.getLogger("worker.sender")

IDLE_POLL_SECONDS = 0.2
STATUS_POLL_SECONDS = 0.5
# How long the loop waits for a send to finish before looking around again.
TICK_SECONDS = 0.05
# Finished sends wait at most this long to be recorded together.
RECORD_SECONDS = 0.1
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


class NoticeSender:
    """Sends notices from one process. `run()` may be called by several processes for the
    same notice at once (in one process, by one thread at a time)."""

    def __init__(self, services: Services, *, name: str | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.db = services.db
        self.name = name or worker_name()
        self.api = WeChatAPI(self.settings, services.redis, services.keys)
        self.limiter = SendRateLimiter(self.settings, services.redis)
        self.sends = SendLoop(self.settings, self.api, self.limiter)
        self.concurrency = self.sends.concurrency
        self.policy = delivery.RetryPolicy(
            self.settings.notice_max_attempts, self.settings.notice_retry_seconds
        )
        rate_bound = self.settings.notice_sends_per_second * self.settings.notice_lease_seconds // 4
        # A batch must be sent well within its lease, even at the slowest rate allowed.
        self.batch_size = max(1, min(self.settings.notice_batch_size, rate_bound))

    def close(self) -> None:
        try:
            self.sends.close()
        finally:
            self.api.close()

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
        in_flight: set[Ticket] = set()  # claimed rows, queued or being sent
        finished: list[Ticket] = []  # sent, not yet recorded
        finished_at = checked_at = claimed_empty_at = 0.0
        renewed_at = time.monotonic()
        renew_every = self.settings.notice_lease_seconds / 4
        result: str | None = None
        while True:
            now = time.monotonic()
            if finished and (
                not in_flight
                or len(finished) >= self.concurrency
                or now - finished_at >= RECORD_SECONDS
            ):
                if self._record(notice_id, finished):
                    checked_at = 0.0  # the notice has stopped or paused: look at once
                finished = []
            wants_rows = (
                result is None
                and len(in_flight) < 2 * self.concurrency
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
                if not in_flight and not finished:
                    log.info("notice %s pacing: %s", notice_id, self.sends.pacer.stats.summary())
                    return self._final(notice_id, result)
            elif wants_rows:
                tickets = [
                    Ticket(token, row, message, client_msg_id(notice_id, row.openid))
                    for token, row in self._claim(notice_id)
                ]
                if tickets:
                    self.sends.submit(tickets)
                    in_flight.update(tickets)
                else:
                    claimed_empty_at = now
                    if not in_flight and not finished:
                        if not self.transaction(lambda s: delivery.has_pending(s, notice_id)):
                            self.transaction(lambda s: lifecycle.finish(s, notice_id))
                            log.info(
                                "notice %s pacing: %s", notice_id, self.sends.pacer.stats.summary()
                            )
                            return "done"
                        time.sleep(IDLE_POLL_SECONDS)  # others hold the rest, or retries wait
                        continue
            if not in_flight:
                continue
            if now - renewed_at >= renew_every:
                self._renew(in_flight)
                renewed_at = now
            done = self._completed()
            if done:
                if not finished:
                    finished_at = time.monotonic()
                finished += done
                in_flight.difference_update(done)

    def _completed(self) -> list[Ticket]:
        """Sends done since the last call: waits up to a tick for the first."""
        try:
            done = [self.sends.completed.get(timeout=TICK_SECONDS)]
        except queue.Empty:
            return []
        while True:
            try:
                done.append(self.sends.completed.get_nowait())
            except queue.Empty:
                return done

    def _renew(self, in_flight: set[Ticket]) -> None:
        tokens = sorted({ticket.token for ticket in in_flight})
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

    def _message(self, notice_id: int) -> TemplateMessage:
        with self.db.Session() as session:
            notice = session.get(Notice, notice_id)
            assert notice is not None
            template = session.get(NoticeTemplate, notice.template_id)
            assert template is not None
            return TemplateMessage(template.template_id, dict(notice.data), notice.url)

    def _status(self, notice_id: int) -> str:
        with self.db.Session() as session:
            return lifecycle.status_of(session, notice_id)

    def _withdraw(self, in_flight: set[Ticket]) -> None:
        """Stop sends that have not started; their rows go back to the queue."""
        withdrawn: dict[str, list[int]] = {}
        for ticket in self.sends.withdraw(in_flight):
            in_flight.discard(ticket)
            withdrawn.setdefault(ticket.token, []).append(ticket.row.id)
        for token, row_ids in withdrawn.items():
            self.transaction(lambda s, t=token, r=row_ids: delivery.release(s, t, r))  # type: ignore[misc]

    # -- recording -----------------------------------------------------------------------

    def _record(self, notice_id: int, finished: list[Ticket]) -> bool:
        """Write the outcomes that came in, in one transaction; True when one of them stopped
        or paused the notice."""
        outcomes = [ticket.outcome for ticket in finished if ticket.outcome is not None]
        by_token: dict[str, list[Outcome]] = {}
        for ticket in finished:
            if ticket.outcome is not None:
                by_token.setdefault(ticket.token, []).append(ticket.outcome)
        redis, keys = self.services.redis, self.services.keys

        def write(session: Session) -> None:
            # The sent rows' UPDATE is a new SQL text each time (its ids): kept in the engine's
            # compiled cache, it grew the worker by about 8 MiB until the cache was full (at
            # 30-60,000 recipients), so this transaction's statements are not cached.
            session.connection(execution_options={"compiled_cache": None})
            for token, group in by_token.items():
                delivery.record(session, notice_id, token, group, self.policy, redis, keys)

        self.transaction(write)
        self.sends.recorded(sum(1 for outcome in outcomes if outcome.counted))
        for outcome in outcomes:
            if outcome.kind != SENT:
                log.info(
                    "notice %s row %s: %s errcode=%s",
                    notice_id,
                    outcome.row.id,
                    outcome.kind,
                    outcome.errcode,
                )
        return any(outcome.kind in (STOP, QUOTA) for outcome in outcomes)
