"""The database engine and the one sessionmaker; with DATABASE_REPLICA_URL, a second engine on
a read replica for console reports, exports and dashboards (ReadSession). Writes, and reads a
user waits on right after a write, always use Session (the primary).

MariaDB/MySQL through PyMySQL: no round trip that does no work. A pooled connection is not
pinged at each check-out; instead the first statement of a transaction, sent on a connection
that turns out dead (MariaDB restarted, an idle connection killed), is sent again once on a new
connection (`_Connection`): nothing of a transaction that had not begun is lost, so a restart
costs no user a failure. A connection is rolled back when it goes back to the pool only if a
statement ran since its last COMMIT or ROLLBACK (SQLAlchemy's reset would roll back after every
commit, and twice after a read-only session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pymysql
from pymysql.constants import CR
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import PoolResetState

from config import Settings


class Database:
    def __init__(self, settings: Settings) -> None:
        url = settings.database_url
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, connect_args={"timeout": 15})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = _server_engine(url)
        self.Session: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        replica = settings.database_replica_url
        self.read_engine: Engine = _server_engine(replica) if replica else self.engine
        self.ReadSession: sessionmaker[Session] = (
            sessionmaker(self.read_engine, expire_on_commit=False) if replica else self.Session
        )

    @property
    def has_replica(self) -> bool:
        return self.read_engine is not self.engine

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def ping_replica(self) -> None:
        with self.read_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
        if self.has_replica:
            self.read_engine.dispose()


def _server_engine(url: str) -> Engine:
    pymysql_url = url.startswith("mysql+pymysql://")
    engine = create_engine(
        url,
        # Other drivers: a ping at each check-out instead of _Connection's retry.
        pool_pre_ping=not pymysql_url,
        pool_reset_on_return=None if pymysql_url else "rollback",
        pool_recycle=1800,
        pool_size=10,
        max_overflow=20,
        # An unreachable database must fail fast (readiness probe, 确认 kept in Redis).
        connect_args={"connect_timeout": 3},
    )
    if pymysql_url:
        event.listen(engine, "do_connect", _connect)
        event.listen(engine, "reset", _reset)
    return engine


# What a dead connection answers (SQLAlchemy's MySQL dialect counts the same as disconnects).
DISCONNECTED = frozenset(
    {
        1927,  # MariaDB: the connection was killed (KILL, shutdown)
        CR.CR_SERVER_GONE_ERROR,  # 2006
        CR.CR_SERVER_LOST,  # 2013
        CR.CR_COMMANDS_OUT_OF_SYNC,  # 2014
        CR.CR_SERVER_LOST_EXTENDED,  # 2055
        4031,  # MySQL 8: disconnected by the server for inactivity
    }
)


class _Connection(pymysql.connections.Connection):  # type: ignore[misc]
    """PyMySQL's connection, knowing whether a transaction is open (`clean`: nothing sent since
    connecting or the last COMMIT/ROLLBACK). A statement that would begin a transaction and finds
    the connection dead is sent again once on a new connection to the same server: nothing is
    lost, as the dead session had nothing uncommitted (autocommit connections are not retried:
    their statement may have been applied before the connection dropped)."""

    clean = True

    def query(self, sql: str | bytes, unbuffered: bool = False) -> int:
        if not self.clean or self.autocommit_mode:
            return int(super().query(sql, unbuffered))
        self.clean = False
        try:
            return int(super().query(sql, unbuffered))
        except pymysql.err.OperationalError as exc:
            if exc.args[0] not in DISCONNECTED:
                raise
            self._force_close()
            try:
                self.connect()
            except pymysql.err.OperationalError:
                raise exc from None  # still down: the disconnect, which SQLAlchemy handles
            self.clean = False
            return int(super().query(sql, unbuffered))

    def commit(self) -> None:
        super().commit()
        self.clean = True

    def rollback(self) -> None:
        super().rollback()
        self.clean = True

    def connect(self, sock: Any = None) -> None:
        super().connect(sock)
        self.clean = True


def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> _Connection:
    return _Connection(*cargs, **cparams)


def _reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """A connection back in the pool ends its transaction, if it has one."""
    if not getattr(dbapi_connection, "clean", False) and not state.terminate_only:
        dbapi_connection.rollback()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
