"""Operations: the health probes and the menu commands."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from config import Settings
from extensions import close_extensions
from infra.db import Database
from sandbox.fake_wechat import FakeWeChatState
from wechat.commands import MENU_PATH


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def app_with() -> Iterator[list[Flask]]:
    """Apps a test builds itself, closed afterwards."""
    apps: list[Flask] = []
    yield apps
    for app in apps:
        close_extensions(app)


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_each_dependency(client: FlaskClient, app: Flask) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "redis": "ok", "queue": "ok"}
    details = body["details"]
    assert all(details[name]["ms"] >= 0 for name in ("database", "redis", "queue"))
    queue = app.extensions["notice_queue"].queue
    assert details["queue"] == {
        "ms": details["queue"]["ms"],
        "name": queue.name,
        "queued": 0,
        "workers": 0,
    }


def test_readyz_counts_queued_notice_jobs(client: FlaskClient, app: Flask) -> None:
    queue = app.extensions["notice_queue"]
    queue.enqueue(999002, copies=3)  # no worker runs in this test
    try:
        body = client.get("/readyz").get_json()
    finally:
        queue.queue.empty()
    assert body["details"]["queue"]["queued"] == 3


def test_readyz_is_503_when_the_database_is_unreachable(
    settings: Settings, app_with: list[Flask]
) -> None:
    from app import create_app

    if settings.database_is_embedded:
        url = "mysql+pymysql://root@127.0.0.1:{port}/kjzy?charset=utf8mb4"
    else:
        url = settings.database_url.replace("127.0.0.1:3306", "127.0.0.1:{port}")
    assert "{port}" in url
    app = create_app(settings.with_overrides(database_url=url.format(port=closed_port())))
    app_with.append(app)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert body["checks"] == {"database": "unreachable", "redis": "ok", "queue": "ok"}
    assert body["details"]["database"] == {"error": "OperationalError"}
    # Liveness does not depend on the database.
    assert app.test_client().get("/healthz").status_code == 200


def test_readyz_is_503_when_redis_is_unreachable(
    settings: Settings, db: Database, app_with: list[Flask]
) -> None:
    from app import create_app

    broken = settings.with_overrides(redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    app = create_app(broken)
    app_with.append(app)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    # The notice queue lives on the same Redis: it is down too.
    assert response.get_json()["checks"] == {
        "database": "ok",
        "redis": "unreachable",
        "queue": "unreachable",
    }


def test_menu_check_succeeds(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["menu", "check"])
    assert result.exit_code == 0, result.output
    assert "menus.json is valid" in result.output


def test_menu_push_sends_menus_json(runner: FlaskCliRunner, fake_wechat: FakeWeChatState) -> None:
    result = runner.invoke(args=["menu", "push"])
    assert result.exit_code == 0, result.output
    creates = fake_wechat.calls_to("/cgi-bin/menu/create")
    assert len(creates) == 1
    menu = json.loads(MENU_PATH.read_text(encoding="utf-8"))
    assert creates[0].json == menu
    assert fake_wechat.menu == menu


def test_menu_push_reports_an_api_error(
    runner: FlaskCliRunner, fake_wechat: FakeWeChatState
) -> None:
    fake_wechat.fail("/cgi-bin/menu/create", -1)
    result = runner.invoke(args=["menu", "push"])
    assert result.exit_code == 1
    assert "errcode -1" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert fake_wechat.menu is None
