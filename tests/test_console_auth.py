"""Console accounts: the operator CLI, login and logout, CSRF, login throttling, sessions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from config import Settings
from extensions import close_extensions
from infra.db import Database
from models.operator import AuditEntry, Operator
from services.operators import LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_IP
from tests.test_console_support import PASSWORD, add_operator, csrf_token, login
from tests.test_settings import REAL as REAL_ENV


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
    for _ in range(5):  # a made-up name answers the same way: no hint which names exist
        assert "用户名或密码错误" in login(client, "nobody", "wrong-1").get_data(as_text=True)
    assert "登录失败次数过多" in login(client, "nobody", "wrong-1").get_data(as_text=True)
    add_operator(db, "other")
    assert login(client, "other").status_code == 302  # another account is not affected


def login_from(client: FlaskClient, address: str, username: str, password: str = PASSWORD) -> Any:
    token = csrf_token(client, "/console/login")
    return client.post(
        "/console/login",
        data={"csrf_token": token, "username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failures_on_other_names_never_block_a_correct_password(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    add_operator(db, "sheng")
    for n in range(LOGIN_FAILURES_PER_IP):  # one attacker behind the shared address
        assert login(client, f"guess{n}", "wrong-password-1").status_code == 401
    unknown = login(client, "guess-again", "wrong-password-1")
    assert "登录失败次数过多" in unknown.get_data(as_text=True)
    # A real account's wrong password now gets the same answer: no hint the name exists.
    wrong = login(client, "sheng", "wrong-password-1")
    assert "登录失败次数过多" in wrong.get_data(as_text=True)
    assert login(client, "sheng").status_code == 302


def test_an_account_is_throttled_per_address(app: Flask, db: Database) -> None:
    add_operator(db, "sheng")
    attacker, operator = app.test_client(), app.test_client()
    for _ in range(LOGIN_FAILURES_PER_ACCOUNT):
        assert login_from(attacker, "10.9.9.9", "sheng", "wrong-password-1").status_code == 401
    blocked = login_from(attacker, "10.9.9.9", "sheng")
    assert "登录失败次数过多" in blocked.get_data(as_text=True)
    assert login_from(operator, "10.1.2.3", "sheng").status_code == 302


@pytest.fixture(params=["1", "127.0.0.1"])
def proxied_app(
    request: pytest.FixtureRequest, settings: Settings, db: Database
) -> Iterator[Flask]:
    """Behind one reverse proxy (nginx on this host): TRUSTED_PROXIES=1 or =127.0.0.1."""
    from app import create_app

    trust = Settings.from_env({**REAL_ENV, "TRUSTED_PROXIES": request.param}, load_dotenv=False)
    application = create_app(
        settings.with_overrides(
            trusted_proxies=trust.trusted_proxies,
            trusted_proxy_networks=trust.trusted_proxy_networks,
        )
    )
    application.config["TESTING"] = True
    yield application
    close_extensions(application)


def login_via_proxy(client: FlaskClient, forwarded_for: str, password: str) -> Any:
    """Every request reaches the app from nginx's address; the client's is in X-Forwarded-For."""
    token = csrf_token(client, "/console/login")
    return client.post(
        "/console/login",
        data={"csrf_token": token, "username": "sheng", "password": password},
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(
    proxied_app: Flask, db: Database
) -> None:
    add_operator(db, "sheng")
    attacker, operator = proxied_app.test_client(), proxied_app.test_client()
    for _ in range(LOGIN_FAILURES_PER_ACCOUNT):
        assert login_via_proxy(attacker, "203.0.113.7", "wrong-password-1").status_code == 401
    blocked = login_via_proxy(attacker, "203.0.113.7", PASSWORD)
    assert "登录失败次数过多" in blocked.get_data(as_text=True)
    assert login_via_proxy(operator, "198.51.100.2", PASSWORD).status_code == 302
    with db.Session() as session:
        addresses = set(session.scalars(select(AuditEntry.ip)))
    assert addresses == {"203.0.113.7", "198.51.100.2"}


def test_a_forwarded_for_from_anyone_but_the_proxy_is_ignored(
    proxied_app: Flask, db: Database
) -> None:
    add_operator(db, "sheng")
    client = proxied_app.test_client()
    token = csrf_token(client, "/console/login")
    client.post(
        "/console/login",
        data={"csrf_token": token, "username": "sheng", "password": "wrong-password-1"},
        headers={"X-Forwarded-For": "192.0.2.1"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    settings = proxied_app.extensions["settings"]
    direct = proxied_app.test_client()  # reaches the app around nginx, with a forged header
    token = csrf_token(direct, "/console/login")
    direct.post(
        "/console/login",
        data={"csrf_token": token, "username": "sheng", "password": "wrong-password-1"},
        headers={"X-Forwarded-For": "192.0.2.2"},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    with db.Session() as session:
        addresses = list(session.scalars(select(AuditEntry.ip).order_by(AuditEntry.id)))
    if settings.trusted_proxy_networks:  # named proxies: only 127.0.0.1 may say who the client is
        assert addresses == ["192.0.2.1", "10.9.9.9"]
    else:  # a number of hops: whoever connects is taken to be the proxy
        assert addresses == ["192.0.2.1", "192.0.2.2"]


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(
    client: FlaskClient, db: Database
) -> None:
    add_operator(db, "sheng")
    for n in range(LOGIN_FAILURES_PER_ACCOUNT):  # a new made-up address every time
        login_via_proxy(client, f"192.0.2.{n + 1}", "wrong-password-1")
    blocked = login_via_proxy(client, "192.0.2.99", PASSWORD)
    assert "登录失败次数过多" in blocked.get_data(as_text=True)


def test_look_alike_names_are_one_account_with_one_throttle(
    client: FlaskClient, runner: FlaskCliRunner, db: Database
) -> None:
    created = runner.invoke(
        args=["operator", "create", "ＱＹＯＰ", "--role", "province", "--password", PASSWORD]
    )
    assert created.exit_code == 0, created.output
    with db.Session() as session:
        assert list(session.scalars(select(Operator.username))) == ["qyop"]
    again = runner.invoke(
        args=["operator", "create", "Qyop", "--role", "province", "--password", PASSWORD]
    )
    assert again.exit_code == 1 and "已存在" in again.output

    variants = ["qyop", "ｑｙｏｐ", "QYOP", "Qyop", "ＱＹＯＰ"]
    assert len(variants) == LOGIN_FAILURES_PER_ACCOUNT
    for variant in variants:
        assert login(client, variant, "wrong-password-1").status_code == 401
    blocked = login(client, "qYoP")  # the right password, under yet another spelling
    assert "登录失败次数过多" in blocked.get_data(as_text=True)
    # An accented look-alike is another (unknown) name, not a fresh set of guesses at qyop.
    assert "用户名或密码错误" in login(client, "qyöp").get_data(as_text=True)


def test_a_look_alike_spelling_logs_in_to_the_account(client: FlaskClient, db: Database) -> None:
    add_operator(db, "qyop")
    assert login(client, "ＱＹＯＰ").status_code == 302
    assert client.get("/console/").status_code == 200


def test_a_copied_cookie_stops_working_after_logout(app: Flask, db: Database) -> None:
    add_operator(db, "sheng")
    operator = app.test_client()
    assert login(operator, "sheng").status_code == 302
    cookie = operator.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/console/").status_code == 200  # the copy works while the login lasts

    operator.post("/console/logout", data={"csrf_token": csrf_token(operator, "/console/")})
    assert thief.get("/console/").status_code == 302
    assert operator.get("/console/").status_code == 302


def test_a_copied_cookie_stops_working_after_a_password_change(app: Flask, db: Database) -> None:
    add_operator(db, "sheng")
    operator = app.test_client()
    assert login(operator, "sheng").status_code == 302
    cookie = operator.get_cookie("session")
    assert cookie is not None
    token = csrf_token(operator, "/console/account")
    changed = operator.post(
        "/console/account",
        data={
            "csrf_token": token,
            "what": "password",
            "pw-current": PASSWORD,
            "pw-new": "Another-passw0rd",
            "pw-confirm": "Another-passw0rd",
        },
    )
    assert changed.status_code == 302
    assert operator.get("/console/").status_code == 200
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/console/").status_code == 302


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
