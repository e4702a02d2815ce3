"""Getting in and out: the one-time link from chat, WeChat's silent web authorisation
(OAuth2 snsapi_base) inside WeChat, logout; and the home page listing the admin's teams."""

from __future__ import annotations

import secrets

from flask import redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from console.team.blueprint import (
    SESSION_KEY,
    bp,
    client_ip,
    in_wechat,
    logins,
    services,
    who,
)
from console.team.errors import page
from models.team import MEMBERSHIP_JOINED, MEMBERSHIP_PENDING
from services import team_console, teams
from services.team_console import TeamAdminUser
from services.teams.tree_pages import membership_counts
from wechat.errors import WeChatAPIError

STATE_KEY = "team_oauth_state"
NEXT_KEY = "team_next"
HOW_TO_GET_IN = (
    "请先登录",
    "请在微信中打开公众号，点击「组织 → 我的队伍」，回复「管理后台」获取登录链接。",
)
USED_LINK = (
    "链接已失效",
    "登录链接只能使用一次，且5分钟内有效。请在公众号中回复「管理后台」获取新链接。",
)
NOT_ADMIN = ("无权访问", "您目前不是任何队伍的管理员，不能使用队伍管理后台。")


def not_logged_in() -> ResponseReturnValue:
    """Inside WeChat, ask WeChat who this is (no click needed); elsewhere, explain."""
    if not in_wechat() or request.method != "GET":
        return page(401, HOW_TO_GET_IN)
    state = secrets.token_urlsafe(16)
    session[STATE_KEY] = state
    session[NEXT_KEY] = request.full_path.rstrip("?")
    back = services().settings.public_base_url.rstrip("/") + url_for("team.oauth_return")
    return redirect(services().api.oauth_authorize_url(back, state))


def removed() -> ResponseReturnValue:
    return page(403, NOT_ADMIN)


def _log_in(openid: str) -> ResponseReturnValue:
    svc = services()
    with svc.db.Session.begin() as db_session:
        admin = team_console.admin_user(db_session, openid)
        if admin is None:
            return page(403, NOT_ADMIN)
        _audit_login(db_session, admin)
    session_id = logins().open(openid)
    session.pop(STATE_KEY, None)
    target = _safe_next(session.pop(NEXT_KEY, None))
    session[SESSION_KEY] = session_id
    session.permanent = True
    return redirect(target)


def _audit_login(db_session: object, admin: TeamAdminUser) -> None:
    from sqlalchemy.orm import Session

    assert isinstance(db_session, Session)
    team = teams.get(db_session, admin.admin_team_ids[0])
    team_console.record(db_session, admin, team, "login", "登录队伍管理后台", ip=client_ip())


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/team/") and not target.startswith("//"):
        return target
    return url_for("team.home")


@bp.get("/login/<token>")
def login_link(token: str) -> ResponseReturnValue:
    openid = logins().consume_link(token)
    if openid is None:
        return page(403, USED_LINK)
    session.pop(NEXT_KEY, None)
    return _log_in(openid)


@bp.get("/oauth")
def oauth_return() -> ResponseReturnValue:
    expected = session.pop(STATE_KEY, None)
    code = request.args.get("code", "")
    if not expected or request.args.get("state") != expected or not code:
        return page(400, HOW_TO_GET_IN)
    try:
        openid = services().api.oauth_openid(code)
    except WeChatAPIError:
        return page(400, ("授权失败", "微信授权未成功，请返回公众号重新打开。"))
    return _log_in(openid)


@bp.get("/start")
def start() -> ResponseReturnValue:
    """A public entry point (for a menu link): the home page once logged in."""
    if logins().openid_of(session.get(SESSION_KEY)) is not None:
        return redirect(url_for("team.home"))
    return not_logged_in()


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    admin = who()
    with services().db.Session.begin() as db_session:
        team = teams.get(db_session, admin.admin_team_ids[0])
        team_console.record(db_session, admin, team, "logout", "退出队伍管理后台", ip=client_ip())
    from flask import g

    logins().close(g.team_session_id, admin.openid)
    session.pop(SESSION_KEY, None)
    return page(200, ("已退出", "您已退出队伍管理后台。再次进入请在公众号中回复「管理后台」。"))


@bp.get("/")
def home() -> ResponseReturnValue:
    with services().db.Session() as db_session:
        tree = team_console.managed_teams(db_session, who())
        found = membership_counts(db_session, [team.id for team, _ in tree])
        counts = {team.id: found.get((team.id, MEMBERSHIP_JOINED), 0) for team, _ in tree}
        pending = {team.id: found.get((team.id, MEMBERSHIP_PENDING), 0) for team, _ in tree}
        return render_template("team/home.html", tree=tree, counts=counts, pending=pending)
