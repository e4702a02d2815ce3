"""Console error pages: Chinese and styled for every 4xx/5xx under /console, 503 without Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from extensions import close_extensions
from infra.db import Database
from tests.test_console_support import (
    PASSWORD,
    add_operator,
    csrf_token,
    login,
    province_client,  # noqa: F401  (fixture)
)
from tests.test_health import closed_port

STYLESHEET = "/console/static/console.css"


def styled_chinese(answer: object, title: str) -> str:
    page = answer.get_data(as_text=True)  # type: ignore[attr-defined]
    assert answer.mimetype == "text/html", page[:200]  # type: ignore[attr-defined]
    assert STYLESHEET in page and f"<h1>{title}</h1>" in page, page[:500]
    assert "Not Found" not in page and "Traceback" not in page
    return page


@pytest.fixture
def broken_app(request: pytest.FixtureRequest, settings: Settings, db: Database) -> Iterator[Flask]:
    from app import create_app

    application = create_app(settings.with_overrides(**request.param))
    application.config["TESTING"] = True
    yield application
    close_extensions(application)


def test_unknown_console_address_is_a_chinese_404(client: FlaskClient) -> None:
    answer = client.get("/console/no-such-page")
    assert answer.status_code == 404
    styled_chinese(answer, "页面不存在")


def test_wrong_method_is_a_chinese_405(client: FlaskClient) -> None:
    answer = client.get("/console/logout")
    assert answer.status_code == 405
    styled_chinese(answer, "请求方式不对")


def test_missing_record_is_a_chinese_404_with_the_menu(
    province_client: FlaskClient,  # noqa: F811
) -> None:
    answer = province_client.get("/console/activities/999999")
    assert answer.status_code == 404
    page = styled_chinese(answer, "页面不存在")
    assert "退出" in page  # the operator keeps the console's navigation


def test_outside_the_console_errors_stay_plain(client: FlaskClient) -> None:
    answer = client.get("/no-such-page")
    assert answer.status_code == 404
    assert "console.css" not in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "broken_app", [{"database_url": "mysql+pymysql://root@127.0.0.1:1/none"}], indirect=True
)
def test_a_server_error_is_a_chinese_500(broken_app: Flask) -> None:
    client = broken_app.test_client()
    token = csrf_token(client, "/console/login")
    answer = client.post(
        "/console/login", data={"csrf_token": token, "username": "sheng", "password": PASSWORD}
    )
    assert answer.status_code == 500
    styled_chinese(answer, "出错了")


@pytest.mark.parametrize(
    "broken_app", [{"redis_url": f"redis://127.0.0.1:{closed_port()}/0"}], indirect=True
)
def test_login_without_redis_is_a_chinese_503(broken_app: Flask, db: Database) -> None:
    add_operator(db, "sheng")
    client = broken_app.test_client()
    answer = login(client, "sheng")
    assert answer.status_code == 503
    styled_chinese(answer, "暂时无法登录，请稍后再试")


@pytest.mark.parametrize(
    "broken_app", [{"redis_url": f"redis://127.0.0.1:{closed_port()}/0"}], indirect=True
)
def test_a_logged_in_page_without_redis_is_a_chinese_503(
    app: Flask, broken_app: Flask, db: Database
) -> None:
    add_operator(db, "sheng")
    working = app.test_client()
    assert login(working, "sheng").status_code == 302
    cookie = working.get_cookie("session")
    assert cookie is not None
    # The same browser, when Redis (where the login's session lives) has gone away.
    stranded = broken_app.test_client()
    stranded.set_cookie("session", cookie.value)
    answer = stranded.get("/console/volunteers")
    assert answer.status_code == 503
    page = styled_chinese(answer, "暂时无法登录，请稍后再试")
    assert "退出" not in page
