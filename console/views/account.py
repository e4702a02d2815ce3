"""Login, logout, and the operator's own account (WeChat binding for test sends, password)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user, logout_user

from console.blueprint import ConsoleUser, bp, client_ip, services, sessions, user
from console.forms import AccountForm, ActionForm, LoginForm, PasswordForm
from domain.errors import ValidationError
from extensions import Services
from infra.ratelimit import LoginThrottle
from models.operator import Operator
from services import operators

BIND_CODE_SECONDS = 600


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if target and target.startswith("/console") and not urlsplit(target).netloc:
        return target
    return url_for("console.dashboard")


def login_throttle(svc: Services) -> LoginThrottle:
    return LoginThrottle(
        svc.settings,
        svc.redis,
        per_account=operators.LOGIN_FAILURES_PER_ACCOUNT,
        per_ip=operators.LOGIN_FAILURES_PER_IP,
        window_minutes=operators.LOGIN_WINDOW_MINUTES,
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    error = None
    next_url = request.args.get("next")
    if form.validate_on_submit():
        svc = services()
        throttle = login_throttle(svc)
        with svc.db.Session.begin() as db_session:
            result = operators.login(
                db_session,
                throttle,
                form.username.data or "",
                form.password.data or "",
                client_ip(),
            )
            who = None
            if result.operator is not None:
                who = ConsoleUser.of(result.operator, sessions().open(result.operator.id))
        if who is None:
            error = result.refusal
        else:
            session.clear()  # a fresh session: nothing from before the login carries over
            session.permanent = True
            login_user(who)
            return redirect(_safe_next(next_url))
    elif request.method == "POST":
        error = "请填写用户名和密码。" if not form.csrf_token.errors else "页面已过期，请重新登录。"
    return render_template("console/login.html", form=form, error=error, next=next_url), (
        401 if error else 200
    )


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    with services().db.Session.begin() as db_session:
        operators.audit(db_session, user(), "logout", summary="退出登录", ip=client_ip())
    sessions().close(user().session_id, user().id)
    logout_user()
    session.clear()
    flash("已退出登录。")
    return redirect(url_for("console.login"))


@bp.route("/account", methods=["GET", "POST"])
def account() -> ResponseReturnValue:
    form, password_form = AccountForm(prefix="acct"), PasswordForm(prefix="pw")
    svc = services()
    if request.method == "POST" and request.form.get("what") == "password":
        if password_form.validate_on_submit():
            try:
                with svc.db.Session.begin() as db_session:
                    operator = db_session.get(Operator, user().id)
                    assert operator is not None
                    if not operators.verify_password(operator, password_form.current.data or ""):
                        raise ValidationError("当前密码不正确。")
                    operators.set_password(operator, password_form.new.data or "")
                    operators.audit(
                        db_session,
                        user(),
                        "password_change",
                        summary="修改密码",
                        target=operator,
                        ip=client_ip(),
                    )
                    registry = sessions()
                    registry.close_all(operator.id)  # every login, on every device
                    fresh = ConsoleUser.of(operator, registry.open(operator.id))
            except ValidationError as exc:
                flash(exc.hint, "error")
            else:
                login_user(fresh)  # a new session here; the others have ended
                flash("密码已修改，其他设备上的登录已失效。")
                return redirect(url_for("console.account"))
    elif request.method == "POST" and request.form.get("what") == "openid":
        if form.validate_on_submit():
            try:
                with svc.db.Session.begin() as db_session:
                    operator = db_session.get(Operator, user().id)
                    assert operator is not None
                    operators.set_openid(operator, form.openid.data)
                    operators.audit(
                        db_session,
                        user(),
                        "openid_set",
                        summary="设置接收测试消息的 openid",
                        target=operator,
                        ip=client_ip(),
                    )
            except ValidationError as exc:
                flash(exc.hint, "error")
            else:
                flash("已保存。")
                return redirect(url_for("console.account"))
    else:
        form.openid.data = user().openid
    return render_template(
        "console/account.html",
        form=form,
        password_form=password_form,
        bind_form=ActionForm(prefix="bind"),
    )


@bp.post("/account/bind-code")
def account_bind_code() -> ResponseReturnValue:
    """A one-time code to send to the account in WeChat, which links the sender's openid."""
    svc = services()
    code = f"{secrets.randbelow(10**6):06d}"
    svc.redis.set(svc.keys.operator_bind(code), str(user().id), ex=BIND_CODE_SECONDS)
    flash(f"请在{BIND_CODE_SECONDS // 60}分钟内用微信向公众号发送「绑定 {code}」。")
    return redirect(url_for("console.account"))
