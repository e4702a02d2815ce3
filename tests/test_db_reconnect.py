"""MariaDB lost and back (a restart, killed connections): pooled connections are not pinged at
check-out, so the first statement of a transaction that finds its connection dead is sent again
on a new one (infra.db._Connection); a transaction already under way is not retried. A
connection goes back to the pool without an open transaction, rolled back only when it has one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from config import Settings
from extensions import close_extensions
from infra.db import Database
from models import Follower, Volunteer
from tests import volunteer_steps as steps
from tests.conftest import TEST_AES_KEY
from tests.tcp_proxy import TcpProxy
from tests.wechat_user import WeChatUser


@pytest.fixture
def proxy(settings: Settings) -> Iterator[TcpProxy]:
    if not settings.database_url.startswith("mysql+pymysql://"):
        pytest.skip("needs a MariaDB server to lose")
    upstream = urlsplit(settings.database_url)
    with TcpProxy((upstream.hostname or "127.0.0.1", upstream.port or 3306)) as tcp:
        yield tcp


def _via(settings: Settings, proxy: TcpProxy) -> Settings:
    url = urlsplit(settings.database_url)
    netloc = url.netloc.replace(f"{url.hostname}:{url.port or 3306}", f"127.0.0.1:{proxy.port}")
    return settings.with_overrides(database_url=url._replace(netloc=netloc).geturl())


@pytest.fixture
def lost_db(settings: Settings, db: Database, proxy: TcpProxy) -> Iterator[Database]:
    database = Database(_via(settings, proxy))
    yield database
    database.dispose()


def _restart(proxy: TcpProxy) -> None:
    """Every connection dropped, as a MariaDB restart drops them; then the server is back."""
    proxy.cut()
    proxy.restore()


def _add_follower(database: Database, openid: str) -> None:
    with database.Session.begin() as session:
        session.execute(
            insert(Follower).values(
                openid=openid, first_seen_at=func.now(), last_seen_at=func.now()
            )
        )


def _followers(db: Database) -> int:
    with db.Session() as session:
        return session.scalar(select(func.count()).select_from(Follower)) or 0


def _warm(database: Database, connections: int) -> None:
    """Leave `connections` connections in the pool (held at once, then returned)."""
    barrier = threading.Barrier(connections)

    def hold() -> None:
        with database.Session() as session:
            session.execute(select(1)).all()
            barrier.wait(timeout=10)

    threads = [threading.Thread(target=hold) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert database.engine.pool.checkedin() == connections  # type: ignore[attr-defined]


def test_every_pooled_connection_dropped_costs_no_statement(
    lost_db: Database, db: Database, proxy: TcpProxy
) -> None:
    _warm(lost_db, 3)
    _restart(proxy)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            _add_follower(lost_db, f"oReconnect{n:016d}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _followers(db) == 3


def test_a_transaction_under_way_is_not_sent_again(
    lost_db: Database, db: Database, proxy: TcpProxy
) -> None:
    with pytest.raises(DBAPIError) as raised, lost_db.Session.begin() as session:
        session.execute(
            insert(Follower).values(
                openid="oReconnectHalfway00000000",
                first_seen_at=func.now(),
                last_seen_at=func.now(),
            )
        )
        _restart(proxy)
        session.execute(select(func.count()).select_from(Follower)).all()
    assert raised.value.connection_invalidated
    assert _followers(db) == 0  # the dead session's INSERT was never committed
    _add_follower(lost_db, "oReconnectAfter0000000000")  # the pool works again
    assert _followers(db) == 1


def test_while_the_server_is_down_the_error_reaches_the_caller(
    lost_db: Database, db: Database, proxy: TcpProxy
) -> None:
    _warm(lost_db, 1)
    proxy.cut()
    with pytest.raises(DBAPIError):
        _add_follower(lost_db, "oReconnectDown00000000000")
    proxy.restore()
    _add_follower(lost_db, "oReconnectUp0000000000000")
    assert _followers(db) == 1


def _in_transaction(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text("SELECT @@in_transaction")).scalar_one())


def test_connections_go_back_to_the_pool_without_a_transaction(
    lost_db: Database, db: Database
) -> None:
    _warm(lost_db, 1)  # one connection: each check-out below gets the same one
    with lost_db.Session() as session:  # a read, then closed
        session.execute(select(Follower.id)).all()
    assert _in_transaction(lost_db) == 0
    _add_follower(lost_db, "oReconnectCommitted000000")  # a write, committed
    assert _in_transaction(lost_db) == 0
    raw = lost_db.engine.raw_connection()  # a driver-level write left open: rolled back
    cursor = raw.cursor()
    cursor.execute(
        "INSERT INTO followers (openid, subscribed, refuses_notices, first_seen_at, last_seen_at)"
        " VALUES ('oReconnectLeftOpen0000000', 1, 0, NOW(), NOW())"
    )
    cursor.close()
    raw.close()
    assert _in_transaction(lost_db) == 0
    assert _followers(db) == 1


@pytest.fixture
def app_via_proxy(
    settings: Settings, db: Database, redis_client: redis.Redis, proxy: TcpProxy
) -> Iterator[Flask]:
    from app import create_app

    application = create_app(
        _via(settings, proxy).with_overrides(wechat_encoding_aes_key=TEST_AES_KEY)
    )
    yield application
    close_extensions(application)


def test_a_restart_during_a_registration_costs_the_user_nothing(
    app_via_proxy: Flask, proxy: TcpProxy, db: Database
) -> None:
    user = WeChatUser(
        app_via_proxy.test_client(),
        app_via_proxy.extensions["bot"].protocol,
        "oReconnectUser00000000001",
    )
    user.say("帮助")  # a connection in the pool
    _restart(proxy)
    steps.answer_until(user)  # its first message writes the follower row, checks registration
    _restart(proxy)
    assert "注册成功" in user.say("确认")
    with db.Session() as session:
        assert session.scalar(select(func.count()).select_from(Volunteer)) == 1
