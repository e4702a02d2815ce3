"""Test fixtures: real MariaDB and Redis when reachable (always in CI), embedded defaults otherwise.

Backends are chosen once per run:
- TEST_DATABASE_URL / TEST_REDIS_URL when set;
- else MariaDB on 127.0.0.1:3306 (root, no password) and Redis on 127.0.0.1:6379 when reachable;
- else SQLite in a temporary folder and the in-process Redis stand-in (a line says so).
With CI=true the embedded fallback is refused: CI must test against the real servers.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from config import Settings
from extensions import close_extensions
from infra.db import Database
from infra.migrate import upgrade
from models import Base

pytest_plugins = ["tests.fixtures_wechat"]

LOCAL_MARIADB = "mysql+pymysql://root@127.0.0.1:3306"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _choose_backends() -> tuple[str | None, str | None]:
    """(mysql server URL without database or None for SQLite, redis URL or None for fakeredis)."""
    db = os.environ.get("TEST_DATABASE_URL")
    if not db and _reachable("127.0.0.1", 3306):
        db = LOCAL_MARIADB
    rds = os.environ.get("TEST_REDIS_URL")
    if not rds and _reachable("127.0.0.1", 6379):
        rds = LOCAL_REDIS
    if os.environ.get("CI") == "true" and (not db or not rds):
        raise pytest.UsageError("CI=true: MariaDB and Redis must be reachable for the tests")
    return db, rds


DB_SERVER, REDIS_URL = _choose_backends()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"database: {'MariaDB/MySQL at ' + DB_SERVER.split('@')[-1] if DB_SERVER else 'embedded SQLite'}",
        f"redis: {REDIS_URL or 'embedded fakeredis (no Redis server reachable)'}",
    ]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if DB_SERVER is None:
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        yield f"sqlite:///{path}"
        return
    server = DB_SERVER.rstrip("/")
    base, _, _query = server.partition("?")
    name = f"kjzy_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base)
    with admin.connect() as conn:
        conn.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    try:
        yield f"{base}/{name}?charset=utf8mb4"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    upgrade(base_settings(database_url))
    return database_url


def base_settings(database_url: str, **overrides: object) -> Settings:
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL or "",
            "WECHAT_TOKEN": "testtoken",
            "WECHAT_APP_ID": "wx1234567890abcdef",
            "WECHAT_APP_SECRET": "test-app-secret",
            "SECRET_KEY": "test-secret-key",
            "PII_ENCRYPTION_KEY": "test-pii-key-0123456789abcdef0123456789",
            "WECHAT_API_BASE_URL": "http://127.0.0.1:9",
        },
        load_dotenv=False,
    )
    return settings.with_overrides(redis_prefix=f"kjzy-test:{uuid.uuid4().hex[:10]}:", **overrides)


@pytest.fixture
def settings(migrated: str, fake_wechat_url: str) -> Settings:
    return base_settings(migrated, wechat_api_base_url=fake_wechat_url)


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    from infra.redis import connect

    client = connect(settings)
    yield client
    keys = list(client.scan_iter(match=settings.redis_prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    # Closed here, not left for the garbage collector: a test that keeps the client in a
    # reference cycle (an exception's traceback) would otherwise leave its socket open until a
    # collection, which may finalize the socket before the client (ResourceWarning).
    client.close()


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    # Each test leaves the schema empty for the next one.
    with database.engine.begin() as conn:
        if conn.dialect.name == "mysql":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        if conn.dialect.name == "mysql":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    database.dispose()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


# -- the application and simulated users -------------------------------------------------

from collections.abc import Callable  # noqa: E402

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from tests.wechat_user import WeChatUser  # noqa: E402
from wechat.protocol import Mode, Protocol  # noqa: E402

TEST_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def app(settings: Settings, db: Database, redis_client: redis.Redis) -> Iterator[Flask]:
    from app import create_app

    application = create_app(settings.with_overrides(wechat_encoding_aes_key=TEST_AES_KEY))
    application.config["TESTING"] = True
    yield application
    close_extensions(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def protocol(app: Flask) -> Protocol:
    bot = app.extensions["bot"]
    return bot.protocol  # type: ignore[no-any-return]


@pytest.fixture
def make_user(client: FlaskClient, protocol: Protocol) -> Callable[..., WeChatUser]:
    def make(openid: str | None = None, mode: Mode | None = None) -> WeChatUser:
        return WeChatUser(client, protocol, openid or f"o{uuid.uuid4().hex[:27]}", mode)

    return make


@pytest.fixture
def wechat_user(make_user: Callable[..., WeChatUser]) -> WeChatUser:
    return make_user()


@pytest.fixture
def runner(app: Flask) -> object:
    return app.test_cli_runner()
