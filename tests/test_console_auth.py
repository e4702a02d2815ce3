"""Console accounts: the operator CLI, login and logout, CSRF, login throttling, sessions."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from console.views.account import login_throttle
from infra.db import Database
from models.operator import AuditEntry, Operator
from services.operators import LOGIN_FAILURES_PER_IP
from tests.test_console_support import PASSWORD, add_operator, csrf_token, login


def audit_actions(db: Database) -> list[str]:
    with db.Session() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_operator_create_command(runner: FlaskCliRunner, db: Database) -> None:
    result = runner.invoke(
        args=["operator", "create", "lanzhou", "--role", "region:620100", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert "兰州市" in result.output
    with db.Session() as session:
        operator = session.scalar(select(Operator).where(Operator.username == "lanzhou"))
        assert operator is not None
        assert operator.role == "region" and operator.region_code == "620100"
        assert operator.password_hash.startswith("scrypt:")
        assert PASSWORD not in operator.password_hash
    assert audit_actions(db) == ["operator_create"]
    listed = runner.invoke(args=["operator", "list"])
    assert "lanzhou" in listed.output and "甘肃省兰州市" in listed.output


def test_operator_create_prompts_for_the_password(runner: FlaskCliRunner, db: Database) -> None:
    result = runner.invoke(
        args=["operator", "create", "sheng", "--role", "province"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "全省" in result.output


def test_operator_create_refuses_bad_input(runner: FlaskCliRunner, db: Database) -> None:
    bad_role = runner.invoke(
        args=["operator", "create", "x1x", "--role", "region:110000", "--password", PASSWORD]
    )
    assert bad_role.exit_code == 1 and "不是甘肃省" in bad_role.output
    short = runner.invoke(
        args=["operator", "create", "x2x", "--role", "province", "--password", "short1"]
    )
    assert short.exit_code == 1 and "至少10个字符" in short.output
    add_operator(db, "taken")
    twice = runner.invoke(
        args=["operator", "create", "taken", "--role", "province", "--password", PASSWORD]
    )
    assert twice.exit_code == 1 and "已存在" in twice.output


def test_pages_need_a_login(client: FlaskClient) -> None:
    answer = client.get("/console/volunteers")
    assert answer.status_code == 302
    assert "/console/login" in answer.headers["Location"]


def test_login_and_logout(client: FlaskClient, db: Database) -> None:
    add_operator(db, "sheng")
    answer = login(client, "sheng")
    assert answer.status_code == 302
    dashboard = client.get("/console/")
    assert dashboard.status_code == 200
    assert "注册志愿者" in dashboard.get_data(as_text=True)

    logout = client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    assert logout.status_code == 302
    assert client.get("/console/").status_code == 302
    assert audit_actions(db) == ["login", "logout"]


def test_wrong_password_is_refused_and_audited(client: FlaskClient, db: Database) -> None:
    add_operator(db, "sheng")
    answer = login(client, "sheng", "wrong-password-1")
    assert answer.status_code == 401
    assert "用户名或密码错误" in answer.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    unknown = login(client, "nobody", "wrong-password-1")
    assert "用户名或密码错误" in unknown.get_data(as_text=True)
    assert audit_actions(db) == ["login_failed", "login_failed"]


def test_forms_without_a_csrf_token_are_refused(client: FlaskClient, db: Database) -> None:
    add_operator(db, "sheng")
    no_token = client.post("/console/login", data={"username": "sheng", "password": PASSWORD})
    assert no_token.status_code == 400
    assert client.get("/console/").status_code == 302  # not logged in

    assert login(client, "sheng").status_code == 302
    forged = client.post("/console/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert "CSRF" in forged.get_data(as_text=True)
    assert client.get("/console/").status_code == 200  # still logged in


def test_login_is_throttled_per_account(client: FlaskClient, db: Database) -> None:
    add_operator(db, "sheng")
    for _ in range(5):
        assert login(client, "sheng", "wrong-password-1").status_code == 401
    blocked = login(client, "sheng")  # even the right password now
    assert blocked.status_code == 401
    assert "登录失败次数过多" in blocked.get_data(as_text=True)
    add_operator(db, "other")
    assert login(client, "other").status_code == 302  # another account is not affected


def test_login_is_throttled_per_address(app: Flask, client: FlaskClient, db: Database) -> None:
    add_operator(db, "sheng")
    throttle = login_throttle(app.extensions["services"])
    for n in range(LOGIN_FAILURES_PER_IP - 1):  # earlier guesses at other names, same address
        throttle.failed(f"user:guess{n}", "ip:127.0.0.1")
    assert login(client, "sheng").status_code == 302
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    assert login(client, "guess-again", "wrong-password-1").status_code == 401
    blocked = login(client, "sheng")
    assert "登录失败次数过多" in blocked.get_data(as_text=True)
    elsewhere = client.application.test_client()
    token = csrf_token(elsewhere, "/console/login")
    answer = elsewhere.post(
        "/console/login",
        data={"csrf_token": token, "username": "sheng", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert answer.status_code == 302


def test_session_cookie_is_secure_outside_tests(app: Flask, db: Database) -> None:
    add_operator(db, "sheng")
    app.testing = False
    client = app.test_client()
    answer = login(client, "sheng")
    cookie = answer.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_new_password_ends_other_sessions(app: Flask, db: Database) -> None:
    add_operator(db, "sheng")
    first, second = app.test_client(), app.test_client()
    assert login(first, "sheng").status_code == 302
    assert login(second, "sheng").status_code == 302
    token = csrf_token(first, "/console/account")
    answer = first.post(
        "/console/account",
        data={
            "csrf_token": token,
            "what": "password",
            "pw-current": PASSWORD,
            "pw-new": "Another-passw0rd",
            "pw-confirm": "Another-passw0rd",
        },
    )
    assert answer.status_code == 302
    assert first.get("/console/").status_code == 200
    assert second.get("/console/").status_code == 302
    assert login(second, "sheng", "Another-passw0rd").status_code == 302


def test_disabled_operator_is_logged_out(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, db: Database
) -> None:
    add_operator(db, "sheng")
    assert login(client, "sheng").status_code == 302
    assert runner.invoke(args=["operator", "disable", "sheng"]).exit_code == 0
    assert client.get("/console/").status_code == 302
    assert login(client, "sheng").status_code == 401
