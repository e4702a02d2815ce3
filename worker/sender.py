"""Sending a notice: claim a batch of recipient rows, send them under the shared rate limit,
record each outcome, repeat until no row is pending.

Guarantees, with any number of workers on any number of machines:
- a row is claimed by one worker at a time (SELECT ... FOR UPDATE SKIP LOCKED on MariaDB; on
  SQLite, which has one writer, the guarded UPDATE is enough), and every outcome is written only
  if the row is still claimed by the writer;
- a worker that dies leaves its rows claimed; when the claim (lease) expires another worker
  takes them over and sends them again with the same client_msg_id, derived from
  (notice, openid), so WeChat does not deliver twice (it blocks a repeated id for 10 minutes,
  which is why the lease must stay well under that: config.settings.MAX_NOTICE_LEASE_SECONDS);
- a worker keeps going while any row of the notice is pending (also rows claimed by others),
  so as long as one worker lives, the notice ends with no gap.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extensions import Services
from models.base import utcnow
from models.follower import Follower
from models.notice import (
    CANCELLED,
    FINISHED,
    PENDING_STATUSES,
    QUEUED,
    R_FAILED,
    R_QUEUED,
    R_RETRY,
    R_SENDING,
    R_SENT,
    SENDING,
    STOPPED,
    Notice,
    NoticeRecipient,
    NoticeTemplate,
)
from services import notices
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
RETRYABLE = (BusyError, RateLimitedError, WeChatUnavailableError, TokenInvalidError)
STOP_REASONS = {
    40037: "模板ID无效（40037）：请在「模板」页核对模板ID，然后继续发送。",
    47003: "模板数据不符合要求（47003）：请取消本通知，修改内容后重新发送。",
}
MAX_BACKOFF_SECONDS = 600
IDLE_POLL_SECONDS = 0.2
# errcode recorded when a retryable failure gave no errcode of its own (an exception of ours).
UNKNOWN_ERRCODE = -3

# Outcome kinds
SENT, RETRY, FAILED, STOP = "sent", "retry", "failed", "stop"


def client_msg_id(notice_id: int, openid: str) -> str:
    """The same for every attempt to send this notice to this user."""
    digest = hashlib.sha256(f"{notice_id}:{openid}".encode()).hexdigest()[:20]
    return f"n{notice_id}-{digest}"


def worker_name() -> str:
    return f"{socket.gethostname()[:20]}.{os.getpid()}"


@dataclass(frozen=True)
class Row:
    id: int
    openid: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    row: Row
    kind: str
    msgid: int | None = None
    errcode: int | None = None


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
        self.pool = ThreadPoolExecutor(
            max_workers=self.settings.notice_send_threads, thread_name_prefix="notice-send"
        )
        self._local = threading.local()
        self._clients: list[WeChatAPI] = []
        self._clients_lock = threading.Lock()
        rate_bound = self.settings.notice_sends_per_second * self.settings.notice_lease_seconds // 4
        # A batch must be sent well within its lease, even at the slowest rate allowed.
        self.batch_size = max(1, min(self.settings.notice_batch_size, rate_bound))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        with self._clients_lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def __enter__(self) -> NoticeSender:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the loop ------------------------------------------------------------------------

    def run(self, notice_id: int, *, seconds: float | None = None) -> str:
        """Send until the notice has no pending row ("done"), it is paused, stopped or
        cancelled (its status), or `seconds` have passed ("slice": call again)."""
        deadline = None if seconds is None else time.monotonic() + seconds
        with self.db.Session.begin() as session:
            notice = session.get(Notice, notice_id)
            if notice is None:
                return "missing"
            if notice.status == QUEUED:
                notices.prepare(session, notice_id)
        message = self._message(notice_id)
        while True:
            status = self._status(notice_id)
            if status != SENDING:
                if status == CANCELLED:
                    with self.db.Session.begin() as session:
                        notices.cancel_pending(session, notice_id)
                return status
            token, rows = self._claim(notice_id)
            if rows:
                outcomes = list(
                    self.pool.map(lambda row: self._send(message, notice_id, row), rows)
                )
                self._record(notice_id, token, outcomes)
            elif not self._has_pending(notice_id):
                self._finish(notice_id)
                return "done"
            else:
                time.sleep(IDLE_POLL_SECONDS)  # others hold the rest, or retries are waiting
            if deadline is not None and time.monotonic() >= deadline:
                return "slice"

    def _message(self, notice_id: int) -> Message:
        with self.db.Session() as session:
            notice = session.get(Notice, notice_id)
            assert notice is not None
            template = session.get(NoticeTemplate, notice.template_id)
            assert template is not None
            return Message(template.template_id, dict(notice.data), notice.url)

    def _status(self, notice_id: int) -> str:
        with self.db.Session() as session:
            return session.scalar(select(Notice.status).where(Notice.id == notice_id)) or ""

    def _has_pending(self, notice_id: int) -> bool:
        with self.db.Session() as session:
            return bool(
                session.scalar(
                    select(
                        exists().where(
                            NoticeRecipient.notice_id == notice_id,
                            NoticeRecipient.status.in_(PENDING_STATUSES),
                        )
                    )
                )
            )

    # -- claiming ------------------------------------------------------------------------

    def _claim(self, notice_id: int) -> tuple[str, list[Row]]:
        """Take up to batch_size rows: expired claims and due retries first, then new rows."""
        now = utcnow()
        token = f"{self.name}:{uuid.uuid4().hex[:8]}"
        lease_cutoff = now - timedelta(seconds=self.settings.notice_lease_seconds)
        R = NoticeRecipient
        claimable = (
            (R.status == R_SENDING) & (R.claimed_at < lease_cutoff),
            (R.status == R_RETRY) & (R.next_attempt_at <= now),
            R.status == R_QUEUED,
        )
        with self.db.Session.begin() as session:
            ids: list[int] = []
            for condition in claimable:
                wanted = self.batch_size - len(ids)
                if wanted <= 0:
                    break
                ids += session.scalars(
                    select(R.id)
                    .where(R.notice_id == notice_id, condition)
                    .order_by(R.id)
                    .limit(wanted)
                    .with_for_update(skip_locked=True)
                ).all()
            if not ids:
                return token, []
            session.execute(
                update(R)
                .where(R.id.in_(ids), or_(*claimable))
                .values(status=R_SENDING, claimed_by=token, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            claimed = session.execute(
                select(R.id, R.openid, R.attempts).where(R.id.in_(ids), R.claimed_by == token)
            ).all()
        return token, [Row(row_id, openid, attempts) for row_id, openid, attempts in claimed]

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
        self.limiter.acquire()
        try:
            msgid = self._api().send_template(
                row.openid,
                message.template_id,
                message.data,
                url=message.url,
                client_msg_id=client_msg_id(notice_id, row.openid),
            )
        except (InvalidTemplateError, TemplateDataError) as error:
            return Outcome(row, STOP, errcode=error.errcode)
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

    def _record(self, notice_id: int, token: str, outcomes: Sequence[Outcome]) -> None:
        """Write every outcome of a batch in one transaction, each only if the row is still
        ours (a row whose lease ran out may have been taken over and recorded by another)."""
        now = utcnow()
        params = [{**self._row_update(outcome, now), "token": token} for outcome in outcomes]
        table = cast(Table, NoticeRecipient.__table__)
        statement = (
            table.update()
            .where(
                table.c.id == bindparam("row_id"),
                table.c.status == R_SENDING,
                table.c.claimed_by == bindparam("token"),
            )
            .values(
                status=bindparam("new_status"),
                attempts=bindparam("new_attempts"),
                msgid=bindparam("new_msgid"),
                errcode=bindparam("new_errcode"),
                sent_at=bindparam("new_sent_at"),
                next_attempt_at=bindparam("new_next_attempt_at"),
                claimed_by=None,
                claimed_at=None,
            )
        )
        stop = next((o for o in outcomes if o.kind == STOP), None)
        with self.db.Session.begin() as session:
            session.connection().execute(statement, params)
            self._update_followers(session, outcomes, now)
            if stop is not None:
                self._stop(session, notice_id, stop.errcode or 0)
            sent = [o.msgid for o in outcomes if o.kind == SENT and o.msgid is not None]
            notices.apply_early_deliveries(session, self.services.redis, self.services.keys, sent)
        for outcome in outcomes:
            if outcome.kind != SENT:
                log.info(
                    "notice %s row %s: %s errcode=%s",
                    notice_id,
                    outcome.row.id,
                    outcome.kind,
                    outcome.errcode,
                )

    def _row_update(self, outcome: Outcome, now: datetime) -> dict[str, object]:
        row = outcome.row
        attempts = row.attempts + 1
        values: dict[str, object] = {
            "row_id": row.id,
            "new_status": R_FAILED,
            "new_attempts": attempts,
            "new_msgid": None,
            "new_errcode": outcome.errcode,
            "new_sent_at": None,
            "new_next_attempt_at": None,
        }
        if outcome.kind == SENT:
            values.update(new_status=R_SENT, new_msgid=outcome.msgid, new_sent_at=now)
        elif outcome.kind == STOP:
            # Not the recipient's fault: the row waits for the notice to be resumed.
            values.update(new_status=R_QUEUED, new_attempts=row.attempts)
        elif outcome.kind == RETRY and attempts < self.settings.notice_max_attempts:
            backoff = min(
                self.settings.notice_retry_seconds * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS
            )
            values.update(new_status=R_RETRY, new_next_attempt_at=now + timedelta(seconds=backoff))
        return values

    def _update_followers(
        self, session: Session, outcomes: Sequence[Outcome], now: datetime
    ) -> None:
        unsubscribed = {o.row.openid for o in outcomes if o.errcode == 43004}
        refusing = {o.row.openid for o in outcomes if o.errcode == 43101}
        if not unsubscribed and not refusing:
            return
        known = set(
            session.scalars(
                select(Follower.openid).where(Follower.openid.in_(unsubscribed | refusing))
            )
        )
        for openid in (unsubscribed | refusing) - known:
            try:
                with session.begin_nested():  # a subscribe event may add the row meanwhile
                    session.add(Follower(openid=openid, first_seen_at=now, last_seen_at=now))
            except IntegrityError:
                pass
        if unsubscribed:
            session.execute(
                update(Follower)
                .where(Follower.openid.in_(unsubscribed))
                .values(subscribed=False, unsubscribed_at=now)
            )
        if refusing:
            session.execute(
                update(Follower).where(Follower.openid.in_(refusing)).values(refuses_notices=True)
            )

    def _stop(self, session: Session, notice_id: int, errcode: int) -> None:
        reason = STOP_REASONS.get(errcode, f"微信拒绝发送（{errcode}）")
        session.execute(
            update(Notice)
            .where(Notice.id == notice_id, Notice.status == SENDING)
            .values(status=STOPPED, stop_reason=reason, updated_at=utcnow())
        )
        log.warning("notice %s stopped: errcode %s", notice_id, errcode)

    def _finish(self, notice_id: int) -> None:
        now = utcnow()
        with self.db.Session.begin() as session:
            pending = exists().where(
                NoticeRecipient.notice_id == notice_id,
                NoticeRecipient.status.in_(PENDING_STATUSES),
            )
            session.execute(
                update(Notice)
                .where(Notice.id == notice_id, Notice.status == SENDING, ~pending)
                .values(status=FINISHED, finished_at=now, updated_at=now)
            )
