"""The database engine and the one sessionmaker; with DATABASE_REPLICA_URL, a second engine on
a read replica for console reports, exports and dashboards (ReadSession). Writes, and reads a
user waits on right after a write, always use Session (the primary)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

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
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_size=10,
        max_overflow=20,
        # An unreachable database must fail fast (readiness probe, 确认 kept in Redis).
        connect_args={"connect_timeout": 3},
    )


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
