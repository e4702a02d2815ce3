"""Follower bookkeeping, one place for the chat (subscribe, unsubscribe, last seen) and the
notice workers (a send answered 43004 or 43101).

A row exists for everyone who followed the account: written by the subscribe event, or by the
first message of someone who followed before this service existed (WeChat delivers messages
only from followers). Notices go only to rows that are subscribed and do not refuse them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

import redis
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.clock import utcnow
from infra.redis import Keys
from models import audience
from models.follower import Follower

# Last-seen times are written to the database at most this often per user.
SEEN_REFRESH_SECONDS = 3600


def _row(session: Session, openid: str, now: datetime) -> Follower:
    follower = session.scalar(select(Follower).where(Follower.openid == openid))
    if follower is None:
        follower = Follower(openid=openid, first_seen_at=now, last_seen_at=now)
        session.add(follower)
    return follower


def followed(session: Session, openid: str, scene: str | None = None) -> None:
    """A subscribe event (again subscribed, refusals kept as WeChat keeps them)."""
    now = utcnow()
    follower = _row(session, openid, now)
    follower.subscribed, follower.last_seen_at, follower.unsubscribed_at = True, now, None
    if scene:
        follower.subscribe_scene = scene[:64]


def unfollowed(session: Session, openid: str) -> None:
    """An unsubscribe event."""
    now = utcnow()
    follower = _row(session, openid, now)
    follower.subscribed, follower.last_seen_at, follower.unsubscribed_at = False, now, now


def due_for_seen(client: redis.Redis, keys: Keys, openid: str) -> bool:
    """True at most once per SEEN_REFRESH_SECONDS per user (the caller then calls `seen`)."""
    return bool(client.set(keys.follower_seen(openid), b"1", nx=True, ex=SEEN_REFRESH_SECONDS))


_table = cast(Table, Follower.__table__)
_SEEN_EXISTS = select(_table.c.id).where(_table.c.openid == bindparam("o"))
_SEEN_UPDATE = (
    update(_table).where(_table.c.openid == bindparam("o")).values(last_seen_at=bindparam("t"))
)
_SEEN_ROW: dict[str, Any] = {
    "openid": bindparam("o"),
    "first_seen_at": bindparam("t"),
    "last_seen_at": bindparam("t"),
}
_SEEN_INSERT = {
    "sqlite": sqlite_insert(_table).values(_SEEN_ROW).on_conflict_do_nothing(),
    "mysql": mysql_insert(_table).values(_SEEN_ROW).prefix_with("IGNORE"),
}


# Context.known: no volunteer record holds the sender's openid (learnt by `seen`).
NO_VOLUNTEER = "followers.no_volunteer"


def seen(session: Session, openid: str) -> bool:
    """Any message: refresh the last-seen time (the row is created for an earlier follower).
    True when it created the row and found no volunteer with that openid: the message's
    handler need not look again (registration's check; only the sender's own registration,
    which waits for their lock, gives a volunteer an openid).

    No ORM, statements built once: a plain read of the row, then an UPDATE of the row found,
    or an INSERT that yields to a row a subscribe event added meanwhile and a look-up of a
    volunteer with that openid, whose notices may now reach them (models.audience).

    The read comes first because it takes no lock. An UPDATE that finds no row locks the gap
    where the row would go (REPEATABLE READ), and two newcomers in one gap then wait for each
    other's INSERT: a deadlock (1213) that lost a third of the follower rows of
    bench/signup.py's storm of newcomers."""
    conn = session.connection()
    params = {"o": openid, "t": utcnow()}
    if conn.execute(_SEEN_EXISTS, params).first() is not None:
        conn.execute(_SEEN_UPDATE, params)
        return False
    dialect = conn.dialect.name
    if conn.execute(_SEEN_INSERT["sqlite" if dialect == "sqlite" else "mysql"], params).rowcount:
        # Plain SQL: a new follower row (subscribed) may make a volunteer's notices reach them.
        return not audience.resync_openids(session, [openid])
    return False


def _ensure_rows(session: Session, openids: set[str], now: datetime) -> None:
    known = set(session.scalars(select(Follower.openid).where(Follower.openid.in_(openids))))
    for openid in openids - known:
        try:
            with session.begin_nested():  # a subscribe event may add the row meanwhile
                session.add(Follower(openid=openid, first_seen_at=now, last_seen_at=now))
        except IntegrityError:
            pass


def unreachable(session: Session, *, unsubscribed: Iterable[str], refusing: Iterable[str]) -> None:
    """WeChat answered a send with 43004 (no longer follows) or 43101 (refuses notices)."""
    gone, refuse = set(unsubscribed), set(refusing)
    if not gone and not refuse:
        return
    now = utcnow()
    _ensure_rows(session, gone | refuse, now)
    if gone:
        session.execute(
            update(Follower)
            .where(Follower.openid.in_(gone))
            .values(subscribed=False, unsubscribed_at=now)
        )
    if refuse:
        session.execute(
            update(Follower).where(Follower.openid.in_(refuse)).values(refuses_notices=True)
        )
