"""DATABASE_REPLICA_URL: console reports, exports and dashboards read the replica; writes (and
what a user waits on right after a write) go to the primary.

The "replica" here is a second database on the same server, migrated like the primary but
holding other rows, so the test can tell which one a page read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text

from config import Settings
from extensions import close_extensions
from infra.db import Database
from infra.migrate import upgrade
from models import Base
from models.operator import AuditEntry
from models.volunteer import Volunteer
from tests import volunteer_steps as steps
from tests.conftest import TEST_AES_KEY
from tests.test_console_support import add_operator, add_volunteers, login
from tests.test_health import closed_port
from tests.wechat_user import WeChatUser
from wechat.protocol import Mode


@pytest.fixture(scope="module")
def replica_url(migrated: str) -> Iterator[str]:
    if migrated.startswith("sqlite"):
        pytest.skip("a read replica needs MariaDB/MySQL")
    base, _, query = migrated.partition("?")
    server, _, name = base.rpartition("/")
    replica_name = f"{name}_replica"
    admin = create_engine(server)
    with admin.connect() as conn:
        conn.execute(
            text(
                f"CREATE DATABASE `{replica_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        )
    url = f"{server}/{replica_name}?{query}"
    try:
        upgrade(Settings.from_env({"DATABASE_URL": url}, load_dotenv=False))
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{replica_name}`"))
        admin.dispose()


@pytest.fixture
def replica(settings: Settings, replica_url: str) -> Iterator[Database]:
    database = Database(settings.with_overrides(database_url=replica_url))
    yield database
    with database.engine.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    database.dispose()


@pytest.fixture
def replica_app(
    settings: Settings, db: Database, replica: Database, replica_url: str
) -> Iterator[Flask]:
    from app import create_app

    app = create_app(
        settings.with_overrides(
            database_replica_url=replica_url, wechat_encoding_aes_key=TEST_AES_KEY
        )
    )
    app.config["TESTING"] = True
    yield app
    close_extensions(app)


def operator_client(app: Flask, db: Database) -> FlaskClient:
    add_operator(db, "sheng")  # in the primary: signing in is a write and reads it back
    client = app.test_client()
    assert login(client, "sheng").status_code == 302
    return client


def count_volunteers(database: Database) -> int:
    with database.Session() as session:
        return int(session.scalar(select(func.count()).select_from(Volunteer)) or 0)


def test_reports_exports_and_the_dashboard_read_the_replica(
    replica_app: Flask, db: Database, replica: Database
) -> None:
    add_volunteers(db, 3, name="主库")
    add_volunteers(replica, 7, name="副本")
    client = operator_client(replica_app, db)

    dashboard = client.get("/console/").get_data(as_text=True)
    assert '<div class="n">7</div>' in dashboard
    listing = client.get("/console/volunteers").get_data(as_text=True)
    assert "副本" in listing and "主库" not in listing
    assert client.get("/console/reports").status_code == 200
    export = client.get("/console/volunteers.xlsx")
    assert export.status_code == 200
    assert export.headers["X-Export-Rows"] == "7"
    # The export's audit entry is a write: in the primary.
    with db.Session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) >= 1
    with replica.Session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_chat_writes_and_reads_the_primary(
    replica_app: Flask, db: Database, replica: Database
) -> None:
    bot = replica_app.extensions["bot"]
    user = WeChatUser(
        replica_app.test_client(), bot.protocol, "o_replica_chat_000000000001", Mode.SAFE
    )
    assert "注册成功" in steps.register(user)
    # Read right after the write: from the primary (the replica holds no such volunteer).
    assert "我的志愿者信息" in user.click("VOLUNTEER_PROFILE")
    assert count_volunteers(db) == 1 and count_volunteers(replica) == 0


def test_readyz_checks_the_replica(
    replica_app: Flask, settings: Settings, db: Database, replica_url: str
) -> None:
    body = replica_app.test_client().get("/readyz").get_json()
    assert body["checks"]["replica"] == "ok"

    from app import create_app

    down = replica_url.replace("127.0.0.1:3306", f"127.0.0.1:{closed_port()}")
    assert down != replica_url
    app = create_app(settings.with_overrides(database_replica_url=down))
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["checks"]["replica"] == "unreachable"
        assert response.get_json()["checks"]["database"] == "ok"
    finally:
        close_extensions(app)
