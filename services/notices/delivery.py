"""Delivering a notice to its recipients: rows claimed by a worker, each outcome recorded, and
WeChat's delivery reports (TEMPLATESENDJOBFINISH).

Guarantees, with any number of workers on any number of machines:
- a row is claimed by one worker at a time (SELECT ... FOR UPDATE SKIP LOCKED on MariaDB; on
  SQLite, which has one writer, the guarded UPDATE is enough), and every outcome is written only
  if the row is still claimed by the writer;
- a worker that dies leaves its rows claimed; when the claim (lease) expires another worker
  takes them over and sends them again with the same client_msg_id, derived from
  (notice, openid), so WeChat does not deliver twice (it blocks a repeated id for 10 minutes,
  which is why the lease must stay well under that: config.settings.MAX_NOTICE_LEASE_SECONDS);
- outcomes are recorded as they arrive, so a takeover resends only what was in flight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import redis
from sqlalchemy import Table, bindparam, exists, or_, select, text, update
from sqlalchemy.orm import Session

from domain.clock import utcnow
from infra.redis import Keys
from models.notice import (
    DELIVERED,
    PENDING_STATUSES,
    R_FAILED,
    R_QUEUED,
    R_RETRY,
    R_SENDING,
    R_SENT,
    SYSTEM_FAILED,
    USER_BLOCK,
    NoticeRecipient,
)
from services import followers
from services.notices import lifecycle
from services.notices.lifecycle import rowcount

# Outcome kinds
SENT, RETRY, FAILED, STOP, QUOTA = "sent", "retry", "failed", "stop", "quota"
MAX_BACKOFF_SECONDS = 600
UNSUBSCRIBED_ERRCODE, REFUSED_ERRCODE = 43004, 43101


def client_msg_id(notice_id: int, openid: str) -> str:
    """The same for every attempt to send this notice to this user."""
    digest = hashlib.sha256(f"{notice_id}:{openid}".encode()).hexdigest()[:20]
    return f"n{notice_id}-{digest}"


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
    counted: bool = True  # the send was attempted (a sender counts these until recorded)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    retry_seconds: float


# -- claiming --------------------------------------------------------------------------------


def claim(
    session: Session, notice_id: int, token: str, *, batch_size: int, lease_seconds: int
) -> list[Row]:
    """Take up to batch_size rows for `token`: expired claims and due retries first, then new
    rows. Rows locked by another claim are skipped, never waited for."""
    now = utcnow()
    lease_cutoff = now - timedelta(seconds=lease_seconds)
    table = cast(Table, NoticeRecipient.__table__)
    c = table.c
    claimable = (
        (c.status == R_SENDING) & (c.claimed_at < lease_cutoff),
        (c.status == R_RETRY) & (c.next_attempt_at <= now),
        c.status == R_QUEUED,
    )
    connection = session.connection()
    found: list[Row] = []
    for condition in claimable:
        wanted = batch_size - len(found)
        if wanted <= 0:
            break
        found += [
            Row(row_id, openid, attempts)
            for row_id, openid, attempts in connection.execute(
                select(c.id, c.openid, c.attempts)
                .where(c.notice_id == notice_id, condition)
                .order_by(c.id)
                .limit(wanted)
                .with_for_update(skip_locked=True)
            )
        ]
    if not found:
        return []
    ids = [row.id for row in found]
    claimed = rowcount(
        connection.execute(
            table.update()
            .where(c.id.in_(ids), or_(*claimable))
            .values(status=R_SENDING, claimed_by=token, claimed_at=now)
        )
    )
    if claimed == len(ids):  # MariaDB: the rows were locked by the SELECT, all are ours
        return found
    # SQLite locks no row on a SELECT: another claim may have taken some in between.
    ours = set(connection.scalars(select(c.id).where(c.id.in_(ids), c.claimed_by == token)))
    return [row for row in found if row.id in ours]


def release(session: Session, token: str, row_ids: Sequence[int]) -> None:
    """Give back claimed rows that were not sent (the notice was paused meanwhile)."""
    if not row_ids:
        return
    R = NoticeRecipient
    session.execute(
        update(R)
        .where(R.id.in_(row_ids), R.status == R_SENDING, R.claimed_by == token)
        .values(status=R_QUEUED, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )


def renew(session: Session, tokens: Sequence[str]) -> None:
    """Extend the lease of rows a live worker still holds (they wait in its send queue), so
    only a dead worker's rows are ever taken over."""
    if not tokens:
        return
    R = NoticeRecipient
    session.execute(
        update(R)
        .where(R.claimed_by.in_(tokens), R.status == R_SENDING)
        .values(claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def has_pending(session: Session, notice_id: int) -> bool:
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


# -- recording -------------------------------------------------------------------------------


def _row_update(outcome: Outcome, now: datetime, policy: RetryPolicy) -> dict[str, object]:
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
    elif outcome.kind in (STOP, QUOTA):
        # Not the recipient's fault: the row waits for the notice to be resumed.
        values.update(new_status=R_QUEUED, new_attempts=row.attempts)
    elif outcome.kind == RETRY and attempts < policy.max_attempts:
        backoff = min(policy.retry_seconds * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
        values.update(new_status=R_RETRY, new_next_attempt_at=now + timedelta(seconds=backoff))
    return values


def record(
    session: Session,
    notice_id: int,
    token: str,
    outcomes: Sequence[Outcome],
    policy: RetryPolicy,
    client: redis.Redis,
    keys: Keys,
) -> None:
    """Write outcomes, each only if the row is still claimed by `token` (a row whose lease ran
    out may have been taken over and recorded by another worker): the sent rows with one
    UPDATE (their msgid by a CASE on the id; plain SQL text, as SQLAlchemy would compile each
    new length of the CASE anew), the others one by one. Keep the followers' table
    up to date; stop or pause the notice when WeChat says so."""
    if not outcomes:
        return
    now = utcnow()
    table = cast(Table, NoticeRecipient.__table__)
    sent = [o for o in outcomes if o.kind == SENT and o.msgid is not None]
    if sent:  # the common case: one statement for all, its text built here (ids are ints)
        ids = [int(o.row.id) for o in sent]
        msgids = " ".join(
            f"WHEN {row_id} THEN {int(o.msgid or 0)}" for row_id, o in zip(ids, sent, strict=True)
        )
        statement = text(
            f"UPDATE {table.name} SET status = :sent, "
            f"attempts = attempts + 1, msgid = CASE id {msgids} END, errcode = NULL, "
            "sent_at = :now, next_attempt_at = NULL, claimed_by = NULL, claimed_at = NULL "
            f"WHERE id IN ({', '.join(map(str, ids))}) AND status = :sending "
            "AND claimed_by = :token"
        ).bindparams(bindparam("now", type_=table.c.sent_at.type))
        session.execute(
            statement, {"sent": R_SENT, "now": now, "sending": R_SENDING, "token": token}
        )
    others = [o for o in outcomes if o.kind != SENT or o.msgid is None]
    if others:
        _record_each(session, token, others, now, policy)
    followers.unreachable(
        session,
        unsubscribed=[o.row.openid for o in outcomes if o.errcode == UNSUBSCRIBED_ERRCODE],
        refusing=[o.row.openid for o in outcomes if o.errcode == REFUSED_ERRCODE],
    )
    stop = next((o for o in outcomes if o.kind == STOP), None)
    if stop is not None:
        lifecycle.stop(session, notice_id, stop.errcode or 0)
    elif any(o.kind == QUOTA for o in outcomes):
        lifecycle.pause_for_quota(session, notice_id)
    apply_early_deliveries(session, client, keys, [o.msgid for o in sent if o.msgid is not None])


def _record_each(
    session: Session, token: str, outcomes: Sequence[Outcome], now: datetime, policy: RetryPolicy
) -> None:
    params = [{**_row_update(outcome, now, policy), "token": token} for outcome in outcomes]
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
    session.connection().execute(statement, params)


# -- delivery reports (TEMPLATESENDJOBFINISH) -----------------------------------------------

DELIVERY_BY_STATUS = {
    "success": DELIVERED,
    "failed:user block": USER_BLOCK,
    "failed: system failed": SYSTEM_FAILED,
}
# A report can arrive before the worker has written the msgid: it waits this long in Redis.
EARLY_REPORT_SECONDS = 3600


def delivery_of(status: str) -> str:
    normalised = status.strip().lower()
    if normalised in DELIVERY_BY_STATUS:
        return DELIVERY_BY_STATUS[normalised]
    if "block" in normalised:
        return USER_BLOCK
    return DELIVERED if normalised == "success" else SYSTEM_FAILED


def apply_delivery(session: Session, msgid: int, delivery: str) -> int:
    return rowcount(
        session.execute(
            update(NoticeRecipient)
            .where(NoticeRecipient.msgid == msgid)
            .values(delivery=delivery, delivered_at=utcnow())
        )
    )


def record_delivery(
    session: Session, client: redis.Redis, keys: Keys, msgid: int, status: str
) -> bool:
    """Update the row with this msgid; keep the report in Redis if the row has no msgid yet
    (the worker applies it when it records the send). True when a row was updated."""
    delivery = delivery_of(status)
    if apply_delivery(session, msgid, delivery):
        return True
    client.set(keys.notice_delivery(msgid), delivery, ex=EARLY_REPORT_SECONDS)
    return False


def apply_early_deliveries(
    session: Session, client: redis.Redis, keys: Keys, msgids: Sequence[int]
) -> None:
    if not msgids:
        return
    names = [keys.notice_delivery(m) for m in msgids]
    found = [(m, v) for m, v in zip(msgids, client.mget(names), strict=True) if v is not None]
    for msgid, value in found:
        apply_delivery(session, msgid, value.decode() if isinstance(value, bytes) else str(value))
    if found:
        client.delete(*(keys.notice_delivery(m) for m, _ in found))
